"""Training actions on several devices: `n_devices`.

A QIIME 2 action cannot be started under torchrun, so with n_devices > 1 it
starts the processes itself through torch's launcher API (what torchrun
runs), one per device of this machine, and takes rank 0's model back:
NCCL processes on GPUs, or gloo processes on CPUs when there is no GPU (or
device='cpu'), which share the CPU threads between them.
"""
import tempfile
from dataclasses import replace
from pathlib import Path

from aam_core.errors import AAMInputError
from aam_core.spelling import spelled
from aam_core.threads import resolve_threads


def on_devices(n_devices: int, function, *args, train, **kwargs):
    """function(*args, train=train, **kwargs), on n_devices processes when > 1."""
    if n_devices <= 1:
        return function(*args, train=train, **kwargs)
    import torch
    from aam_core.bundle import ModelBundle
    from aam_core.train.distributed import launch_local
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if train.device == 'cuda' or (train.device == 'auto' and gpus):
        if gpus < n_devices:
            raise AAMInputError(
                f'{spelled("n_devices", n_devices)} asks for {n_devices} GPUs, but '
                f'{gpus} {"is" if gpus == 1 else "are"} visible. Lower '
                f'{spelled("n_devices")}, or train on CPU processes with '
                f'{spelled("device", "cpu")}.')
        train = replace(train, device='cuda')
    else:
        # CPU processes: split the threads, never oversubscribe the cores
        threads = resolve_threads(train.n_threads)
        train = replace(train, device='cpu',
                        n_threads=max(1, threads // n_devices))
    with tempfile.TemporaryDirectory(prefix='q2-aam-') as folder:
        launch_local(n_devices, _worker, folder, function, args,
                     {**kwargs, 'train': train}, folder=folder)
        return ModelBundle.load(Path(folder) / 'model')


def _worker(folder: str, function, args: tuple, kwargs: dict) -> None:
    """One process of the group: train, and rank 0 writes the model."""
    from aam_core.train.distributed import init_from_environment, shutdown
    from aam_core.train.loop import log_to_stderr
    dist = init_from_environment('ddp', kwargs['train'].device)
    try:
        bundle = function(*args, **kwargs, log=log_to_stderr if dist.is_main
                          else _silent)
        if dist.is_main:
            bundle.config['training']['distributed'] = {
                'world_size': dist.world_size, 'strategy': dist.strategy,
                'backend': dist.backend}
            bundle.save(Path(folder) / 'model')
        dist.barrier()
    finally:
        shutdown(dist)


def _silent(message: str) -> None:
    """The log of processes other than rank 0."""
