"""Self-supervised pretraining of an AAM encoder: sample embeddings learn
the given distances (UniFrac), nucleotide tokens the masked nucleotides."""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

from .bundle import ModelBundle
from .config import (DEFAULT_PRESET, PRETRAIN_TRAIN_DEFAULTS, DataConfig, ModelConfig,
                     TrainConfig)
from .data.batching import BatchBuilder
from .data.prepare import distance_block, prepare
from .data.split import check_training_size, validation_split
from .errors import AAMInputError
from .model import AAM
from .model.build import cpu_state, load_weights, new_config, run_record
from .model.ensemble import first_member_state
from .train.device import resolve_device, seed_everything
from .train.loop import TrainingData, fit, log_to_stderr
from .train.objective import Objective, as_tensor


def pretrain(table, sequences=None, distances=None, *, model: str | ModelConfig = DEFAULT_PRESET,
             data: DataConfig = DataConfig(),
             train: TrainConfig = PRETRAIN_TRAIN_DEFAULTS,
             log: Callable[[str], None] = log_to_stderr) -> ModelBundle:
    """Self-supervised encoder: UniFrac pairs (when distances) + masked nucleotides."""
    started = time.perf_counter()
    seed_everything(train)
    prepared = prepare(table, sequences, data, log)
    data = prepared.data  # max_length 0 resolved to the longest sequence
    if distances is None and train.nucleotide_weight <= 0:
        raise AAMInputError("Nothing to pretrain on: give a distance matrix or a "
                            "nucleotide_weight above 0.")
    block = None if distances is None else distance_block(
        distances, prepared.table.sample_ids)
    config = ModelConfig.preset(model) if isinstance(model, str) else model
    architecture = replace(config, max_length=data.max_length)
    device = resolve_device(train.device)
    network = AAM(architecture).to(device)
    train_rows, val_rows = validation_split(prepared.table.n_samples,
                                            train.validation_fraction, train.seed)
    check_training_size(len(train_rows), prepared.table.n_samples,
                        train.validation_fraction)
    training = TrainingData(BatchBuilder(prepared.table.counts, prepared.tokens, data),
                            train_rows, val_rows)
    objective = Objective(train, distances=as_tensor(block))
    log(f"Pretraining on {prepared.table.n_samples} samples, "
        f"{len(prepared.table.feature_ids)} ASVs; objectives: "
        f"{', '.join(objective.weights)}; device {device}.")
    result = fit(network, training, objective, train, device, "loss", log)
    config = new_config("encoder", architecture, data, train, device)
    config["training"]["run"] = run_record(prepared, [(train_rows, val_rows)], 0,
                                           time.perf_counter() - started)
    return ModelBundle(config, cpu_state(network), result.history)


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
