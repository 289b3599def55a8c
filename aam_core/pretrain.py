"""Self-supervised pretraining of an AAM encoder: sample embeddings learn
the given distances (UniFrac or any other), optionally each sample's alpha
diversity, and nucleotide tokens the masked nucleotides."""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

import torch

from .bundle import ModelBundle
from .config import (DEFAULT_PRESET, PRETRAIN_TRAIN_DEFAULTS, DataConfig, ModelConfig,
                     TrainConfig)
from .data.alpha import alpha_targets, zscores
from .data.batching import BatchBuilder
from .data.prepare import distance_block, prepare
from .data.split import check_training_size, validation_split
from .errors import AAMInputError
from .option import check_needs
from .spelling import spelled
from .model import AAM
from .model.build import cpu_state, load_weights, new_config, run_record
from .model.ensemble import first_member_state
from .train.device import resolve_device, seed_everything
from .train.loop import TrainingData, fit, log_to_stderr
from .train.objective import Objective, as_tensor


def pretrain(table, sequences=None, distances=None, *, model: str | ModelConfig = DEFAULT_PRESET,
             data: DataConfig = DataConfig(),
             train: TrainConfig = PRETRAIN_TRAIN_DEFAULTS,
             log: Callable[[str], None] = log_to_stderr,
             alpha_diversity=None) -> ModelBundle:
    """Self-supervised encoder: distance pairs (when distances), alpha
    diversity (a pandas Series by sample id, when given) + masked nucleotides."""
    started = time.perf_counter()
    seed_everything(train)
    prepared = prepare(table, sequences, data, log)
    data = prepared.data  # max_length 0 resolved to the longest sequence
    alpha_diversity = _used_alpha(alpha_diversity, distances, train, log)
    block = None if distances is None else distance_block(
        distances, prepared.table.sample_ids)
    config = ModelConfig.preset(model) if isinstance(model, str) else model
    architecture = replace(config, max_length=data.max_length)
    device = resolve_device(train.device)
    train_rows, val_rows = validation_split(prepared.table.n_samples,
                                            train.validation_fraction, train.seed)
    check_training_size(len(train_rows), prepared.table.n_samples,
                        train.validation_fraction)
    alpha, alpha_block = _alpha(alpha_diversity, prepared.table.sample_ids, train_rows)
    network = AAM(architecture, alpha_head=alpha is not None).to(device)
    training = TrainingData(BatchBuilder(prepared.table.counts, prepared.tokens, data),
                            train_rows, val_rows)
    objective = Objective(train, distances=as_tensor(block), alpha=alpha)
    if objective.distance_scale != 1.0:
        log(f"The distances reach {objective.distance_scale:.4g}: the distance loss "
            "compares embedding distances with distances divided by that.")
    log(f"Pretraining on {prepared.table.n_samples} samples, "
        f"{len(prepared.table.feature_ids)} ASVs; objectives: "
        f"{', '.join(objective.weights)}; device {device}.")
    result = fit(network, training, objective, train, device, "loss", log)
    config = new_config("encoder", architecture, data, train, device)
    config["training"]["run"] = run_record(prepared, [(train_rows, val_rows)], 0,
                                           time.perf_counter() - started)
    config["training"]["distance_scale"] = None if block is None else objective.distance_scale
    config["alpha_diversity"] = alpha_block
    return ModelBundle(config, cpu_state(network), result.history)


def _used_alpha(alpha_diversity, distances, train: TrainConfig, log):
    """The alpha diversity to learn (None when its weight is 0), after
    checking that something is left to pretrain on."""
    check_needs(train, "pretrain")
    if alpha_diversity is None and train.alpha_weight != PRETRAIN_TRAIN_DEFAULTS.alpha_weight:
        raise AAMInputError(
            f"{spelled('alpha_weight', train.alpha_weight)} weighs the alpha-diversity "
            "objective, but no alpha diversity was given, so it would be ignored: give "
            f"the alpha diversity, or leave {spelled('alpha_weight')} at its default.")
    if alpha_diversity is not None and train.alpha_weight <= 0:
        log(f"{spelled('alpha_weight')} is 0: the alpha diversity given is not used.")
        alpha_diversity = None
    if distances is None and alpha_diversity is None and train.nucleotide_weight <= 0:
        raise AAMInputError("Nothing to pretrain on: give a distance matrix, an alpha "
                            f"diversity or a {spelled('nucleotide_weight')} above 0.")
    return alpha_diversity


def _alpha(values, sample_ids, train_rows):
    """(z-scored alpha diversity by dataset row as a tensor, the model's
    record of it), or (None, None) without one."""
    if values is None:
        return None, None
    z, stats = zscores(alpha_targets(values, sample_ids), train_rows)
    name = getattr(values, "name", None)
    return torch.from_numpy(z), {"name": None if name is None else str(name), **stats}


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
