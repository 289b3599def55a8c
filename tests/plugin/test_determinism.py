"""Provenance: the same inputs and seed on CPU give the same model weights,
and config.json records the seed and the device actually used."""
import json
import zipfile

import pytest
from qiime2.plugins import aam

from aam_core.bundle import ModelBundle

# rarefaction, ASV dropout, shuffling, masking and the validation split all
# draw on the seed
SETTINGS = {'preset': 'tiny', 'epochs': 2, 'batch_size': 8,
            'rarefaction_depth': 20, 'asv_dropout': 0.2, 'device': 'cpu'}


def weights(artifact):
    return artifact.view(ModelBundle).state_dict


def assert_same(first, second):
    assert first.keys() == second.keys()
    for name in first:
        assert first[name].equal(second[name]), name


@pytest.fixture(scope='module')
def pretrained_twice(table, distances):
    return [aam.methods.pretrain(table=table, distance_matrix=distances,
                                 random_state=7, **SETTINGS).model
            for _ in range(2)]


def test_pretrain_is_reproducible(pretrained_twice):
    first, second = pretrained_twice
    assert_same(weights(first), weights(second))
    assert (first.view(ModelBundle).history.drop(columns='seconds').equals(
        second.view(ModelBundle).history.drop(columns='seconds')))


def test_fit_regressor_is_reproducible(table, metadata, pretrained_twice):
    models = [aam.methods.fit_regressor(
        table=table, metadata=metadata.get_column('age'),
        pretrained_model=pretrained_twice[0], random_state=3,
        **SETTINGS).model for _ in range(2)]
    assert_same(weights(models[0]), weights(models[1]))


def test_another_seed_gives_other_weights(table, distances, pretrained_twice):
    other, = aam.methods.pretrain(table=table, distance_matrix=distances,
                                  random_state=8, **SETTINGS)
    first, second = weights(pretrained_twice[0]), weights(other)
    assert any(not first[name].equal(second[name]) for name in first)


def test_config_records_seed_and_device(tmp_path, pretrained_twice):
    pretrained_twice[0].export_data(str(tmp_path))
    config = json.loads((tmp_path / 'config.json').read_text())
    assert config['seed'] == 7
    assert config['device'] == 'cpu'


def test_provenance_records_every_parameter(tmp_path, pretrained_twice):
    """No parameter is left to an unrecorded default (read from the .qza)."""
    path = tmp_path / 'encoder.qza'
    pretrained_twice[0].save(str(path))
    with zipfile.ZipFile(path) as archive:
        name, = [n for n in archive.namelist()
                 if n.endswith('/provenance/action/action.yaml')]
        recorded = archive.read(name).decode()
    for setting in ('random_state: 7', 'device: cpu', 'n_threads: 0',
                    'rarefaction_depth: 20', 'asv_dropout: 0.2',
                    'preset: tiny'):
        assert setting in recorded, setting
