"""Registrations only: types, formats, transformers, actions.

Every parameter's type and description comes from aam_core's option
declarations (q2_aam/_parameters.py); inputs and outputs are described here.
"""
from qiime2.plugin import Citations, List, Plugin, Visualization
from q2_sample_classifier import (ClassifierPredictions, Importance, Probabilities,
                                  RegressorPredictions)
from q2_types.distance_matrix import DistanceMatrix
from q2_types.feature_data import FeatureData, Sequence, Taxonomy
from q2_types.feature_table import FeatureTable, Frequency
from q2_types.ordination import PCoAResults
from q2_types.sample_data import AlphaDiversity, SampleData

from . import (__version__, _attention, _blend, _classification, _embedding, _errors,
               _examples, _importance, _ncv, _pipelines, _prediction_summary, _pretrain,
               _regression, _visualization)
from ._parameters import descriptions, parameters
from ._types import (AAMClassifier, AAMEncoder, AAMModel,
                     AAMModelDirectoryFormat, AAMRegressor, KIND_OF_VARIANT)
from ._types._transformer import TRANSFORMERS
from ._types._validator import kind_validator

citations = Citations.load('citations.bib', package='q2_aam')

plugin = Plugin(
    name='aam',
    version=__version__,
    website='https://github.com/q2-aam/q2-aam',
    package='q2_aam',
    description=(
        'AAM (Attention All Microbes): a hierarchical transformer that reads '
        'the DNA of every ASV in a sample. Pretrain it without labels on '
        'UniFrac distances and masked nucleotides, fine-tune it to predict '
        'sample metadata, and apply it to studies whose ASVs it never saw.'),
    short_description='Sequence-aware transformer models of microbiomes.',
    citations=[citations['q2aam'], citations['bolyen2019reproducible']],
)

# -- types, format, transformers --------------------------------------------

plugin.register_semantic_types(AAMModel, AAMEncoder, AAMRegressor,
                               AAMClassifier)
plugin.register_formats(AAMModelDirectoryFormat)
_KIND_DESCRIPTIONS = {
    AAMEncoder: 'A pretrained AAM encoder (no prediction head).',
    AAMRegressor: 'An AAM model fine-tuned to predict a numeric target.',
    AAMClassifier: 'An AAM model fine-tuned to predict a category.',
}
for _variant, _kind in KIND_OF_VARIANT.items():
    plugin.register_artifact_class(
        AAMModel[_variant], directory_format=AAMModelDirectoryFormat,
        description=_KIND_DESCRIPTIONS[_variant])
    plugin.register_validator(AAMModel[_variant])(kind_validator(_kind))
for _transformer in TRANSFORMERS:
    plugin.register_transformer(_transformer)

# -- shared parameters and descriptions --------------------------------------

_citations = [citations['q2aam'], citations['cantrell_aam'],
              citations['vaswani2017attention'], citations['paszke2019pytorch']]
# The methods an action may run, cited where it runs them: UniFrac and
# InfoNCE (pretraining objectives), label propagation and split-conformal
# intervals (readouts and intervals of fitting).
_PRETRAINING = ('lozupone2005unifrac', 'oord2018representation')
_FITTING = ('zhu2003semi', 'lei2018distribution', 'romano2019conformalized')

input_descriptions = {
    'table': 'Feature table of counts, samples by ASVs.',
    'predict_table': (
        'Feature table of counts, samples by ASVs, each sample with counts '
        '(a sample with none is refused, by name). Sequences are read as '
        'the model was trained: up to its max_length nucleotides, cut to it '
        'when it was trained with truncate and refused otherwise; shorter '
        'ones are read as they are.'),
    'sequences': (
        'DNA sequence of each feature. Needed when the feature ids are not '
        'DNA themselves (e.g. md5 hashes from DADA2 or Deblur).'),
    'distance_matrix': (
        'Distances between the samples (e.g. UniFrac) that the sample '
        'embeddings learn to reproduce. Must cover every sample of the '
        'table. Any metric works (as q2-diversity computes them: UniFrac, '
        'Bray-Curtis, Jaccard, Aitchison...); distances beyond [0, 1] are '
        'divided by their largest value in the loss. Without it (and without '
        'alpha_diversity) the masked-nucleotide objective is trained, and the '
        'contrastive one when contrastive_weight is above 0.'),
    'alpha_diversity': (
        'Alpha diversity of each sample (e.g. Shannon entropy or Faith PD, '
        'from diversity alpha) that the sample embedding learns to predict '
        '(a linear head, MSE on z-scores, weight alpha_weight). Must cover '
        'every sample of the table.'),
    'taxonomy': (
        'Taxonomy of the features (e.g. from feature-classifier) that each '
        'ASV\'s vector learns to predict: a linear head per rank, phylum to '
        'genus (cross-entropy, weight taxonomy_weight). Unassigned ranks and '
        'features absent from it are left out of that loss; features absent '
        'from the table are ignored.'),
    'pretrained_model': (
        'A pretrained encoder (or a fitted model) to start from. Its '
        'architecture is kept, and with it the longest sequence it reads '
        '(max_length: leave it at 0, another value is an error) and its '
        'size (a preset other than the default is an error); truncate, '
        'max_asvs and the other data settings are this run\'s.'),
    'model_regressor': 'An AAM regressor trained with fit-regressor.',
    'fit_distance_matrix': (
        'Distances between the samples (e.g. UniFrac) for an auxiliary loss '
        'during fine-tuning: sample embeddings keep reproducing them, with '
        'weight unifrac_weight. Optional; must cover the samples.'),
    'pipeline_distance_matrix': (
        'Distances between the samples (e.g. UniFrac). When given, the '
        'encoder is first pretrained on the training samples with them (and '
        'masked nucleotides), then fine-tuned; without it the model is '
        'trained from scratch on the target.'),
}


def _described(function, about: str) -> dict:
    """What registering any action takes alike: its parameters and their
    descriptions from the option declarations, its usage example from
    _examples (same name), and `about`: its name, a blank line, its
    description."""
    action = function.__name__
    name, _, description = about.partition('\n\n')
    return dict(
        function=function, parameters=parameters(action),
        parameter_descriptions=descriptions(action),
        name=' '.join(name.split()), description=' '.join(description.split()),
        examples={action: getattr(_examples, action)})


def _register(registry, function, inputs: dict, outputs: list, about: str,
              input_text: dict, output_text: dict, cites: tuple = (),
              **more) -> None:
    """Register a method or a pipeline (`cites`: keys of citations.bib
    beyond the shared ones; `more`: further arguments, or other examples)."""
    registry.register_function(**{**_described(function, about), **more},
                               inputs=inputs, outputs=outputs,
                               input_descriptions=input_text,
                               output_descriptions=output_text,
                               citations=_citations + [citations[key] for key in cites])


def _visualizer(function, inputs: dict, input_text: dict, about: str) -> None:
    """Register a visualizer; it cites q2-aam alone."""
    plugin.visualizers.register_function(
        **_described(function, about), inputs=inputs,
        input_descriptions=input_text, citations=[citations['q2aam']])


def _inputs(*names: str, **special: str) -> dict:
    return {**{name: input_descriptions[name] for name in names}, **special}


_ANY_MODEL = AAMModel[AAMEncoder | AAMRegressor | AAMClassifier]
_PREDICT_INPUTS = {'table': FeatureTable[Frequency], 'sequences': FeatureData[Sequence]}
_REGRESSOR_PREDICTIONS = SampleData[RegressorPredictions]

# -- actions ----------------------------------------------------------------

_register(
    plugin.methods, _pretrain.pretrain,
    {'table': FeatureTable[Frequency], 'sequences': FeatureData[Sequence],
     'distance_matrix': DistanceMatrix,
     'alpha_diversity': SampleData[AlphaDiversity],
     'taxonomy': FeatureData[Taxonomy]},
    [('model', AAMModel[AAMEncoder])], """
    Pretrain an AAM encoder without labels.

    Train the nucleotide and sample encoders of AAM self-supervised: sample
    embeddings learn to reproduce the given distances (UniFrac or any other)
    and, optionally, each sample's alpha diversity; ASV vectors optionally
    learn each ASV's taxonomy, and nucleotide tokens learn to predict masked
    nucleotides. The encoder can then be fine-tuned
    with fit-regressor.""",
    _inputs('table', 'sequences', 'distance_matrix', 'alpha_diversity', 'taxonomy'),
    {'model': 'The pretrained AAM encoder.'},
    cites=_PRETRAINING,
    examples={'pretrain': _examples.pretrain,
              'pretrain_alpha_diversity': _examples.pretrain_alpha_diversity,
              'pretrain_taxonomy': _examples.pretrain_taxonomy})

_FIT_INPUTS = {'table': FeatureTable[Frequency],
               'sequences': FeatureData[Sequence],
               'pretrained_model': _ANY_MODEL,
               'distance_matrix': DistanceMatrix}
_FIT_INPUT_DESCRIPTIONS = _inputs(
    'table', 'sequences', 'pretrained_model',
    distance_matrix=input_descriptions['fit_distance_matrix'])

_register(
    plugin.methods, _regression.fit_regressor, _FIT_INPUTS,
    [('model', AAMModel[AAMRegressor])], """
    Fit an AAM regressor to a numeric metadata column.

    Train AAM to predict a numeric sample property from the sequences and
    abundances of its ASVs, optionally starting from a pretrained encoder,
    conditioned on categorical metadata, with auxiliary UniFrac,
    masked-nucleotide and masked-abundance objectives.""",
    _FIT_INPUT_DESCRIPTIONS, {'model': 'The trained AAM regressor.'}, cites=_FITTING,
    examples={'fit_regressor': _examples.fit_regressor,
              'fit_regressor_conditioned': _examples.fit_regressor_conditioned,
              'fit_regressor_ridge': _examples.fit_regressor_ridge})

_register(
    plugin.methods, _regression.predict_regression,
    {**_PREDICT_INPUTS, 'model': AAMModel[AAMRegressor]},
    [('predictions', _REGRESSOR_PREDICTIONS)], """
    Predict a numeric target with an AAM regressor.

    Apply a trained AAM regressor to the samples of a table; their ASVs need
    not have been seen in training. The predictions work with
    q2-sample-classifier's scatterplot.""",
    _inputs('sequences', table=input_descriptions['predict_table'],
            model=input_descriptions['model_regressor']),
    {'predictions': 'Predicted target value of each sample.'})

_register(
    plugin.methods, _regression.predict_regression_interval,
    {**_PREDICT_INPUTS, 'model': AAMModel[AAMRegressor]},
    [('predictions', _REGRESSOR_PREDICTIONS), ('lower', _REGRESSOR_PREDICTIONS),
     ('upper', _REGRESSOR_PREDICTIONS)], """
    Predict a numeric target with an interval.

    The point prediction and a prediction interval: 80% for a model fitted
    with the default loss; for the 'quantile' loss, between its lowest and
    highest quantile (0.1 and 0.9: 80%). The interval is calibrated when the
    model is fitted, on its validation samples' errors (split-conformal:
    samples of groups the model did not train on), so that it covers new
    subjects about as often as it claims. All three outputs work with
    q2-sample-classifier's scatterplot.""",
    _inputs('sequences', table=input_descriptions['predict_table'],
            model=("An AAM regressor: one fitted with validation samples (the "
                   "default), or with loss 'quantile'.")),
    {'predictions': ('The point prediction (a quantile model: the quantile '
                     'closest to 0.5).'),
     'lower': 'The lower bound of the prediction interval.',
     'upper': 'The upper bound of the prediction interval.'},
    cites=_FITTING[1:])

_register(
    plugin.methods, _blend.blend_predictions,
    {'predictions': List[_REGRESSOR_PREDICTIONS]},
    [('blended', _REGRESSOR_PREDICTIONS)], """
    Blend regressors' predictions into one.

    The weighted mean, sample by sample, of two or more sets of predictions
    of the same samples: AAM's (predict-regression) and
    q2-sample-classifier's alike. Models that err differently err less together: on
    grouped folds of real data, a ridge readout on a pretrained AAM encoder
    blended with a random forest on the counts beat both once a few hundred
    samples were labelled. Every set must predict the same samples.""",
    {'predictions': ('Two or more sets of predictions of the same samples, '
                     'from any regressors; weights follow their order.')},
    {'blended': 'The blended prediction of each sample.'})

_register(
    plugin.methods, _classification.fit_classifier, _FIT_INPUTS,
    [('model', AAMModel[AAMClassifier])], """
    Fit an AAM classifier to a categorical metadata column.

    Train AAM to predict a sample category from the sequences and abundances
    of its ASVs (cross-entropy, optionally class-balanced), optionally from a
    pretrained encoder and conditioned on other categorical metadata.""",
    _FIT_INPUT_DESCRIPTIONS, {'model': 'The trained AAM classifier.'})

_register(
    plugin.methods, _classification.predict_classification,
    {**_PREDICT_INPUTS, 'model': AAMModel[AAMClassifier]},
    [('predictions', SampleData[ClassifierPredictions]),
     ('probabilities', SampleData[Probabilities])], """
    Predict a category with an AAM classifier.

    Apply a trained AAM classifier to the samples of a table; their ASVs need
    not have been seen in training. The outputs work with
    q2-sample-classifier's confusion-matrix.""",
    _inputs('sequences', table=input_descriptions['predict_table'],
            model='An AAM classifier trained with fit-classifier.'),
    {'predictions': 'Predicted class of each sample (the most probable).',
     'probabilities': 'Probability of each class, one column per class.'})

_register(
    plugin.methods, _embedding.embed, {**_PREDICT_INPUTS, 'model': _ANY_MODEL},
    [('embeddings', PCoAResults), ('distance_matrix', DistanceMatrix)], """
    Embed samples with an AAM model.

    Compute each sample's embedding (the sample encoder's pooled vector) with
    a trained AAM model, and return it as an ordination and as a distance
    matrix. The samples need not share ASVs with the training data.""",
    _inputs('sequences', table=input_descriptions['predict_table'],
            model=('Any AAM model: a pretrained encoder, a regressor or a classifier.')),
    {'embeddings': (
        'The sample embeddings as an ordination: rotated onto their principal '
        'axes (PCA, which for Euclidean distances is PCoA), largest variance '
        'first, ready for Emperor; in the units of the distance matrix.'),
     'distance_matrix': (
        'Euclidean distances between the sample embeddings (for an encoder '
        'pretrained on distances above 1, times its distance_scale: in their '
        'units), for PERMANOVA, '
        'Mantel tests and other beta-diversity tools.')})

_register(
    plugin.methods, _importance.feature_importance,
    {**_PREDICT_INPUTS, 'model': AAMModel[AAMRegressor | AAMClassifier]},
    [('importance', FeatureData[Importance])], """
    Importance of each ASV to an AAM model.

    Gradient x input attribution: for every ASV of every sample, the gradient
    of the model's output (regression value, or the predicted class's
    log-probability) with respect to the ASV's token in the sample encoder
    (its sequence vector plus its abundance embedding), times that token: a
    first-order estimate of how much the output changes without the ASV. It
    is target-specific, covers sequence and abundance, and costs one backward
    pass per batch. The output works with q2-sample-classifier's heatmap.""",
    _inputs('sequences', table=(
        'Samples on which the model is explained; every feature of the table '
        'gets a row.'), model='A fitted AAM regressor or classifier.'),
    {'importance': (
        "One row per feature, column 'importance': the mean over the samples "
        'of |gradient x input| of the ASV (0 in samples that lack it), highest '
        'first.')})

_visualizer(
    _visualization.summarize, {'model': _ANY_MODEL},
    {'model': 'Any AAM model.'}, """
    Summarize an AAM model.

    The architecture and parameter count (per ensemble member and in
    total), the samples trained and validated on, dropped, the ASVs and
    the training time, the training and data settings that applied, the
    resolved random seed and device, the loss and metric curves per epoch
    (training and validation; for an ensemble the mean and range over its
    members) and every member's metrics at its kept epoch.""")

_visualizer(
    _errors.error_analysis, {'predictions': _REGRESSOR_PREDICTIONS},
    {'predictions': (
        "Predictions of a numeric target: an AAM regressor's or "
        "q2-sample-classifier's.")}, """
    Break prediction errors down by sample metadata.

    Where a regressor goes wrong: the errors (prediction - truth) against
    the truth, a box plot of them per category of each categorical
    metadata column with its mean absolute error per category, a scatter
    against each numeric column, and the samples with the largest errors.""")

_visualizer(
    _prediction_summary.summarize_predictions,
    {'predictions': SampleData[RegressorPredictions | ClassifierPredictions]},
    {'predictions': (
        'Predictions of AAM (predict-regression, predict-classification) or '
        'of q2-sample-classifier.')}, """
    Summarize predictions against the truth.

    The accuracy of predictions in numbers, beside a baseline that
    predicts the truth's mean (the most frequent class) for every sample:
    for a regressor's predictions MAE and RMSE in the target's units, R²
    and Spearman's rho; for a classifier's, accuracy, balanced accuracy
    and the counts of every class; and the number of samples. Complements
    q2-sample-classifier's scatterplot and confusion-matrix.""")

_visualizer(
    _attention.attention_map,
    {**_PREDICT_INPUTS, 'model': _ANY_MODEL, 'taxonomy': FeatureData[Taxonomy]},
    _inputs(
        'sequences', table=input_descriptions['predict_table'],
        model=('Any AAM model: a regressor or a classifier (attention and '
               'importance), or a pretrained encoder (attention only).'),
        taxonomy=('Taxonomy of the features (e.g. from feature-classifier): '
                  'an ASV is then labelled by its most specific assigned rank, '
                  'the full string beside it. Features it lacks are labelled '
                  'by the first nucleotides of their sequence.')), """
    Which ASVs a model attends to and which drive its predictions.

    Per sample, the weight the sample encoder's attention pooling gives
    each of its ASVs (they sum to 1; an ensemble: the mean over its
    members) and, for a regressor or classifier, their gradient x input
    importance (as feature-importance). Per metadata group (or over all
    samples), bar charts and tables of the top ASVs by mean attention and
    by mean |importance|, with taxonomy labels, prevalence, a heatmap of
    attention across groups, and TSV downloads.""")

# the pipelines' outputs; each names its model's and its predictions' types
_OUTPUT_TYPES = {'feature_importance': FeatureData[Importance],
                 'probabilities': SampleData[Probabilities],
                 'model_summary': Visualization,
                 'accuracy_results': Visualization,
                 'encoder': AAMModel[AAMEncoder],
                 'accuracy_summary': Visualization}


def _outputs(*names: str, **types) -> list:
    """[(output, its type)] in the order of `names`: the type from `types`,
    else the one every pipeline gives that output."""
    return [(name, types[name] if name in types else _OUTPUT_TYPES[name]) for name in names]


_PIPELINE_INPUTS = {'table': FeatureTable[Frequency],
                    'sequences': FeatureData[Sequence],
                    'distance_matrix': DistanceMatrix,
                    'pretrained_model': AAMModel[AAMEncoder]}
_PIPELINE_INPUT_DESCRIPTIONS = _inputs(
    'table', 'sequences',
    distance_matrix=input_descriptions['pipeline_distance_matrix'] + (
        ' Not with pretrained_model.'),
    pretrained_model=(
        'A pretrained encoder (from pretrain) to fine-tune, instead of '
        'pretraining one here: not with distance_matrix. Its architecture '
        'is kept, and with it the longest sequence it reads (max_length: '
        'leave it at 0, another value is an error) and its size (a preset '
        'other than the default is an error); truncate, max_asvs and the '
        'other data settings are this run\'s.'))
_ENCODER_OUTPUT = (
    'The encoder the model was fine-tuned from: pretrained_model when given, '
    'else the encoder pretrained here on the training samples (with '
    'distance_matrix). Trained from scratch (neither given), the fitted '
    "model's own encoder (fine-tuned; an ensemble's first member's) without "
    'its head. Fine-tune it on another target (fit-regressor, '
    'fit-classifier, pretrained_model here) or embed samples with it.')
_ACCURACY_SUMMARY = (
    'The predictions in numbers (summarize-predictions): MAE, RMSE, R² and '
    "Spearman's rho, or accuracy, balanced accuracy and per-class counts, and "
    'the number of samples, beside a baseline that predicts the mean (the '
    'majority class).')
_PIPELINE_OUTPUT_DESCRIPTIONS = {
    'model': 'The model fitted on the training samples.',
    'feature_importance': (
        'Importance of each feature (gradient x input, see '
        'feature-importance) over all samples of the table.'),
    'predictions': 'Predictions for the held-out test samples.',
    'model_summary': 'Training curves and settings of the model (summarize).',
    'encoder': _ENCODER_OUTPUT,
    'accuracy_summary': _ACCURACY_SUMMARY}

_register(
    plugin.pipelines, _pipelines.regress_samples, _PIPELINE_INPUTS,
    _outputs('model', 'feature_importance', 'predictions', 'model_summary',
             'accuracy_results', 'encoder', 'accuracy_summary',
             model=AAMModel[AAMRegressor], predictions=_REGRESSOR_PREDICTIONS), """
    Train and test an AAM regressor.

    Split the samples into training and test sets (whole groups to one side),
    pretrain the encoder on the training samples when a distance matrix is
    given (or start from a given pretrained encoder), fit a regressor of the
    metadata column, predict the test samples and plot the predictions
    against the truth; also returns the model's feature importance and
    summary, and its encoder. AAM's counterpart of sample-classifier's
    regress-samples.""",
    _PIPELINE_INPUT_DESCRIPTIONS,
    {**_PIPELINE_OUTPUT_DESCRIPTIONS, 'accuracy_results': (
        "Test predictions against the truth (q2-sample-classifier's "
        'scatterplot).')}, cites=_PRETRAINING + _FITTING)

_register(
    plugin.pipelines, _pipelines.classify_samples, _PIPELINE_INPUTS,
    _outputs('model', 'feature_importance', 'predictions', 'probabilities',
             'model_summary', 'accuracy_results', 'encoder', 'accuracy_summary',
             model=AAMModel[AAMClassifier],
             predictions=SampleData[ClassifierPredictions]), """
    Train and test an AAM classifier.

    Split the samples into training and test sets, stratified by class (whole
    groups to one side), pretrain the encoder on the training samples when a
    distance matrix is given (or start from a given pretrained encoder), fit
    a classifier of the metadata column, predict the test samples and show
    the confusion matrix; also returns the model's feature importance and
    summary, and its encoder. AAM's counterpart of sample-classifier's
    classify-samples.""",
    _PIPELINE_INPUT_DESCRIPTIONS,
    {**_PIPELINE_OUTPUT_DESCRIPTIONS,
     'probabilities': 'Predicted class probabilities of the test samples.',
     'accuracy_results': (
        "Confusion matrix and ROC curves of the test predictions "
        "(q2-sample-classifier's confusion-matrix).")}, cites=_PRETRAINING)

_NCV_INPUT_DESCRIPTIONS = {
    **_PIPELINE_INPUT_DESCRIPTIONS,
    'distance_matrix': (
        'Distances between the samples (e.g. UniFrac). When given, an encoder '
        "is pretrained for every fold on only that fold's training samples "
        '(and masked nucleotides), then fine-tuned; without it (and without '
        'pretrained_model) each fold model is trained from scratch. Not with '
        'pretrained_model.'),
    'pretrained_model': (
        'A pretrained encoder (from pretrain) that every fold model is '
        'fine-tuned from, instead of pretraining per fold: not with '
        'distance_matrix. Pretraining uses no target values, so an encoder '
        "pretrained on all samples leaks no fold's labels; its architecture "
        'and data settings are kept.')}
_NCV_IMPORTANCE = (
    "Importance of each feature (gradient x input, see feature-importance): "
    "the mean over the folds of each fold model's importance over all "
    'samples of the table.')

_register(
    plugin.pipelines, _ncv.regress_samples_ncv, _PIPELINE_INPUTS,
    _outputs('predictions', 'feature_importance', 'accuracy_results',
             'accuracy_summary', predictions=_REGRESSOR_PREDICTIONS), """
    Predict every sample by cross-validation with AAM regressors.

    Deal the samples into cv folds (whole groups to one fold); for each fold,
    pretrain an encoder on the other folds' samples when a distance matrix is
    given (or start from a given pretrained encoder), fit a regressor of the
    metadata column on them and predict the fold. Every sample with a value
    is predicted exactly once, by a model that never saw it or its group.
    Fits cv x ensemble_size models. AAM's counterpart of sample-classifier's
    regress-samples-ncv.""",
    _NCV_INPUT_DESCRIPTIONS,
    {'predictions': 'Out-of-fold prediction of every sample.',
     'accuracy_summary': _ACCURACY_SUMMARY,
     'feature_importance': _NCV_IMPORTANCE,
     'accuracy_results': (
        "Out-of-fold predictions against the truth (q2-sample-classifier's "
        'scatterplot).')}, cites=_PRETRAINING + _FITTING)

_register(
    plugin.pipelines, _ncv.classify_samples_ncv, _PIPELINE_INPUTS,
    _outputs('predictions', 'feature_importance', 'probabilities',
             'accuracy_results', 'accuracy_summary',
             predictions=SampleData[ClassifierPredictions]), """
    Predict every sample by cross-validation with AAM classifiers.

    Deal the samples into cv folds (whole groups to one fold, each class
    spread over the folds); for each fold, pretrain an encoder on the other
    folds' samples when a distance matrix is given (or start from a given
    pretrained encoder), fit a classifier of the metadata column on them and
    predict the fold. Every sample with a class is predicted exactly once, by
    a model that never saw it or its group. Fits cv x ensemble_size models.
    AAM's counterpart of sample-classifier's classify-samples-ncv.""",
    _NCV_INPUT_DESCRIPTIONS,
    {'predictions': 'Out-of-fold predicted class of every sample.',
     'accuracy_summary': _ACCURACY_SUMMARY,
     'feature_importance': _NCV_IMPORTANCE,
     'probabilities': (
        'Out-of-fold class probabilities of every sample, one column per '
        "class (0 for a class absent from a fold's training samples)."),
     'accuracy_results': (
        "Confusion matrix and ROC curves of the out-of-fold predictions "
        "(q2-sample-classifier's confusion-matrix).")}, cites=_PRETRAINING)
