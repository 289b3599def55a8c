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


def embed(use):
    table, model = _fit(use)
    embeddings, distances = use.action(
        use.UsageAction(plugin_id='aam', action_id='embed'),
        use.UsageInputs(table=table, model=model),
        use.UsageOutputNames(embeddings='embeddings',
                             distance_matrix='embedding_distances'))
    embeddings.assert_output_type('PCoAResults')
    distances.assert_output_type('DistanceMatrix')


def feature_importance(use):
    table, model = _fit(use)
    importance, = use.action(
        use.UsageAction(plugin_id='aam', action_id='feature_importance'),
        use.UsageInputs(table=table, model=model),
        use.UsageOutputNames(importance='importance'))
    importance.assert_output_type('FeatureData[Importance]')


def summarize(use):
    _, model = _fit(use)
    use.action(
        use.UsageAction(plugin_id='aam', action_id='summarize'),
        use.UsageInputs(model=model),
        use.UsageOutputNames(visualization='model_summary'))


_PIPELINE_OUTPUTS = {'model': 'model', 'feature_importance': 'importance',
                     'predictions': 'test_predictions',
                     'model_summary': 'model_summary',
                     'accuracy_results': 'accuracy_results'}


def regress_samples(use):
    table = use.init_artifact('table', table_factory)
    distances = use.init_artifact('unifrac_distances',
                                  distance_matrix_factory)
    metadata = use.init_metadata('metadata', metadata_factory)
    age = use.get_metadata_column('age', 'age', metadata)
    outputs = use.action(
        use.UsageAction(plugin_id='aam', action_id='regress_samples'),
        use.UsageInputs(table=table, metadata=age, distance_matrix=distances,
                        test_size=0.25, pretrain_epochs=1, **_FAST),
        use.UsageOutputNames(**_PIPELINE_OUTPUTS))
    outputs.model.assert_output_type('AAMModel[AAMRegressor]')
    outputs.predictions.assert_output_type('SampleData[RegressorPredictions]')


# -- fine-tuning options and classifiers (issue 3) ----------------------------

def sample_metadata_factory():
    """Age, a sampling site and a health label for the example samples."""
    ids = pd.Index(_sample_ids(), name='sample-id')
    site = ['gum' if i % 2 else 'tongue' for i in range(_N_SAMPLES)]
    label = ['healthy' if i % 4 < 2 else 'caries' for i in range(_N_SAMPLES)]
    return qiime2.Metadata(pd.DataFrame(
        {'age': np.linspace(1, 80, _N_SAMPLES), 'site': site,
         'label': label}, index=ids))


def site_metadata_factory():
    """Only the conditioning column: conditioning uses every column given."""
    return qiime2.Metadata(sample_metadata_factory().to_dataframe()[['site']])


def fit_regressor_conditioned(use):
    table = use.init_artifact('table', table_factory)
    metadata = use.init_metadata('sample_metadata', sample_metadata_factory)
    age = use.get_metadata_column('age', 'age', metadata)
    site = use.init_metadata('site', site_metadata_factory)
    model, = use.action(
        use.UsageAction(plugin_id='aam', action_id='fit_regressor'),
        use.UsageInputs(table=table, metadata=age, conditioning=site,
                        fusion='film', loss='quantile', **_FAST),
        use.UsageOutputNames(model='conditioned_regressor'))
    model.assert_output_type('AAMModel[AAMRegressor]')


def predict_regression_interval(use):
    table = use.init_artifact('table', table_factory)
    metadata = use.init_metadata('metadata', metadata_factory)
    age = use.get_metadata_column('age', 'age', metadata)
    model, = use.action(
        use.UsageAction(plugin_id='aam', action_id='fit_regressor'),
        use.UsageInputs(table=table, metadata=age, loss='quantile',
                        quantiles=[0.1, 0.5, 0.9], **_FAST),
        use.UsageOutputNames(model='quantile_regressor'))
    median, lower, upper = use.action(
        use.UsageAction(plugin_id='aam',
                        action_id='predict_regression_interval'),
        use.UsageInputs(table=table, model=model),
        use.UsageOutputNames(predictions='median', lower='lower',
                             upper='upper'))
    lower.assert_output_type('SampleData[RegressorPredictions]')


def _fit_classifier(use):
    table = use.init_artifact('table', table_factory)
    metadata = use.init_metadata('sample_metadata', sample_metadata_factory)
    label = use.get_metadata_column('label', 'label', metadata)
    model, = use.action(
        use.UsageAction(plugin_id='aam', action_id='fit_classifier'),
        use.UsageInputs(table=table, metadata=label,
                        class_weight='balanced', **_FAST),
        use.UsageOutputNames(model='classifier'))
    return table, model


def fit_classifier(use):
    _, model = _fit_classifier(use)
    model.assert_output_type('AAMModel[AAMClassifier]')


def predict_classification(use):
    table, model = _fit_classifier(use)
    predictions, probabilities = use.action(
        use.UsageAction(plugin_id='aam', action_id='predict_classification'),
        use.UsageInputs(table=table, model=model),
        use.UsageOutputNames(predictions='predictions',
                             probabilities='probabilities'))
    predictions.assert_output_type('SampleData[ClassifierPredictions]')
    probabilities.assert_output_type('SampleData[Probabilities]')


def classify_samples(use):
    table = use.init_artifact('table', table_factory)
    metadata = use.init_metadata('sample_metadata', sample_metadata_factory)
    label = use.get_metadata_column('label', 'label', metadata)
    outputs = use.action(
        use.UsageAction(plugin_id='aam', action_id='classify_samples'),
        use.UsageInputs(table=table, metadata=label, test_size=0.25, **_FAST),
        use.UsageOutputNames(probabilities='test_probabilities',
                             **_PIPELINE_OUTPUTS))
    outputs.model.assert_output_type('AAMModel[AAMClassifier]')
    outputs.predictions.assert_output_type(
        'SampleData[ClassifierPredictions]')
