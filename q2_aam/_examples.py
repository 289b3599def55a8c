"""Usage examples on small data made in code (they run in the tests)."""
import numpy as np
import pandas as pd
import qiime2
import skbio
from biom import Table
from scipy.spatial.distance import pdist, squareform

_N_SAMPLES, _N_ASVS = 16, 10


def _rng():
    return np.random.default_rng(0)


def _asvs():
    rng = _rng()
    return [''.join(rng.choice(list('ACGT'), size=int(rng.integers(20, 41))))
            for _ in range(_N_ASVS)]


def _counts():
    return _rng().poisson(5, size=(_N_ASVS, _N_SAMPLES))


def _sample_ids():
    return [f'S{i:02d}' for i in range(_N_SAMPLES)]


def table_factory():
    """Feature ids are the ASV sequences themselves, as in Deblur output."""
    table = Table(_counts(), _asvs(), _sample_ids())
    return qiime2.Artifact.import_data('FeatureTable[Frequency]', table)


def distance_matrix_factory():
    profiles = _counts().T / _counts().sum(axis=0)[:, None]
    distances = squareform(pdist(profiles, 'braycurtis'))
    return qiime2.Artifact.import_data(
        'DistanceMatrix', skbio.DistanceMatrix(distances, _sample_ids()))


def metadata_factory():
    age = pd.Series(np.linspace(1, 80, _N_SAMPLES), name='age',
                    index=pd.Index(_sample_ids(), name='sample-id'))
    return qiime2.Metadata(age.to_frame())


_FAST = {'preset': 'tiny', 'epochs': 1, 'batch_size': 8}


def _fit(use):
    table = use.init_artifact('table', table_factory)
    metadata = use.init_metadata('metadata', metadata_factory)
    age = use.get_metadata_column('age', 'age', metadata)
    model, = use.action(
        use.UsageAction(plugin_id='aam', action_id='fit_regressor'),
        use.UsageInputs(table=table, metadata=age, **_FAST),
        use.UsageOutputNames(model='regressor'))
    return table, model


def pretrain(use):
    table = use.init_artifact('table', table_factory)
    distances = use.init_artifact('unifrac_distances',
                                  distance_matrix_factory)
    encoder, = use.action(
        use.UsageAction(plugin_id='aam', action_id='pretrain'),
        use.UsageInputs(table=table, distance_matrix=distances, **_FAST),
        use.UsageOutputNames(model='encoder'))
    encoder.assert_output_type('AAMModel[AAMEncoder]')


def fit_regressor(use):
    _, model = _fit(use)
    model.assert_output_type('AAMModel[AAMRegressor]')


def predict_regression(use):
    table, model = _fit(use)
    predictions, = use.action(
        use.UsageAction(plugin_id='aam', action_id='predict_regression'),
        use.UsageInputs(table=table, model=model),
        use.UsageOutputNames(predictions='predictions'))
    predictions.assert_output_type('SampleData[RegressorPredictions]')
