"""Self-supervised pretraining of an AAM encoder: sample embeddings learn
the given distances (UniFrac or any other), optionally each sample's alpha
diversity, ASV vectors optionally each ASV's taxonomy, and nucleotide tokens
the masked nucleotides."""
from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Callable

import torch

from .arguments import SCALARS, by_sample, check_settings
from .bundle import ModelBundle
from .config import (DEFAULT_PRESET, PRETRAIN_TRAIN_DEFAULTS, DataConfig, ModelConfig,
                     TrainConfig)
from .data.alpha import alpha_targets, zscores
from .data.batching import BatchBuilder
from .data.prepare import distance_block, prepare
from .data.taxonomy import taxonomy_labels
from .data.split import check_training_size, validation_split
from .errors import AAMInputError, kind_of
from .option import AUTO, check_applies, check_needs
from .spelling import interface, spelled, spelled_input
from .model import AAM
from .model.build import cpu_state, load_weights, new_config, run_record, taxonomy_classes
from .model.ensemble import first_member_state
from .train.device import resolve_device, seed_everything
from .train.distributed import Runtime
from .train.loop import TrainingData, fit, log_to_stderr
from .train.objective import Objective, as_tensor

# nucleotide_epochs 'auto': the nucleotide encoder trains 3 of every 8 epochs
# (its masked-nucleotide loss has mostly converged after 3 of the default 8:
# docs/label-efficiency.md, "The nucleotide encoder frozen after 3 epochs")
AUTO_NUCLEOTIDE_SHARE = 3 / 8
# epochs 'auto': 8, or enough for AUTO_STEPS optimizer steps, at most
# AUTO_MAX_EPOCHS. The default recipe was measured at 8 epochs of 170-190
# steps (oral-age's training folds, ~1,450 samples at 64; 16 epochs level);
# a cohort of 211 samples took 24 steps in 8 epochs, and its readout was
# better after 64 epochs of 2 steps (docs/label-efficiency.md, "A small
# table: pretraining epochs from optimizer steps")
AUTO_EPOCHS, AUTO_STEPS, AUTO_MAX_EPOCHS = 8, 128, 64

def pretrain(table, sequences=None, distances=None, *, model: str | ModelConfig = DEFAULT_PRESET,
             data: DataConfig = DataConfig(),
             train: TrainConfig = PRETRAIN_TRAIN_DEFAULTS,
             log: Callable[[str], None] = log_to_stderr,
             alpha_diversity=None, taxonomy=None,
             runtime: Runtime | None = None) -> ModelBundle:
    """Self-supervised encoder: distance pairs (when distances), alpha
    diversity (a pandas Series by sample id, when given), taxonomy (lineages
    by feature id: a Series, or a frame with a 'Taxon' column, when given)
    + masked nucleotides. runtime: the processes, checkpoints and tracker
    to train with (default: the processes this one has joined)."""
    started = time.perf_counter()
    check_settings(model, data, train, log, defaults="PRETRAIN_TRAIN_DEFAULTS")
    alpha_diversity, taxonomy = _checked_columns(alpha_diversity, taxonomy)
    seed_everything(train)
    runtime = runtime or Runtime.joined()
    prepared = prepare(table, sequences, data, log)
    data = prepared.data  # max_length 0 resolved to the longest sequence
    train_rows, val_rows = validation_split(prepared.table.n_samples,
                                            train.validation_fraction, train.random_state)
    train = settled_epochs(train, len(train_rows), runtime.dist.world_size, log)
    alpha_diversity, taxonomy, train = _used_targets(alpha_diversity, taxonomy, distances,
                                                     train, log)
    block = None if distances is None else distance_block(
        distances, prepared.table.sample_ids)
    config = ModelConfig.preset(model) if isinstance(model, str) else model
    architecture = replace(config, max_length=data.max_length)
    device = resolve_device(train.device)
    check_training_size(len(train_rows), prepared.table.n_samples,
                        train.validation_fraction)
    alpha, alpha_block = _alpha(alpha_diversity, prepared.table.sample_ids, train_rows)
    labels, taxonomy_block = _taxonomy(taxonomy, prepared.table.feature_ids, log)
    network = AAM(architecture, alpha_head=alpha is not None,
                  taxonomy_classes=taxonomy_classes(taxonomy_block)).to(device)
    training = TrainingData(BatchBuilder(prepared.table.counts, prepared.tokens, data),
                            train_rows, val_rows)
    objective = Objective(train, distances=as_tensor(block), alpha=alpha, taxonomy=labels)
    if objective.distance_scale != 1.0:
        log(f"The distances reach {objective.distance_scale:.4g}: the distance loss "
            "compares embedding distances with distances divided by that.")
    log(f"Pretraining on {prepared.table.n_samples} samples, "
        f"{len(prepared.table.feature_ids)} ASVs; objectives: "
        f"{', '.join(objective.weights)}; device {device}.")
    result = fit(network, training, objective, train, device, "loss", log, runtime)
    config = new_config("encoder", architecture, data, train, device)
    config["training"]["run"] = run_record(prepared, [(train_rows, val_rows)], 0,
                                           time.perf_counter() - started)
    config["training"]["distance_scale"] = None if block is None else objective.distance_scale
    config["alpha_diversity"] = alpha_block
    config["taxonomy"] = taxonomy_block
    return ModelBundle(config, cpu_state(network), result.history)


def settled_epochs(train: TrainConfig, n_train: int, world_size: int, log) -> TrainConfig:
    """train with epochs 'auto' settled: AUTO_EPOCHS, or as many as give
    AUTO_STEPS optimizer steps on n_train samples (each process takes
    batch_size of them a step, full batches only), at most AUTO_MAX_EPOCHS."""
    if train.epochs != AUTO:
        return train
    steps = max(1, n_train // (train.batch_size * world_size * max(1, train.accumulation_steps)))
    epochs = min(AUTO_MAX_EPOCHS, max(AUTO_EPOCHS, math.ceil(AUTO_STEPS / steps)))
    if epochs > AUTO_EPOCHS:
        log(f"{spelled('epochs', AUTO)}: {epochs} epochs, {steps} optimizer step(s) each on "
            f"{n_train} training samples (8 epochs would be {AUTO_EPOCHS * steps} steps; "
            f"the default aims at {AUTO_STEPS}).")
    return replace(train, epochs=epochs)


def check_objectives(train: TrainConfig, distances=None, alpha_diversity=None,
                     taxonomy=None) -> None:
    """Refuse, before any process starts, what pretrain would refuse from
    its objectives (the inputs given, their weights, nucleotide_epochs):
    the checks read no data, so a launcher of several processes runs them
    first and its user hears the refusal at once, not from each process."""
    _used_targets(alpha_diversity, taxonomy, distances, train, lambda message: None)


def _defaults(weight: str) -> tuple:
    """A weight's default where the call came from: the actions' and the
    `aam` command's pretraining default, and in Python also TrainConfig()'s,
    which the library's own pretrain(train=TrainConfig()) passes."""
    defaults = (getattr(PRETRAIN_TRAIN_DEFAULTS, weight),)
    return defaults + ((getattr(TrainConfig(), weight),) if interface() == "python" else ())


def _checked_columns(alpha_diversity, taxonomy):
    """alpha_diversity as a Series by sample id (one value each) and a
    taxonomy that is a column or a frame, refused by name otherwise."""
    if isinstance(taxonomy, SCALARS):
        raise AAMInputError(f"taxonomy= must be a pandas Series of lineages by feature id "
                            f"(or a DataFrame with a 'Taxon' column), not "
                            f"{kind_of(taxonomy)}: e.g. pd.read_csv(path, sep='\\t', "
                            "index_col=0)['Taxon'].")
    return by_sample(alpha_diversity, "alpha_diversity"), taxonomy


def _used_targets(alpha_diversity, taxonomy, distances, train: TrainConfig, log):
    """(the alpha diversity and taxonomy to learn (None where the weight is
    0), train with nucleotide_epochs settled), after checking that something
    is left to pretrain on and that no weight is set for an input that was
    not given."""
    check_applies(train, "pretrain")
    check_needs(train, "pretrain")
    for weight, given, objective, what in (
            ("alpha_weight", alpha_diversity, "alpha-diversity", "alpha diversity"),
            ("taxonomy_weight", taxonomy, "taxonomy", "taxonomy"),
            ("unifrac_weight", distances, "distance", "distance matrix")):
        value = getattr(train, weight)
        if given is None and value not in (0, *_defaults(weight)):
            raise AAMInputError(
                f"{spelled(weight, value)} weighs the {objective} objective, but no "
                f"{what} was given, so it would be ignored: give the {what}, or leave "
                f"{spelled(weight)} at its default.")
    unweighted = []  # inputs given whose weight is 0: they train nothing
    if alpha_diversity is not None and train.alpha_weight <= 0:
        log(f"{spelled('alpha_weight')} is 0: the alpha diversity given is not used.")
        alpha_diversity, unweighted = None, unweighted + [("alpha_weight", "alpha diversity")]
    if taxonomy is not None and train.taxonomy_weight <= 0:
        log(f"{spelled('taxonomy_weight')} is 0: the taxonomy given is not used.")
        taxonomy = None
    if distances is not None and train.unifrac_weight <= 0:
        log(f"{spelled('unifrac_weight')} is 0: the distance matrix given is not used.")
        distances, unweighted = None, unweighted + [("unifrac_weight", "distance matrix")]
    if (distances is None and alpha_diversity is None and taxonomy is None
            and train.nucleotide_weight <= 0 and train.contrastive_weight <= 0):
        raise AAMInputError(f"Nothing to pretrain on{_unused(unweighted)}: give a distance "
                            "matrix, an alpha diversity (each with its weight above 0), a "
                            f"taxonomy, a {spelled('nucleotide_weight')} or a "
                            f"{spelled('contrastive_weight')} above 0.")
    settled = settled_nucleotide_epochs(
        train, distances is not None or alpha_diversity is not None, unweighted)
    if train.nucleotide_epochs == AUTO and settled.nucleotide_epochs:
        log(f"{spelled('nucleotide_epochs', AUTO)}: the nucleotide encoder trains "
            f"{settled.nucleotide_epochs} of the {settled.epochs} epochs (3 of every 8).")
    return alpha_diversity, taxonomy, settled


def settled_nucleotide_epochs(train: TrainConfig, trains_samples: bool,
                              unweighted: list = ()) -> TrainConfig:
    """train, its nucleotide_epochs checked: it must freeze the nucleotide
    encoder before the last epoch (else it is ignored), and leave an
    objective that trains the sample encoder after it. 'auto' is a share of
    the epochs (3 of every 8, so a longer run does not freeze the encoder
    while its learning rate warms up), and asks for the freeze only where it
    can act and where the masked-nucleotide loss, which has mostly converged
    by then, trains the encoder; other runs train it every epoch (0), as its
    help says. unweighted: (weight, input) of inputs given with their weight
    at 0."""
    after, epochs = train.nucleotide_epochs, train.epochs
    trains_samples = (trains_samples or train.contrastive_weight > 0
                      or train.abundance_weight > 0)
    if epochs == AUTO:  # before the data are read (check_objectives): settled later
        epochs = AUTO_MAX_EPOCHS if after == AUTO else max(AUTO_EPOCHS, after + 1)
    if after == AUTO:
        after = math.ceil(AUTO_NUCLEOTIDE_SHARE * epochs)
        if after >= epochs or not trains_samples or train.nucleotide_weight <= 0:
            after = 0
        return replace(train, nucleotide_epochs=after)
    if after and after >= epochs:
        raise AAMInputError(
            f"{spelled('nucleotide_epochs', after)} freezes the nucleotide encoder after "
            f"that many epochs, but {spelled('epochs', epochs)} ends the run first, so it "
            f"would be ignored: set it below {spelled('epochs')}, set it to 0 (the "
            "nucleotide encoder trains every epoch), or leave out "
            f"{spelled('nucleotide_epochs')} ({AUTO}: 3 of every 8 epochs).")
    if after and not trains_samples:
        raise AAMInputError(
            f"{spelled('nucleotide_epochs', after)} freezes the nucleotide encoder after "
            f"that many of the {spelled('epochs', epochs)}, and no other objective trains "
            f"the sample encoder in the rest{_unused(unweighted)}: give a distance "
            "matrix, an alpha diversity (each with its weight above 0), a "
            f"{spelled('contrastive_weight')} or an {spelled('abundance_weight')} above 0, "
            f"or leave out {spelled('nucleotide_epochs')} ({AUTO} trains it every epoch "
            "in such a run).")
    return train


def _unused(unweighted: list) -> str:
    """'; the distance matrix given is not used with --p-unifrac-weight 0'
    for each input given with its weight at 0 (its log line shows in q2cli
    only with --verbose)."""
    return "".join(f"; the {what} given is not used with {spelled(weight)} 0"
                   for weight, what in unweighted)


def _alpha(values, sample_ids, train_rows):
    """(z-scored alpha diversity by dataset row as a tensor, the model's
    record of it), or (None, None) without one."""
    if values is None:
        return None, None
    z, stats = zscores(alpha_targets(values, sample_ids), train_rows)
    name = getattr(values, "name", None)
    return torch.from_numpy(z), {"name": None if name is None else str(name), **stats}


def _taxonomy(taxonomy, feature_ids, log):
    """(taxonomic class of each table column and rank as a tensor, -1 where
    unknown; the model's record of the ranks and classes), or (None, None)."""
    if taxonomy is None:
        return None, None
    labels, record = taxonomy_labels(
        taxonomy, feature_ids, fix=f"Give {spelled_input('taxonomy')} the taxonomy of "
        "this table's features (e.g. from qiime feature-classifier), or leave it out.",
        source=f"the taxonomy ({spelled_input('taxonomy')})")
    log(f"Taxonomy: {record['asvs']} of {len(feature_ids)} ASVs; ranks "
        + ", ".join(f"{rank} ({len(record['classes'][rank])} classes, "
                    f"{record['labelled'][rank]} ASVs)" for rank in record["ranks"]) + ".")
    return torch.from_numpy(labels), record


def encoder_of(bundle):
    """The encoder of a fitted model as an 'encoder' ModelBundle: its
    nucleotide and sample encoders (an ensemble's first member's, as
    fitting from an ensemble starts from), without head or conditioning,
    so that it can be embedded with or fine-tuned again like a pretrained
    one."""
    config = dict(bundle.config, kind="encoder", target=None, class_labels=None,
                  conditioning=None)
    config["training"] = dict(config["training"], ensemble_size=1,
                              encoder_of=bundle.kind)
    network = AAM(ModelConfig.from_dict(config["architecture"]))
    own = network.state_dict()
    state = {name: tensor.clone() for name, tensor
             in first_member_state(bundle.state_dict).items() if name in own}
    load_weights(network, state)  # every encoder tensor is there
    return ModelBundle(config, state, bundle.history)
