"""Registrations only: types, formats, transformers, actions (DESIGN s.8)."""
from qiime2.plugin import (Bool, Choices, Citations, Float, Int,
                           MetadataColumn, Numeric, Categorical, Plugin, Range,
                           Str)
from q2_types.distance_matrix import DistanceMatrix
from q2_types.feature_data import FeatureData, Sequence
from q2_types.feature_table import FeatureTable, Frequency
from q2_types.sample_data import SampleData
from q2_sample_classifier import RegressorPredictions

from . import __version__, _examples, _methods
# fit-classifier, predict-classification, fine-tuning options (issue 3)
from q2_sample_classifier import ClassifierPredictions, Probabilities
from . import _classify
from . import _fit_options as fo
# embed, feature-importance, summarize and the pipelines (issue 4)
from qiime2.plugin import Visualization
from q2_types.ordination import PCoAResults
from q2_sample_classifier import Importance
from . import _embed, _importance, _pipelines, _visualizers
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

_citations = [citations['q2aam'], citations['vaswani2017attention'],
              citations['paszke2019pytorch']]

input_descriptions = {
    'table': 'Feature table of counts, samples by ASVs.',
    'sequences': (
        'DNA sequence of each feature. Needed when the feature ids are not '
        'DNA themselves (e.g. md5 hashes from DADA2 or Deblur).'),
    'distance_matrix': (
        'Distances between the samples (e.g. UniFrac) that the sample '
        'embeddings learn to reproduce. Must cover every sample of the '
        'table. Without it only the masked-nucleotide objective is trained.'),
    'pretrained_model': (
        'A pretrained encoder (or a fitted model) to start from. Its '
        'architecture and data settings are kept; preset, max_length, '
        'max_asvs and truncate are then ignored.'),
    'model_regressor': 'An AAM regressor trained with fit-regressor.',
}

device_parameters = {
    'device': Str % Choices(['auto', 'cpu', 'cuda']),
    'n_threads': Int % Range(0, None),
}
device_descriptions = {
    'device': "Where to compute: 'auto' uses a CUDA GPU when one is present.",
    'n_threads': 'CPU threads for PyTorch; 0 uses all cores.',
}
# training actions also spread over several devices (data-parallel)
training_device_parameters = {**device_parameters,
                              'n_devices': Int % Range(1, None)}
training_device_descriptions = {
    **device_descriptions,
    'n_devices': (
        'Devices of this machine to train on in parallel (torch.distributed '
        'DDP, one process per device, started from inside the action). With '
        "device 'cuda', or 'auto' where GPUs are visible: that many GPUs "
        "(NCCL). With device 'cpu', or 'auto' without GPUs: that many CPU "
        'processes (gloo) sharing n_threads. batch_size is then the global '
        'batch, split over the devices; the UniFrac loss still covers every '
        'pair of it. 1 trains in this process.'),
}

data_parameters = {
    'preset': Str % Choices(['tiny', 'small', 'base']),
    'rarefaction_depth': Int % Range(0, None),
    'asv_dropout': Float % Range(0, 1, inclusive_end=False),
    'max_asvs': Int % Range(1, None),
    'max_length': Int % Range(1, None),
    'truncate': Bool,
}
data_descriptions = {
    'preset': ("Model size: 'tiny' (tests), 'small' (CPU), 'base' (GPU)."),
    'rarefaction_depth': (
        'Rarefy each sample to this many reads, drawing a fresh subsample '
        'every epoch; samples with fewer reads are dropped. 0: no '
        'rarefaction.'),
    'asv_dropout': (
        'Augmentation: in every training epoch, leave out each ASV of a '
        'sample with this probability (a fresh draw each epoch; a sample '
        'keeps at least its most abundant ASV). Validation and prediction '
        'see every ASV. 0: off.'),
    'max_asvs': 'Keep at most this many ASVs per sample, most abundant first.',
    'max_length': (
        'Longest ASV sequence accepted; longer ones are an error unless '
        'truncate is set.'),
    'truncate': 'Cut sequences longer than max_length instead of failing.',
}

training_parameters = {
    'epochs': Int % Range(1, None),
    'batch_size': Int % Range(2, None),
    'learning_rate': Float % Range(0, None, inclusive_start=False),
    'weight_decay': Float % Range(0, None),
    'warmup_fraction': Float % Range(0, 1),
    'validation_fraction': Float % Range(0, 1, inclusive_end=False),
    'patience': Int % Range(1, None),
    'mask_ratio': Float % Range(0, 1, inclusive_end=False),
    'nucleotide_weight': Float % Range(0, None),
    'random_state': Int % Range(0, None),
}
training_descriptions = {
    'epochs': 'Maximum number of passes over the training samples.',
    'batch_size': 'Samples per training step.',
    'learning_rate': 'Peak learning rate of AdamW.',
    'weight_decay': 'AdamW weight decay.',
    'warmup_fraction': (
        'Fraction of the training steps spent warming the learning rate up '
        'before its cosine decay.'),
    'validation_fraction': (
        'Fraction of the samples held out to select the best epoch and stop '
        'early; 0 trains on all samples and keeps the last epoch.'),
    'patience': 'Epochs without validation improvement before stopping.',
    'mask_ratio': 'Fraction of nucleotides masked for the nucleotide loss.',
    'nucleotide_weight': 'Weight of the masked-nucleotide loss; 0 skips it.',
    'random_state': (
        'Seed for splits, rarefaction, masking and initial weights; a run '
        'on CPU is reproducible from it.'),
}

# -- actions ----------------------------------------------------------------

plugin.methods.register_function(
    function=_methods.pretrain,
    inputs={'table': FeatureTable[Frequency],
            'sequences': FeatureData[Sequence],
            'distance_matrix': DistanceMatrix},
    parameters={**data_parameters, **training_parameters,
                'unifrac_weight': Float % Range(0, None),
                **fo.TRAINING_OPTIONS,
                **training_device_parameters},
    outputs=[('model', AAMModel[AAMEncoder])],
    input_descriptions={k: input_descriptions[k]
                        for k in ('table', 'sequences', 'distance_matrix')},
    parameter_descriptions={
        **data_descriptions, **training_descriptions,
        'unifrac_weight': 'Weight of the UniFrac distance loss; 0 skips it.',
        **fo.TRAINING_OPTION_DESCRIPTIONS,
        **training_device_descriptions},
    output_descriptions={'model': 'The pretrained AAM encoder.'},
    name='Pretrain an AAM encoder without labels.',
    description=(
        'Train the nucleotide and sample encoders of AAM self-supervised: '
        'sample embeddings learn to reproduce the given distances (UniFrac) '
        'and nucleotide tokens learn to predict masked nucleotides. The '
        'encoder can then be fine-tuned with fit-regressor.'),
    citations=_citations,
    examples={'pretrain': _examples.pretrain},
)

_fit_inputs = {'table': FeatureTable[Frequency],
               'sequences': FeatureData[Sequence],
               'pretrained_model': AAMModel[AAMEncoder | AAMRegressor |
                                            AAMClassifier],
               'distance_matrix': DistanceMatrix}
_fit_input_descriptions = {
    **{k: input_descriptions[k]
       for k in ('table', 'sequences', 'pretrained_model')},
    **fo.FINETUNE_INPUTS_DESCRIPTIONS}
_fit_parameters = {'groups': MetadataColumn[Categorical],
                   **data_parameters, **training_parameters,
                   'freeze_encoder': Bool,
                   'missing_samples': Str % Choices(['error', 'ignore']),
                   **fo.FINETUNE_PARAMETERS, **training_device_parameters}
_fit_descriptions = {
    'groups': (
        'Categorical metadata column; samples of one group stay together '
        'on one side of the validation split (e.g. one subject).'),
    **data_descriptions, **training_descriptions,
    'freeze_encoder': (
        'Train only the head (and the conditioning), keeping the whole '
        'pretrained encoder fixed; ASV vectors are then computed once and '
        'cached. Needs pretrained_model.'),
    'missing_samples': (
        'How to handle table samples absent from the metadata: "error" '
        'fails and names some of them, "ignore" drops them.'),
    **fo.FINETUNE_DESCRIPTIONS, **training_device_descriptions}

plugin.methods.register_function(
    function=_methods.fit_regressor,
    inputs=_fit_inputs,
    parameters={'metadata': MetadataColumn[Numeric],
                'normalisation': Str % Choices(['zscore', 'minmax', 'none']),
                **fo.REGRESSION_PARAMETERS, **_fit_parameters},
    outputs=[('model', AAMModel[AAMRegressor])],
    input_descriptions=_fit_input_descriptions,
    parameter_descriptions={
        'metadata': (
            'Numeric metadata column to predict. Samples with no value are '
            'dropped.'),
        'normalisation': (
            'How the target is scaled for training (fitted on training '
            'samples only, undone on prediction).'),
        **fo.REGRESSION_DESCRIPTIONS, **_fit_descriptions},
    output_descriptions={'model': 'The trained AAM regressor.'},
    name='Fit an AAM regressor to a numeric metadata column.',
    description=(
        'Train AAM to predict a numeric sample property from the sequences '
        'and abundances of its ASVs, optionally starting from a pretrained '
        'encoder, conditioned on categorical metadata, with auxiliary '
        'UniFrac, masked-nucleotide and masked-abundance objectives.'),
    citations=_citations,
    examples={'fit_regressor': _examples.fit_regressor,
              'fit_regressor_conditioned': _examples.fit_regressor_conditioned},
)

plugin.methods.register_function(
    function=_methods.predict_regression,
    inputs={'table': FeatureTable[Frequency],
            'model': AAMModel[AAMRegressor],
            'sequences': FeatureData[Sequence]},
    parameters={'batch_size': Int % Range(1, None),
                **fo.PREDICT_PARAMETERS, **device_parameters},
    outputs=[('predictions', SampleData[RegressorPredictions])],
    input_descriptions={'table': input_descriptions['table'],
                        'model': input_descriptions['model_regressor'],
                        'sequences': input_descriptions['sequences']},
    parameter_descriptions={'batch_size': 'Samples per inference batch.',
                            **fo.PREDICT_DESCRIPTIONS,
                            **device_descriptions},
    output_descriptions={
        'predictions': 'Predicted target value of each sample.'},
    name='Predict a numeric target with an AAM regressor.',
    description=(
        'Apply a trained AAM regressor to the samples of a table; their ASVs '
        'need not have been seen in training. The predictions work with '
        "q2-sample-classifier's scatterplot."),
    citations=_citations,
    examples={'predict_regression': _examples.predict_regression},
)

# -- prediction intervals, classifiers (issue 3) ------------------------------

_predict_parameters = {'batch_size': Int % Range(1, None),
                       **fo.PREDICT_PARAMETERS, **device_parameters}
_predict_descriptions = {'batch_size': 'Samples per inference batch.',
                         **fo.PREDICT_DESCRIPTIONS, **device_descriptions}

plugin.methods.register_function(
    function=_methods.predict_regression_interval,
    inputs={'table': FeatureTable[Frequency],
            'model': AAMModel[AAMRegressor],
            'sequences': FeatureData[Sequence]},
    parameters=_predict_parameters,
    outputs=[('predictions', SampleData[RegressorPredictions]),
             ('lower', SampleData[RegressorPredictions]),
             ('upper', SampleData[RegressorPredictions])],
    input_descriptions={
        'table': input_descriptions['table'],
        'model': ('An AAM regressor: one fitted with validation samples '
                  '(the default), or with loss \'quantile\'.'),
        'sequences': input_descriptions['sequences']},
    parameter_descriptions=_predict_descriptions,
    output_descriptions={
        'predictions': ('The point prediction (a quantile model: the quantile '
                        'closest to 0.5).'),
        'lower': 'The lower bound of the prediction interval.',
        'upper': 'The upper bound of the prediction interval.'},
    name='Predict a numeric target with an interval.',
    description=(
        'The point prediction and a prediction interval: 80% for a model '
        "fitted with the default loss; for the 'quantile' loss, between its "
        'lowest and highest quantile (0.1 and 0.9: 80%). The interval is '
        'calibrated at fitting time on the validation samples\' errors '
        '(split-conformal; samples of groups the model did not train on), '
        'so that it covers new subjects about as often as it claims. All '
        "three outputs work with q2-sample-classifier's scatterplot."),
    citations=_citations,
    examples={'predict_regression_interval':
              _examples.predict_regression_interval},
)

plugin.methods.register_function(
    function=_classify.fit_classifier,
    inputs=_fit_inputs,
    parameters={'metadata': MetadataColumn[Categorical],
                **fo.CLASSIFICATION_PARAMETERS, **_fit_parameters},
    outputs=[('model', AAMModel[AAMClassifier])],
    input_descriptions=_fit_input_descriptions,
    parameter_descriptions={
        'metadata': (
            'Categorical metadata column to predict. Samples with no value '
            'are dropped; classes are the distinct values.'),
        **fo.CLASSIFICATION_DESCRIPTIONS, **_fit_descriptions},
    output_descriptions={'model': 'The trained AAM classifier.'},
    name='Fit an AAM classifier to a categorical metadata column.',
    description=(
        'Train AAM to predict a sample category from the sequences and '
        'abundances of its ASVs (cross-entropy, optionally class-balanced), '
        'optionally from a pretrained encoder and conditioned on other '
        'categorical metadata.'),
    citations=_citations,
    examples={'fit_classifier': _examples.fit_classifier},
)

plugin.methods.register_function(
    function=_classify.predict_classification,
    inputs={'table': FeatureTable[Frequency],
            'model': AAMModel[AAMClassifier],
            'sequences': FeatureData[Sequence]},
    parameters=_predict_parameters,
    outputs=[('predictions', SampleData[ClassifierPredictions]),
             ('probabilities', SampleData[Probabilities])],
    input_descriptions={
        'table': input_descriptions['table'],
        'model': 'An AAM classifier trained with fit-classifier.',
        'sequences': input_descriptions['sequences']},
    parameter_descriptions=_predict_descriptions,
    output_descriptions={
        'predictions': 'Predicted class of each sample (the most probable).',
        'probabilities': 'Probability of each class, one column per class.'},
    name='Predict a category with an AAM classifier.',
    description=(
        'Apply a trained AAM classifier to the samples of a table; their '
        "ASVs need not have been seen in training. The outputs work with "
        "q2-sample-classifier's confusion-matrix."),
    citations=_citations,
    examples={'predict_classification': _examples.predict_classification},
)

# -- embeddings, importance, summaries, pipelines (issue 4) ------------------

_ANY_MODEL = AAMModel[AAMEncoder | AAMRegressor | AAMClassifier]
_inference_parameters = {'batch_size': Int % Range(1, None),
                         **device_parameters}
_inference_descriptions = {'batch_size': 'Samples per inference batch.',
                           **device_descriptions}

plugin.methods.register_function(
    function=_embed.embed,
    inputs={'table': FeatureTable[Frequency],
            'model': _ANY_MODEL,
            'sequences': FeatureData[Sequence]},
    parameters=_inference_parameters,
    outputs=[('embeddings', PCoAResults),
             ('distance_matrix', DistanceMatrix)],
    input_descriptions={
        'table': input_descriptions['table'],
        'model': ('Any AAM model: a pretrained encoder, a regressor or a '
                  'classifier.'),
        'sequences': input_descriptions['sequences']},
    parameter_descriptions=_inference_descriptions,
    output_descriptions={
        'embeddings': (
            'The sample embeddings as an ordination: rotated onto their '
            'principal axes (PCA, which for Euclidean distances is PCoA), '
            'largest variance first, ready for Emperor.'),
        'distance_matrix': (
            'Euclidean distances between the sample embeddings, for '
            'PERMANOVA, Mantel tests and other beta-diversity tools.')},
    name='Embed samples with an AAM model.',
    description=(
        "Compute each sample's embedding (the sample encoder's pooled "
        'vector) with a trained AAM model, and return it as an ordination '
        'and as a distance matrix. The samples need not share ASVs with the '
        'training data.'),
    citations=_citations,
    examples={'embed': _examples.embed},
)

plugin.methods.register_function(
    function=_importance.feature_importance,
    inputs={'table': FeatureTable[Frequency],
            'model': AAMModel[AAMRegressor | AAMClassifier],
            'sequences': FeatureData[Sequence]},
    parameters=_predict_parameters,
    outputs=[('importance', FeatureData[Importance])],
    input_descriptions={
        'table': ('Samples on which the model is explained; every feature '
                  'of the table gets a row.'),
        'model': 'A fitted AAM regressor or classifier.',
        'sequences': input_descriptions['sequences']},
    parameter_descriptions=_predict_descriptions,
    output_descriptions={
        'importance': (
            "One row per feature, column 'importance': the mean over the "
            'samples of |gradient x input| of the ASV (0 in samples that '
            'lack it), highest first.')},
    name='Importance of each ASV to an AAM model.',
    description=(
        'Gradient x input attribution: for every ASV of every sample, the '
        "gradient of the model's output (regression value, or the "
        "predicted class's log-probability) with respect to the ASV's token "
        'in the sample encoder (its sequence vector plus its abundance '
        'embedding), times that token: a first-order estimate of how much '
        'the output changes without the ASV. It is target-specific, covers '
        'sequence and abundance, and costs one backward pass per batch. The '
        "output works with q2-sample-classifier's heatmap."),
    citations=_citations,
    examples={'feature_importance': _examples.feature_importance},
)

plugin.visualizers.register_function(
    function=_visualizers.summarize,
    inputs={'model': _ANY_MODEL},
    parameters={},
    input_descriptions={'model': 'Any AAM model.'},
    parameter_descriptions={},
    name='Summarize an AAM model.',
    description=(
        'The architecture and parameter count, the training and data '
        'settings, the resolved random seed and device, the loss and metric '
        'curves per epoch (training and validation) and the metrics of the '
        'epoch whose weights were kept.'),
    citations=[citations['q2aam']],
    examples={'summarize': _examples.summarize},
)

_pipeline_inputs = {'table': FeatureTable[Frequency],
                    'sequences': FeatureData[Sequence],
                    'distance_matrix': DistanceMatrix}
_pipeline_input_descriptions = {
    'table': input_descriptions['table'],
    'sequences': input_descriptions['sequences'],
    'distance_matrix': (
        'Distances between the samples (e.g. UniFrac). When given, the '
        'encoder is first pretrained on the training samples with them (and '
        'masked nucleotides), then fine-tuned; without it the model is '
        'trained from scratch on the target.')}
_PIPELINE_DATA = ('preset', 'rarefaction_depth', 'asv_dropout', 'max_asvs',
                  'max_length', 'truncate')
_pipeline_parameters = {
    'groups': MetadataColumn[Categorical],
    'test_size': Float % Range(0, 1, inclusive_start=False,
                               inclusive_end=False),
    'epochs': training_parameters['epochs'],
    'pretrain_epochs': Int % Range(1, None),
    'pretrain_learning_rate': training_parameters['learning_rate'],
    'ensemble_size': Int % Range(1, None),
    **{name: data_parameters[name] for name in _PIPELINE_DATA},
    **{name: training_parameters[name]
       for name in ('batch_size', 'learning_rate', 'validation_fraction',
                    'patience', 'random_state')},
    'missing_samples': Str % Choices(['error', 'ignore']),
    **device_parameters}
_pipeline_parameter_descriptions = {
    'groups': (
        'Categorical metadata column (e.g. subject); all samples of a group '
        'go to the same side of the test split and of the validation '
        'split, so no subject is both trained on and tested.'),
    'test_size': 'Fraction of the samples (or groups) held out for testing.',
    'epochs': 'Maximum epochs of fine-tuning.',
    'pretrain_epochs': (
        'Maximum epochs of pretraining (only with a distance matrix).'),
    'pretrain_learning_rate': (
        'Peak learning rate of pretraining (only with a distance matrix); '
        'learning_rate is that of fine-tuning.'),
    'ensemble_size': fo.FINETUNE_DESCRIPTIONS['ensemble_size'],
    **{name: data_descriptions[name] for name in _PIPELINE_DATA},
    **{name: training_descriptions[name]
       for name in ('batch_size', 'learning_rate', 'validation_fraction',
                    'patience', 'random_state')},
    'missing_samples': (
        'How to handle table samples absent from the metadata: "error" '
        'fails and names some of them, "ignore" drops them.'),
    **device_descriptions}
_pipeline_output_descriptions = {
    'model': 'The model fitted on the training samples.',
    'feature_importance': (
        'Importance of each feature (gradient x input, see '
        'feature-importance) over all samples of the table.'),
    'predictions': 'Predictions for the held-out test samples.',
    'probabilities': 'Predicted class probabilities of the test samples.',
    'model_summary': 'Training curves and settings of the model (summarize).',
    'accuracy_results': 'Accuracy of the test predictions.'}

plugin.pipelines.register_function(
    function=_pipelines.regress_samples,
    inputs=_pipeline_inputs,
    parameters={'metadata': MetadataColumn[Numeric], **_pipeline_parameters},
    outputs=[('model', AAMModel[AAMRegressor]),
             ('feature_importance', FeatureData[Importance]),
             ('predictions', SampleData[RegressorPredictions]),
             ('model_summary', Visualization),
             ('accuracy_results', Visualization)],
    input_descriptions=_pipeline_input_descriptions,
    parameter_descriptions={
        'metadata': 'Numeric metadata column to predict.',
        **_pipeline_parameter_descriptions},
    output_descriptions={
        **{name: text for name, text in _pipeline_output_descriptions.items()
           if name != 'probabilities'},
        'accuracy_results': (
            'Test predictions against the truth '
            "(q2-sample-classifier's scatterplot).")},
    name='Train and test an AAM regressor.',
    description=(
        'Split the samples into training and test sets (whole groups to one '
        'side), pretrain the encoder on the training samples when a distance '
        'matrix is given, fit a regressor of the metadata column, predict the '
        'test samples and plot the predictions against the truth; also '
        "returns the model's feature importance and summary. AAM's "
        "counterpart of sample-classifier's regress-samples."),
    citations=_citations,
    examples={'regress_samples': _examples.regress_samples},
)

plugin.pipelines.register_function(
    function=_pipelines.classify_samples,
    inputs=_pipeline_inputs,
    parameters={'metadata': MetadataColumn[Categorical],
                **_pipeline_parameters},
    outputs=[('model', AAMModel[AAMClassifier]),
             ('feature_importance', FeatureData[Importance]),
             ('predictions', SampleData[ClassifierPredictions]),
             ('probabilities', SampleData[Probabilities]),
             ('model_summary', Visualization),
             ('accuracy_results', Visualization)],
    input_descriptions=_pipeline_input_descriptions,
    parameter_descriptions={
        'metadata': 'Categorical metadata column to predict.',
        **_pipeline_parameter_descriptions,
        'test_size': (
            'Fraction of the samples (or groups) held out for testing, '
            'drawn within each class so that every class with two samples '
            '(groups) or more is on both sides.')},
    output_descriptions={
        **_pipeline_output_descriptions,
        'accuracy_results': (
            "Confusion matrix and ROC curves of the test predictions "
            "(q2-sample-classifier's confusion-matrix).")},
    name='Train and test an AAM classifier.',
    description=(
        'Split the samples into training and test sets, stratified by class '
        '(whole groups to one side), pretrain the encoder on the training '
        'samples when a distance matrix is given, fit a classifier of the '
        'metadata column, predict the test samples and show the confusion '
        "matrix; also returns the model's feature importance and summary. "
        "AAM's counterpart of sample-classifier's classify-samples."),
    citations=_citations,
    examples={'classify_samples': _examples.classify_samples},
)
