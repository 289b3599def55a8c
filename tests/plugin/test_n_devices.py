"""n_devices: training actions start their own torch.distributed processes."""
import tempfile
from pathlib import Path

import pytest
import torch
from qiime2.plugins import aam

from aam_core.bundle import ModelBundle
from aam_core.errors import AAMInputError

from .conftest import TINY


def test_pretrain_on_two_cpu_processes(table, distances):
    model = aam.methods.pretrain(table=table, distance_matrix=distances,
                                 device='cpu', n_devices=2, **TINY).model
    config = model.view(ModelBundle).config
    assert config['training']['distributed'] == {
        'world_size': 2, 'strategy': 'ddp', 'backend': 'gloo'}
    assert config['training']['n_threads'] >= 1  # threads shared, not multiplied


@pytest.mark.skipif(torch.cuda.device_count() >= 2, reason='this machine has the GPUs')
def test_more_gpus_than_visible_is_a_clear_error(table, distances):
    with pytest.raises(AAMInputError, match='asks for 2 GPUs'):
        aam.methods.pretrain(table=table, distance_matrix=distances,
                             device='cuda', n_devices=2, **TINY)


def test_a_process_input_error_is_the_one_line_message(table, distances):
    # the same message as in one process, and torchelastic leaves no
    # temporary folders behind
    before = set(Path(tempfile.gettempdir()).glob('torchelastic_*'))
    with pytest.raises(AAMInputError, match=r'longer than 20 nt') as raised:
        aam.methods.pretrain(table=table, distance_matrix=distances, max_length=20,
                             device='cpu', n_devices=2, **TINY)
    assert '\n' not in str(raised.value)
    assert set(Path(tempfile.gettempdir()).glob('torchelastic_*')) == before


def test_fewer_threads_than_cpu_processes_is_a_clear_error(table, distances):
    """Two processes took one thread each, two in all, where one was asked for."""
    with pytest.raises(AAMInputError, match='n_devices=2 starts 2 CPU processes that '
                                            'share n_threads=1'):
        aam.methods.pretrain(table=table, distance_matrix=distances,
                             **{**TINY, 'n_threads': 1}, device='cpu', n_devices=2)
