"""Training actions on several devices: `n_devices`.

A QIIME 2 action cannot be started under torchrun, so with n_devices > 1 it
starts the processes itself through torch's launcher API (what torchrun
runs), one per device of this machine, and takes rank 0's model back:
NCCL processes on GPUs, or gloo processes on CPUs when there is no GPU (or
device='cpu'), which share the CPU threads between them.
"""
import contextlib
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from aam_core.errors import AAMInputError
from aam_core.spelling import spelled
from aam_core.threads import resolve_threads


def on_devices(n_devices: int, function, *args, train, n_samples: int, **kwargs):
    """function(*args, train=train, **kwargs), on n_devices processes when > 1;
    `n_samples`: how many the table gives, to refuse too many processes
    before they start (each process checks its own share again)."""
    if n_devices <= 1:
        return function(*args, train=train, **kwargs)
    import torch
    from aam_core.bundle import ModelBundle
    from aam_core.train.distributed import Distributed, launch_local
    Distributed(world_size=n_devices).check_batches(train.batch_size, n_samples)
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
        if 0 < train.n_threads < n_devices:
            raise AAMInputError(
                f'{spelled("n_devices", n_devices)} starts {n_devices} CPU processes '
                f'that share {spelled("n_threads", train.n_threads)}, and each needs '
                f'a thread of its own. Raise {spelled("n_threads")} to {n_devices} or '
                f'more, set it to 0 (the CPUs this job may use), or lower '
                f'{spelled("n_devices")}.')
        threads = resolve_threads(train.n_threads)
        train = replace(train, device='cpu',
                        n_threads=max(1, threads // n_devices))
    _check_main_guard(n_devices)
    with tempfile.TemporaryDirectory(prefix='q2-aam-') as folder, _unreadable_main():
        launch_local(n_devices, _worker, folder, function, args,
                     {**kwargs, 'train': train}, folder=folder)
        return ModelBundle.load(Path(folder) / 'model')


@contextlib.contextmanager
def _unreadable_main():
    """A script read from standard input (`python - < script`) names its
    __main__ '<stdin>', which each spawned process would try to re-run as a
    file, die, and leave the launch waiting. The processes need nothing from
    it (their work is q2-aam's), so they start as under `python -c`."""
    main = sys.modules['__main__']
    path = getattr(main, '__file__', None)
    hidden = path is not None and getattr(main, '__spec__', None) is None and \
        not Path(path).is_file()
    if hidden:
        del main.__file__
    try:
        yield
    finally:
        if hidden:
            main.__file__ = path


def _check_main_guard(n_devices: int) -> None:
    """Each process re-runs the calling script (Python's spawn start
    method): a call at its top level, outside `if __name__ == "__main__":`,
    would start processes again in each, and the launch would never end."""
    line = _unguarded_line()
    if line is not None:
        script = sys.modules['__main__'].__file__
        raise AAMInputError(
            f'{spelled("n_devices", n_devices)} starts {n_devices} processes, and each '
            f're-runs {script}, whose line {line} calls q2-aam outside '
            '`if __name__ == "__main__":`; every process would start processes '
            'again. Put the script\'s work under that guard.')


def _unguarded_line():
    """The line of the __main__ script that is running this call at its
    top level outside a `__name__ == "__main__"` test, or None."""
    import ast
    import inspect
    path = getattr(sys.modules['__main__'], '__file__', None)
    frame, line = inspect.currentframe(), None
    while frame is not None:  # the outermost of the script's top-level frames
        if frame.f_globals.get('__name__') == '__main__' and \
                frame.f_code.co_name == '<module>':
            line = frame.f_lineno
        frame = frame.f_back
    if line is None or not path or not Path(path).is_file():
        return None  # an interactive session or `python -c`: nothing re-runs
    try:
        tree = ast.parse(Path(path).read_text())
    except (SyntaxError, ValueError, OSError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and node.lineno <= line <= node.end_lineno:
            test = ast.unparse(node.test)
            if '__name__' in test and '__main__' in test:
                return None
    return line


def _worker(folder: str, function, args: tuple, kwargs: dict) -> None:
    """One process of the group: train, and rank 0 writes the model."""
    from aam_core.train.distributed import init_from_environment, shutdown
    from aam_core.train.loop import log_to_stderr, silent
    dist = init_from_environment('ddp', kwargs['train'].device)
    try:
        bundle = function(*args, **kwargs, log=log_to_stderr if dist.is_main
                          else silent)
        if dist.is_main:
            bundle.config['training']['distributed'] = {
                'world_size': dist.world_size, 'strategy': dist.strategy,
                'backend': dist.backend}
            bundle.save(Path(folder) / 'model')
        dist.barrier()
    finally:
        shutdown(dist)
