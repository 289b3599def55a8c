"""Small data made in code, and models trained once per test session."""
import hashlib
import json

import pandas as pd
import pytest
import qiime2
import skbio
from biom import Table

from q2_aam import _examples

TINY = {'preset': 'tiny', 'epochs': 1, 'batch_size': 8}


def fake_config(kind='encoder', **changes):
    """A config.json of an untrained tiny network (fake_bundle's weights),
    that passes validation, without training anything."""
    from aam_core.config import PRESETS, DataConfig
    config = {
        'format_version': 1, 'kind': kind,
        'architecture': PRESETS['tiny'].to_dict(),
        'data': DataConfig(max_length=150).to_dict(), 'training': {}, 'seed': 0,
        'device': 'cpu', 'vocabulary': {'PAD': 0}, 'target': None,
        'class_labels': None, 'conditioning': None,
        'versions': {'aam_core': 'test'}}
    if kind == 'regressor':
        config['target'] = {'name': 'age', 'method': 'zscore', 'shift': 0.0,
                            'scale': 1.0}
    config.update(changes)
    return config


@pytest.fixture
def fake_bundle():
    import torch
    from aam_core.bundle import ModelBundle
    from aam_core.config import PRESETS
    from aam_core.model import AAM
    torch.manual_seed(0)
    history = pd.DataFrame({'epoch': [1, 2], 'train_loss': [2.0, 1.5]})
    return ModelBundle(fake_config(), AAM(PRESETS['tiny']).state_dict(),
                       history)


@pytest.fixture
def model_dir(tmp_path, fake_bundle):
    fake_bundle.save(tmp_path / 'model')
    return tmp_path / 'model'


@pytest.fixture(scope='session')
def table():
    return _examples.table_factory()


@pytest.fixture(scope='session')
def distances():
    return _examples.distance_matrix_factory()


@pytest.fixture(scope='session')
def metadata():
    return _examples.metadata_factory()


@pytest.fixture(scope='session')
def hashed():
    """The example table with md5 feature ids, and their sequences."""
    biom_table = _examples.table_factory().view(Table)
    dna = list(biom_table.ids(axis='observation'))
    md5 = [hashlib.md5(s.encode()).hexdigest() for s in dna]
    table = Table(biom_table.matrix_data, md5, list(biom_table.ids()))
    sequences = pd.Series(dna, index=pd.Index(md5, name='Feature ID'))
    sequences = sequences.map(skbio.DNA)
    return (qiime2.Artifact.import_data('FeatureTable[Frequency]', table),
            qiime2.Artifact.import_data('FeatureData[Sequence]', sequences))


@pytest.fixture(scope='session')
def encoder(table, distances):
    from qiime2.plugins import aam
    return aam.methods.pretrain(table=table, distance_matrix=distances,
                                **TINY).model


@pytest.fixture(scope='session')
def regressor(table, metadata, encoder):
    from qiime2.plugins import aam
    return aam.methods.fit_regressor(
        table=table, metadata=metadata.get_column('age'),
        pretrained_model=encoder, **TINY).model


def write_json(path, value):
    path.write_text(json.dumps(value))
