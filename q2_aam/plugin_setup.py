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
        'A pretrained encoder (or regressor) to start from. Its '
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

data_parameters = {
    'preset': Str % Choices(['tiny', 'small', 'base']),
    'rarefaction_depth': Int % Range(0, None),
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
                **device_parameters},
    outputs=[('model', AAMModel[AAMEncoder])],
    input_descriptions={k: input_descriptions[k]
                        for k in ('table', 'sequences', 'distance_matrix')},
    parameter_descriptions={
        **data_descriptions, **training_descriptions,
        'unifrac_weight': 'Weight of the UniFrac distance loss; 0 skips it.',
        **device_descriptions},
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

plugin.methods.register_function(
    function=_methods.fit_regressor,
    inputs={'table': FeatureTable[Frequency],
            'sequences': FeatureData[Sequence],
            'pretrained_model': AAMModel[AAMEncoder | AAMRegressor]},
    parameters={'metadata': MetadataColumn[Numeric],
                'groups': MetadataColumn[Categorical],
                **data_parameters, **training_parameters,
                'loss': Str % Choices(['huber', 'mse', 'mae']),
                'normalisation': Str % Choices(['zscore', 'minmax', 'none']),
                'freeze_encoder': Bool,
                'missing_samples': Str % Choices(['error', 'ignore']),
                **device_parameters},
    outputs=[('model', AAMModel[AAMRegressor])],
    input_descriptions={k: input_descriptions[k]
                        for k in ('table', 'sequences', 'pretrained_model')},
    parameter_descriptions={
        'metadata': (
            'Numeric metadata column to predict. Samples with no value are '
            'dropped.'),
        'groups': (
            'Categorical metadata column; samples of one group stay together '
            'on one side of the validation split (e.g. one subject).'),
        **data_descriptions, **training_descriptions,
        'loss': 'Loss on the (normalised) target.',
        'normalisation': (
            'How the target is scaled for training (fitted on training '
            'samples only, undone on prediction).'),
        'freeze_encoder': (
            'Train only the regression head, keeping the pretrained encoder '
            'fixed. Needs pretrained_model.'),
        'missing_samples': (
            'How to handle table samples absent from the metadata: "error" '
            'fails and names some of them, "ignore" drops them.'),
        **device_descriptions},
    output_descriptions={'model': 'The trained AAM regressor.'},
    name='Fit an AAM regressor to a numeric metadata column.',
    description=(
        'Train AAM to predict a numeric sample property from the sequences '
        'and abundances of its ASVs, optionally starting from a pretrained '
        'encoder.'),
    citations=_citations,
    examples={'fit_regressor': _examples.fit_regressor},
)

plugin.methods.register_function(
    function=_methods.predict_regression,
    inputs={'table': FeatureTable[Frequency],
            'model': AAMModel[AAMRegressor],
            'sequences': FeatureData[Sequence]},
    parameters={'batch_size': Int % Range(1, None), **device_parameters},
    outputs=[('predictions', SampleData[RegressorPredictions])],
    input_descriptions={'table': input_descriptions['table'],
                        'model': input_descriptions['model_regressor'],
                        'sequences': input_descriptions['sequences']},
    parameter_descriptions={'batch_size': 'Samples per inference batch.',
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
