"""Self-supervised pretraining of an AAM encoder: sample embeddings learn
the given distances (UniFrac, Bray-Curtis, Aitchison... any distance matrix)
and, optionally, each sample's alpha diversity; nucleotide tokens learn the
masked nucleotides."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import torch

from .bundle import ModelBundle
from .config import PRETRAIN_TRAIN_DEFAULTS, DataConfig, ModelConfig, TrainConfig
from .data.alpha import alpha_targets, zscores
from .data.batching import BatchBuilder
from .data.prepare import distance_block, prepare
from .data.split import validation_split
from .errors import AAMInputError
from .model import AAM
from .model.build import cpu_state, new_config
from .train.device import resolve_device, seed_everything
from .train.loop import TrainingData, fit, log_to_stderr
from .train.objective import Objective, as_tensor


def pretrain(table, sequences=None, distances=None, *, model: str | ModelConfig = "small",
             data: DataConfig = DataConfig(),
             train: TrainConfig = PRETRAIN_TRAIN_DEFAULTS,
             log: Callable[[str], None] = log_to_stderr,
             alpha_diversity=None) -> ModelBundle:
    """Self-supervised encoder: distance pairs (when distances), alpha
    diversity (a pandas Series by sample id, when given) + masked nucleotides."""
    seed_everything(train)
    prepared = prepare(table, sequences, data, log)
    if alpha_diversity is not None and train.alpha_weight <= 0:
        log("alpha_weight is 0: the alpha diversity given is not used.")
        alpha_diversity = None
    if distances is None and alpha_diversity is None and train.nucleotide_weight <= 0:
        raise AAMInputError("Nothing to pretrain on: give a distance matrix, an alpha "
                            "diversity or a nucleotide_weight above 0.")
    block = None if distances is None else distance_block(
        distances, prepared.table.sample_ids)
    config = ModelConfig.preset(model) if isinstance(model, str) else model
    architecture = replace(config, max_length=data.max_length)
    device = resolve_device(train.device)
    train_rows, val_rows = validation_split(prepared.table.n_samples,
                                            train.validation_fraction, train.seed)
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
    config["training"]["distance_scale"] = None if block is None else objective.distance_scale
    config["alpha_diversity"] = alpha_block
    return ModelBundle(config, cpu_state(network), result.history)


def _alpha(values, sample_ids, train_rows):
    """(z-scored alpha diversity by dataset row as a tensor, the model's
    record of it), or (None, None) without one."""
    if values is None:
        return None, None
    z, stats = zscores(alpha_targets(values, sample_ids), train_rows)
    name = getattr(values, "name", None)
    return torch.from_numpy(z), {"name": None if name is None else str(name), **stats}
