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


def alpha_diversity_factory():
    """Shannon entropy (log base 2, as `qiime diversity alpha` computes it)."""
    shares = _counts().T / _counts().sum(axis=0)[:, None]
    logs = np.log2(np.where(shares > 0, shares, 1.0))
    shannon = pd.Series(-(shares * logs).sum(axis=1), index=_sample_ids(),
                        name='shannon_entropy')
    return qiime2.Artifact.import_data('SampleData[AlphaDiversity]', shannon)


def metadata_factory():
    age = pd.Series(np.linspace(1, 80, _N_SAMPLES), name='age',
                    index=pd.Index(_sample_ids(), name='sample-id'))
    return qiime2.Metadata(age.to_frame())


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


_FAST = {'preset': 'tiny', 'epochs': 1, 'batch_size': 8}


def _column(use, name: str, factory=sample_metadata_factory,
            metadata_name='sample_metadata'):
    metadata = use.init_metadata(metadata_name, factory)
    return use.get_metadata_column(name, name, metadata)


def _run(use, action_id: str, inputs: dict, outputs: dict):
    """Run an aam action; `outputs`: output -> (variable name, the semantic
    type it must have, or None)."""
    results = use.action(
        use.UsageAction(plugin_id='aam', action_id=action_id),
        use.UsageInputs(**inputs),
        use.UsageOutputNames(**{k: name for k, (name, _) in outputs.items()}))
    for result, (_, semantic_type) in zip(results, outputs.values()):
        if semantic_type:
            result.assert_output_type(semantic_type)
    return results


def _fit(use, action_id='fit_regressor', model_name='regressor', **options):
    """(table, fitted model): a regressor of age, or as `action_id` says."""
    table = use.init_artifact('table', table_factory)
    if action_id == 'fit_classifier':
        target = _column(use, 'label')
    else:
        target = _column(use, 'age', metadata_factory, 'metadata')
    model, = _run(use, action_id, dict(table=table, metadata=target, **options,
                                       **_FAST), {'model': (model_name, None)})
    return table, model


def _fit_classifier(use):
    return _fit(use, 'fit_classifier', 'classifier', class_weight='balanced')


def _pretrain(use, distances_name: str = 'unifrac_distances', **inputs):
    """(table, encoder): aam pretrain on the example table and distances,
    with more inputs as named (`inputs`: input name -> (variable, factory))."""
    table = use.init_artifact('table', table_factory)
    distances = use.init_artifact(distances_name, distance_matrix_factory)
    more = {name: use.init_artifact(variable, factory)
            for name, (variable, factory) in inputs.items()}
    encoder, = _run(use, 'pretrain', dict(table=table, distance_matrix=distances, **more,
                                          **_FAST),
                    {'model': ('encoder', 'AAMModel[AAMEncoder]')})
    return table, encoder


def pretrain(use):
    _pretrain(use)


def pretrain_alpha_diversity(use):
    """Any distance matrix (here Bray-Curtis) and an alpha diversity."""
    _pretrain(use, 'braycurtis_distances',
              alpha_diversity=('shannon', alpha_diversity_factory))


def pretrain_taxonomy(use):
    """Distances and a taxonomy: ASV vectors also learn each ASV's lineage
    (ranks with two or more taxa among the table's ASVs)."""
    _pretrain(use, taxonomy=('taxonomy', taxonomy_factory))


def fit_regressor(use):
    _, model = _fit(use)
    model.assert_output_type('AAMModel[AAMRegressor]')


def fit_regressor_ridge(use):
    """The ridge readout: the pretrained encoder stays frozen and the head is
    solved in closed form, in seconds (gradient-training options do not apply)."""
    table, encoder = _pretrain(use)
    target = _column(use, 'age', metadata_factory, 'metadata')
    fast = {k: v for k, v in _FAST.items() if k != 'epochs'}
    _run(use, 'fit_regressor', dict(table=table, metadata=target, pretrained_model=encoder,
                                    readout='ridge', **fast),
         {'model': ('regressor', 'AAMModel[AAMRegressor]')})


def fit_regressor_conditioned(use):
    table = use.init_artifact('table', table_factory)
    site = use.init_metadata('site', site_metadata_factory)
    _run(use, 'fit_regressor',
         dict(table=table, metadata=_column(use, 'age'), conditioning=site,
              fusion='film', loss='quantile', **_FAST),
         {'model': ('conditioned_regressor', 'AAMModel[AAMRegressor]')})


def fit_classifier(use):
    _, model = _fit_classifier(use)
    model.assert_output_type('AAMModel[AAMClassifier]')


def _applied(use, fitted, action_id: str, **outputs):
    table, model = fitted
    return _run(use, action_id, dict(table=table, model=model), outputs)


def predict_regression(use):
    _applied(use, _fit(use), 'predict_regression',
             predictions=('predictions', 'SampleData[RegressorPredictions]'))


def predict_regression_interval(use):
    fitted = _fit(use, model_name='quantile_regressor', loss='quantile',
                  quantiles=[0.1, 0.5, 0.9])
    _applied(use, fitted, 'predict_regression_interval',
             predictions=('median', None),
             lower=('lower', 'SampleData[RegressorPredictions]'),
             upper=('upper', None))


def predict_classification(use):
    _applied(use, _fit_classifier(use), 'predict_classification',
             predictions=('predictions', 'SampleData[ClassifierPredictions]'),
             probabilities=('probabilities', 'SampleData[Probabilities]'))


def embed(use):
    _applied(use, _fit(use), 'embed', embeddings=('embeddings', 'PCoAResults'),
             distance_matrix=('embedding_distances', 'DistanceMatrix'))


def feature_importance(use):
    _applied(use, _fit(use), 'feature_importance',
             importance=('importance', 'FeatureData[Importance]'))


def summarize(use):
    _, model = _fit(use)
    _run(use, 'summarize', dict(model=model),
         {'visualization': ('model_summary', None)})


def _biased_predictions(site: str, bias: float):
    """Predicted ages as q2-sample-classifier writes them (a Series named
    'prediction'), `bias` years off at one site."""
    truth = sample_metadata_factory().to_dataframe()
    offset = np.where(truth['site'] == site, bias, 0.0)
    predicted = pd.Series(truth['age'].to_numpy() + offset + _rng().normal(0, 2, len(truth)),
                          index=truth.index, name='prediction')
    return qiime2.Artifact.import_data('SampleData[RegressorPredictions]', predicted)


def predictions_factory():
    """Predicted ages; the gum samples are predicted too old."""
    return _biased_predictions('gum', 8.0)


def error_analysis(use):
    predictions = use.init_artifact('predictions', predictions_factory)
    metadata = use.init_metadata('sample_metadata', sample_metadata_factory)
    _run(use, 'error_analysis',
         dict(predictions=predictions,
              truth=use.get_metadata_column('age', 'age', metadata),
              metadata=metadata, largest=5),
         {'visualization': ('error_analysis', None)})


def other_predictions_factory():
    """A second model's predicted ages: the tongue samples predicted too
    young, where the first model errs on the gum."""
    return _biased_predictions('tongue', -6.0)


def blend_predictions(use):
    predictions = use.init_artifact('predictions', predictions_factory)
    other = use.init_artifact('other_predictions', other_predictions_factory)
    _run(use, 'blend_predictions',
         dict(predictions=[predictions, other], weights=[1.0, 1.0]),
         {'blended': ('blended_predictions', 'SampleData[RegressorPredictions]')})


def summarize_predictions(use):
    predictions = use.init_artifact('predictions', predictions_factory)
    _run(use, 'summarize_predictions',
         dict(predictions=predictions,
              truth=_column(use, 'age', metadata_factory, 'metadata')),
         {'visualization': ('predictions_summary', None)})


def taxonomy_factory():
    """A made-up Greengenes-style taxonomy of the example ASVs (the last
    one left out, to be labelled by its sequence)."""
    genera = ['Streptococcus', 'Veillonella', 'Prevotella', 'Neisseria', 'Rothia']
    taxa = pd.Series(
        [f'k__Bacteria; p__Firmicutes; g__{genera[i % len(genera)]}; s__'
         for i in range(_N_ASVS - 1)],
        index=pd.Index(_asvs()[:-1], name='Feature ID'), name='Taxon')
    return qiime2.Artifact.import_data('FeatureData[Taxonomy]', taxa)


def attention_map(use):
    table, model = _fit(use)
    taxonomy = use.init_artifact('taxonomy', taxonomy_factory)
    _run(use, 'attention_map',
         dict(model=model, table=table, taxonomy=taxonomy,
              group_by=_column(use, 'site'), top_asvs=5),
         {'visualization': ('attention_map', None)})


_PIPELINE_OUTPUTS = {'model': 'model', 'feature_importance': 'importance',
                     'predictions': 'test_predictions',
                     'model_summary': 'model_summary',
                     'accuracy_results': 'accuracy_results',
                     'encoder': 'encoder',
                     'accuracy_summary': 'accuracy_summary'}


def _on_table(use, action_id: str, inputs: dict, outputs: dict, **types):
    """Run a pipeline on the example table with `inputs` and the fast
    settings; `outputs`: output -> variable name, `types`: output -> the
    semantic type it must have."""
    table = use.init_artifact('table', table_factory)
    _run(use, action_id, dict(table=table, **inputs, **_FAST),
         {output: (name, types.get(output)) for output, name in outputs.items()})


def _pipeline(use, action_id: str, inputs: dict, model_type: str,
              predictions_type: str, **more_outputs):
    _on_table(use, action_id, dict(test_size=0.25, **inputs),
              {**more_outputs, **_PIPELINE_OUTPUTS},
              model=model_type, predictions=predictions_type)


def regress_samples(use):
    distances = use.init_artifact('unifrac_distances', distance_matrix_factory)
    _pipeline(use, 'regress_samples',
              dict(metadata=_column(use, 'age', metadata_factory, 'metadata'),
                   distance_matrix=distances, pretrain_epochs=1),
              'AAMModel[AAMRegressor]', 'SampleData[RegressorPredictions]')


def classify_samples(use):
    _pipeline(use, 'classify_samples', dict(metadata=_column(use, 'label')),
              'AAMModel[AAMClassifier]', 'SampleData[ClassifierPredictions]',
              probabilities='test_probabilities')


def _ncv(use, action_id: str, inputs: dict, predictions_type: str,
         **more_outputs):
    _on_table(use, action_id, dict(cv=3, ensemble_size=1, **inputs),
              {'predictions': 'cv_predictions',
               'feature_importance': 'importance',
               'accuracy_results': 'accuracy_results',
               'accuracy_summary': 'accuracy_summary', **more_outputs},
              predictions=predictions_type)


def regress_samples_ncv(use):
    distances = use.init_artifact('unifrac_distances', distance_matrix_factory)
    _ncv(use, 'regress_samples_ncv',
         dict(metadata=_column(use, 'age', metadata_factory, 'metadata'),
              distance_matrix=distances, pretrain_epochs=1),
         'SampleData[RegressorPredictions]')


def classify_samples_ncv(use):
    _ncv(use, 'classify_samples_ncv', dict(metadata=_column(use, 'label')),
         'SampleData[ClassifierPredictions]',
         probabilities='cv_probabilities')
