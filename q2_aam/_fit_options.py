"""Fine-tuning options of fit-regressor and fit-classifier (and the training
options pretrain shares): their QIIME 2 parameter types and descriptions,
and their translation into aam_core settings.

Kept out of plugin_setup.py because the two fit actions share almost all of
them; every default is aam_core's (config.py), so the plugin, the library
and the `aam` CLI cannot drift apart. torch is not imported here.
"""
import qiime2
from qiime2.plugin import (Bool, Categorical, Choices, Float, Int, List, Metadata,
                           MetadataColumn, Numeric, Range, Str)

from aam_core.config import ConditioningConfig, ModelConfig, TrainConfig

_T = TrainConfig()
_C = ConditioningConfig()
_M = ModelConfig()

# the same choices as aam_core (checked in tests/plugin/test_classifier_plugin.py)
FUSIONS = ['none', 'add', 'concat', 'film', 'cross_attention']
SCHEDULERS = ['cosine', 'cosine_restarts', 'plateau']
PRECISIONS = ['auto', 'fp32', 'bf16', 'fp16']
REGRESSION_LOSSES = ['huber', 'mse', 'mae', 'quantile', 'asymmetric']
ACTIVATIONS = ['none', 'softplus', 'exp']

# -- training options: pretrain and both fit actions -------------------------

TRAINING_OPTIONS = {
    'scheduler': Str % Choices(SCHEDULERS),
    'lr_cycles': Int % Range(1, None),
    'plateau_patience': Int % Range(1, None),
    'accumulation_steps': Int % Range(1, None),
    'precision': Str % Choices(PRECISIONS),
    'compile': Bool,
    'gradient_checkpointing': Bool,
    'auto_batch_size': Bool,
    'abundance_weight': Float % Range(0, None),
    'abundance_mask_ratio': Float % Range(0, 1, inclusive_start=False),
}
TRAINING_OPTION_DESCRIPTIONS = {
    'scheduler': (
        "Learning-rate schedule after the warm-up: 'cosine' decays to 0 over "
        "the run; 'cosine_restarts' runs lr_cycles cosine decays, each "
        "restarting at the peak rate; 'plateau' keeps the rate until the "
        'selection metric stops improving for plateau_patience epochs, then '
        'halves it.'),
    'lr_cycles': "Number of cosine cycles of the 'cosine_restarts' schedule.",
    'plateau_patience': (
        "Epochs without improvement before the 'plateau' schedule halves "
        'the learning rate.'),
    'accumulation_steps': (
        'Accumulate gradients over this many batches per optimizer step '
        '(an effective batch of batch_size x accumulation_steps samples).'),
    'precision': (
        "Arithmetic on CUDA: 'auto' and 'bf16' use bfloat16 autocast, "
        "'fp16' float16 autocast with loss scaling, 'fp32' full precision. "
        'CPU always trains in float32 (reproducible from the seed).'),
    'compile': (
        'Compile the model with torch.compile (faster steps on GPU after a '
        'compilation of a minute or so; needs a C++ compiler).'),
    'gradient_checkpointing': (
        'Recompute the activations of both encoders in the backward pass '
        'instead of storing them: less memory (larger batches or models) '
        'for about a third more compute.'),
    'auto_batch_size': (
        'On CUDA, measure the memory of one training step on the largest '
        'samples; when a batch of batch_size does not fit in the free GPU '
        'memory, split it into smaller batches and accumulate their '
        'gradients. No effect on CPU, where batch_size is used as given.'),
    'abundance_weight': (
        'Weight of the masked-abundance objective: the abundance input of a '
        'random share of each sample\'s ASVs is hidden and the model '
        'predicts it (MSE on log relative abundance). 0 skips it.'),
    'abundance_mask_ratio': (
        'Share of ASVs whose abundance is hidden for the abundance objective.'),
}

# -- fine-tuning: both fit actions ----------------------------------------------

FINETUNE_INPUTS_DESCRIPTIONS = {
    'distance_matrix': (
        'Distances between the samples (e.g. UniFrac) for an auxiliary loss '
        'during fine-tuning: sample embeddings keep reproducing them, with '
        'weight unifrac_weight. Optional; must cover the samples.'),
}

FINETUNE_PARAMETERS = {
    'conditioning': Metadata,
    'fusion': Str % Choices(FUSIONS),
    'conditional_output': Bool,
    'hierarchical': Bool,
    'loss_weights': MetadataColumn[Categorical | Numeric],
    'unknown_rate': Float % Range(0, 1, inclusive_end=False),
    'hidden_width': Int % Range(0, None),
    'head_dropout': Float % Range(0, 1, inclusive_end=False),
    'freeze_nucleotide_encoder': Bool,
    'ensemble_size': Int % Range(1, None),
    'unifrac_weight': Float % Range(0, None),
    'find_learning_rate': Bool,
    **TRAINING_OPTIONS,
}
FINETUNE_DESCRIPTIONS = {
    'conditioning': (
        'Categorical sample metadata (site, season, sex, study...) the '
        'model is conditioned on: every column of it is used, so pass a '
        'file (or files) with only those columns, never the target or the '
        'subject. Numeric columns are read as categories. Missing values, '
        'and categories not seen in training (also at prediction), use a '
        "reserved 'unknown' embedding. Pass the same metadata to the "
        'predict actions.'),
    'fusion': (
        "How the category embeddings enter the model: 'add' adds them to the "
        "sample embedding; 'concat' concatenates them with it and projects "
        "back; 'film' scales and shifts the sample embedding by learned "
        "functions of them; 'cross_attention' lets every ASV token attend to "
        'one token per column (plus a learned null token, so that even with '
        'one column each ASV chooses how much of its category to take in) '
        "before the sample encoder's blocks; 'none' uses the columns only "
        'for the output scaling.'),
    'conditional_output': (
        'Learn a scale and a bias of the output per category (summed over '
        'the columns), starting at 1 and 0.'),
    'hierarchical': (
        'Treat nested conditioning columns as a hierarchy: when every '
        'category of one column lies within one category of another (city '
        "within country), the child's embedding adds its parent's, so an "
        'unseen city still carries its country.'),
    'loss_weights': (
        'Weights of the samples in the loss. A categorical column weighs '
        'each category by its inverse frequency among the training samples '
        '(every category then counts the same in total); a numeric column '
        'gives each sample its weight (give the samples of a category the '
        "same value to set per-category weights). Samples without a value "
        'weigh 1.'),
    'unknown_rate': (
        "Share of the training samples' categories replaced by 'unknown' at "
        'random, so that the unknown embedding is learned for samples with '
        'missing or new categories.'),
    'hidden_width': (
        'Width of the hidden layers of the head; 0 uses the model width '
        '(d_model).'),
    'head_dropout': "Dropout in the head's hidden layers.",
    'freeze_nucleotide_encoder': (
        "Keep the pretrained model's nucleotide encoder fixed and train the "
        'sample encoder and head: every ASV is then encoded once and its '
        'vector cached (about 10x faster per epoch), and the '
        'masked-nucleotide loss is skipped. Without a pretrained_model it '
        'has no effect: a random nucleotide encoder has to learn.'),
    'ensemble_size': (
        'Fit this many models, each with its own random seed '
        '(random_state, random_state + 1, ...) and its own grouped '
        'validation split for early stopping, and predict their mean (the '
        'mean class probabilities for a classifier). Averaging cuts the '
        'variance of a model fitted on a few hundred samples; fitting takes '
        'ensemble_size times as long. 1 fits a single model.'),
    'unifrac_weight': (
        'Weight of the auxiliary UniFrac loss (only with a distance_matrix); '
        '0 skips it.'),
    'find_learning_rate': (
        'Run a learning-rate range test first (a few dozen steps with a '
        'growing rate, weights restored after) and train with its suggested '
        'rate instead of learning_rate.'),
    **TRAINING_OPTION_DESCRIPTIONS,
}

REGRESSION_PARAMETERS = {
    'loss': Str % Choices(REGRESSION_LOSSES),
    'quantiles': List[Float % Range(0, 1, inclusive_start=False,
                                    inclusive_end=False)],
    'huber_delta': Float % Range(0, None, inclusive_start=False),
    'overprediction_weight': Float % Range(0, None),
    'underprediction_weight': Float % Range(0, None),
    'normalise_by': MetadataColumn[Categorical],
    'hidden_layers': Int % Range(0, None),
    'residual_head': Bool,
    'output_activation': Str % Choices(ACTIVATIONS),
    'lower_bound': Float % Range(None, None),
    'upper_bound': Float % Range(None, None, inclusive_end=True),
    'selection_metric': Str % Choices(['auto', 'loss', 'mae', 'rmse', 'r2']),
}
REGRESSION_DESCRIPTIONS = {
    'loss': (
        "Loss on the (normalised) target: 'huber', 'mse', 'mae', 'quantile' "
        '(pinball loss on every one of quantiles at once; the median is the '
        'prediction and predict-regression-interval returns the outer '
        "quantiles as bounds), 'asymmetric' (squared error weighted by "
        'overprediction_weight above the truth and underprediction_weight '
        'below it).'),
    'quantiles': (
        "Quantiles the 'quantile' loss fits, e.g. 0.1 0.5 0.9 (the default). "
        'The prediction is the one closest to 0.5.'),
    'huber_delta': "Where the 'huber' loss turns from squared to linear, in normalised units.",
    'overprediction_weight': "'asymmetric' loss: weight of predictions above the truth.",
    'underprediction_weight': "'asymmetric' loss: weight of predictions below the truth.",
    'normalise_by': (
        'Normalise the target per category of this column (statistics of '
        'the training samples of each category; categories unseen in '
        'training use the global statistics, with a warning). It need not '
        'be a conditioning column; at prediction the column of the same '
        'name is read from the conditioning metadata. Without it: one '
        'normalisation for all samples.'),
    'hidden_layers': 'Number of hidden layers of the head (0: linear).',
    'residual_head': (
        'Use residual blocks (x + MLP(LayerNorm(x)), of the hidden_sizes '
        'inner widths) in the head instead of a plain MLP.'),
    'output_activation': (
        "'softplus' or 'exp' keep predictions non-negative in the target's "
        "units (e.g. for counts or concentrations); 'none' leaves them free."),
    'lower_bound': (
        'Predictions stay above this value (sigmoid between the bounds when '
        'both are given); -inf: no lower bound. Not with an '
        'output_activation.'),
    'upper_bound': 'Predictions stay below this value; inf: no upper bound.',
    'selection_metric': (
        "Validation metric that picks the best epoch and stops early: 'auto' "
        "(mae), 'loss', 'mae', 'rmse' or 'r2'."),
}

CLASSIFICATION_PARAMETERS = {
    'hidden_layers': Int % Range(0, None),
    'class_weight': Str % Choices(['none', 'balanced']),
    'selection_metric': Str % Choices(['auto', 'loss', 'accuracy', 'f1', 'auroc']),
}
CLASSIFICATION_DESCRIPTIONS = {
    'hidden_layers': 'Number of hidden layers of the head (0: linear).',
    'class_weight': (
        "'balanced' weighs each class by n / (k * n_class) in the "
        "cross-entropy (as scikit-learn's), so rare classes count as much as "
        "common ones; 'none' weighs all samples equally."),
    'selection_metric': (
        "Validation metric that picks the best epoch and stops early: 'auto' "
        "(the loss), 'loss', 'accuracy', 'f1' (macro) or 'auroc' (macro, "
        'one-vs-rest).'),
}

PREDICT_PARAMETERS = {'conditioning': Metadata}
PREDICT_DESCRIPTIONS = {
    'conditioning': (
        'The conditioning metadata of the samples, for a model fitted with '
        'conditioning (the columns it was fitted on are taken from it). '
        "Missing samples, columns or categories use the 'unknown' "
        'embedding, with a message; without it every sample is unknown.'),
}

# -- translation into aam_core settings ---------------------------------------


def conditioning_config(params: dict, frame) -> ConditioningConfig:
    """The library's settings; `frame` is the conditioning DataFrame."""
    parents = ()
    if params['hierarchical'] and frame is not None:
        from aam_core.model.conditioning import nested_columns
        parents = nested_columns(frame)
    weights = params.get('loss_weights')
    normalise_by = params.get('normalise_by')
    return ConditioningConfig(
        fusion=params['fusion'], output_scaling=params['conditional_output'],
        parents=parents, unknown_rate=params['unknown_rate'],
        normalise_by='' if normalise_by is None else normalise_by.name,
        weight_by=weights.name if _is_categorical(weights) else '')


def categories(params: dict):
    """Columns used only to normalise or weight (not fed to the model)."""
    columns = [params.get('normalise_by'), params.get('loss_weights')]
    columns = [c for c in columns if _is_categorical(c)]
    if not columns:
        return None
    import pandas as pd
    return pd.concat([c.to_series() for c in columns], axis=1)


def sample_weights(params: dict):
    weights = params.get('loss_weights')
    if weights is None or _is_categorical(weights):
        return None
    return weights.to_series()


def _is_categorical(column) -> bool:
    return isinstance(column, qiime2.CategoricalMetadataColumn)


def head_options(params: dict, kind: str) -> dict:
    """ModelConfig head fields from the action's parameters."""
    pretrained = params.get('pretrained_model')
    d_model = (pretrained.config['architecture']['d_model'] if pretrained
               is not None else ModelConfig.preset(params['preset']).d_model)
    width = params['hidden_width'] or d_model
    options = {'head_dropout': params['head_dropout'],
               f'{kind}_hidden': (width,) * params['hidden_layers']}
    if kind == 'regression':
        bounds = tuple(None if abs(b) == float('inf') else b
                       for b in (params['lower_bound'], params['upper_bound']))
        options.update(head_residual=params['residual_head'],
                       output_activation=params['output_activation'],
                       output_bounds=bounds)
    return options
