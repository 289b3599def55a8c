"""What summarize says about a model's run: the samples and ASVs it saw,
its time, and the training settings that applied to it.

A model's config.json holds every training setting, including those that
had no effect (the quantiles of a huber model, the UniFrac weight of a run
without distances); listing them would suggest they shaped the model. The
objectives that ran are read from the history's columns (a term has a
train_<name> column only if it was trained), the rest from the settings.
Models saved before training.run was recorded say "not recorded".
"""
from aam_core.config import GRADIENT_ONLY, ONE_HEAD

NOT_RECORDED = 'not recorded'
# facts of the run, and settings shown elsewhere on the page
_NOT_SETTINGS = ('run', 'best_epoch', 'seed', 'device')
# setting -> the objective (history term) it belongs to
_OBJECTIVE_SETTINGS = {'unifrac_weight': 'unifrac', 'nucleotide_weight': 'nucleotide',
                       'mask_ratio': 'nucleotide', 'abundance_weight': 'abundance',
                       'abundance_mask_ratio': 'abundance', 'target_weight': 'target',
                       'alpha_weight': 'alpha', 'taxonomy_weight': 'taxonomy',
                       'contrastive_weight': 'contrastive'}
_LOSS_SETTINGS = {'quantiles': 'quantile', 'huber_delta': 'huber',
                  'overprediction_weight': 'asymmetric',
                  'underprediction_weight': 'asymmetric'}
_KIND_SETTINGS = {'loss': 'regressor', 'normalisation': 'regressor',
                  'class_weight': 'classifier', 'label_smoothing': 'classifier',
                  'readout': 'regressor', 'nucleotide_epochs': 'encoder'}
_SCHEDULE_SETTINGS = {'lr_cycles': 'cosine_restarts', 'plateau_patience': 'plateau',
                      'plateau_factor': 'plateau'}
_CUDA_SETTINGS = ('precision', 'compile', 'auto_batch_size')
_PRETRAINED_SETTINGS = ('freeze_encoder', 'freeze_nucleotide_encoder')
_ENSEMBLE_SETTINGS = ('ensemble_size', 'ensemble_validation')
_NOT_RIDGE = GRADIENT_ONLY + ('freeze_encoder',)
# the propagation readout also fits one head whatever the loss: its labels
# spread over a graph, and a new sample takes its neighbours' mean
_NOT_PROPAGATION = _NOT_RIDGE + ONE_HEAD + ('loss',)


# head fields of the architecture, by the kind of model whose head they shape
_HEAD_KINDS = {'regression_hidden': 'regressor', 'residual_head': 'regressor',
               'output_activation': 'regressor', 'output_bounds': 'regressor',
               'classification_hidden': 'classifier',
               'head_dropout': 'regressor classifier'}


def applied_architecture(config: dict) -> dict:
    """The architecture fields that shape this model (no regression head
    fields for a classifier or an encoder, and so on)."""
    # the ridge and propagation readouts' heads have no layer to drop out
    readout = (config.get('training') or {}).get('readout', 'fine_tune')
    return {name: value for name, value in config['architecture'].items()
            if config['kind'] in _HEAD_KINDS.get(name, config['kind'])
            and not (name == 'head_dropout' and readout in ('ridge', 'propagation'))}


def calibration_text(calibration: dict) -> str:
    return (f"{calibration['level']:.0%} interval: prediction ± "
            f"{calibration['margin']:.4g} ({calibration.get('method', '')}, "
            f"n = {calibration.get('n', '?')})")


def _applies(name: str, value, config: dict, terms: set, epochs_run: int) -> bool:
    training = config['training']
    checks = [
        # it acts only when the encoder is frozen before the run ends
        name != 'nucleotide_epochs' or 0 < int(value) < epochs_run,
        name not in _OBJECTIVE_SETTINGS or _OBJECTIVE_SETTINGS[name] in terms,
        name not in _LOSS_SETTINGS or (config['kind'] == 'regressor'
                                       and training.get('loss') == _LOSS_SETTINGS[name]),
        name != 'expert_balance' or (
            config['kind'] == 'regressor'
            and int(config['architecture'].get('regression_experts', 1)) > 1),
        name not in _KIND_SETTINGS or config['kind'] == _KIND_SETTINGS[name],
        name not in _SCHEDULE_SETTINGS
        or training.get('scheduler') == _SCHEDULE_SETTINGS[name],
        name not in _CUDA_SETTINGS or config['device'].startswith('cuda'),
        name not in _PRETRAINED_SETTINGS or bool(training.get('pretrained')),
        name not in _ENSEMBLE_SETTINGS or int(training.get('ensemble_size', 1)) > 1,
        name != 'patience' or float(training.get('validation_fraction', 0)) > 0,
        name != 'find_learning_rate' or bool(value),
        # the ridge and propagation readouts fit a frozen encoder's head
        # without a gradient step
        training.get('readout') not in ('ridge', 'propagation') or name not in _NOT_RIDGE,
        training.get('readout') != 'propagation' or name not in _NOT_PROPAGATION,
        # the ridge readout's fit is least squares: 'huber' is read as 'mse'
        training.get('readout') != 'ridge' or name != 'loss' or value != 'huber',
    ]
    return all(checks)


def applied_training(config: dict, history) -> dict:
    """The training settings that applied to this model."""
    terms = {column[len('train_'):] for column in history.columns
             if column.startswith('train_')}
    epochs_run = int(history['epoch'].max()) if 'epoch' in history and len(history) else 0
    return {name: value for name, value in config['training'].items()
            if name not in _NOT_SETTINGS
            and _applies(name, value, config, terms, epochs_run)}


def _per_member(values) -> str:
    if values is None:
        return NOT_RECORDED
    if len(set(values)) == 1:
        return f'{values[0]:,}' + (' (each member)' if len(values) > 1 else '')
    return ', '.join(f'{v:,}' for v in values) + ' (members 1, 2, ...)'


def duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f'{hours} h {minutes:02d} min'
    return f'{minutes} min {seconds:02d} s' if minutes else f'{seconds} s'


def run_facts(config: dict) -> dict:
    """Overview rows: samples trained and validated on, samples dropped,
    ASVs, total training time."""
    run = config['training'].get('run') or {}
    dropped = run.get('dropped_samples')
    return {
        'training samples': _per_member(run.get('train_samples')),
        'validation samples': _per_member(run.get('validation_samples')),
        'dropped samples': NOT_RECORDED if dropped is None else (
            f'{sum(dropped.values()):,}' + (' (' + '; '.join(
                f'{reason}: {n:,}' for reason, n in dropped.items() if n) + ')'
                if any(dropped.values()) else '')),
        'ASVs (features of the table)': NOT_RECORDED if run.get('asvs') is None
        else f"{run['asvs']:,}",
        'total training time': NOT_RECORDED if run.get('seconds') is None
        else duration(run['seconds']),
        **_taxonomy_facts(config.get('taxonomy')),
    }


def _taxonomy_facts(taxonomy) -> dict:
    """A row for an encoder pretrained on a taxonomy: the ASVs it covered
    and the classes of each rank its heads learned."""
    if not taxonomy:
        return {}
    ranks = ', '.join(f"{rank} {len(taxonomy['classes'][rank])}"
                      for rank in taxonomy['ranks'])
    return {'taxonomy (pretraining)': f"{taxonomy['asvs']:,} ASVs; classes: {ranks}"}
