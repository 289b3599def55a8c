"""Networks from saved models: the shape a config describes, its weights,
and the config.json of a newly trained one."""
from __future__ import annotations

import torch

from .. import __version__
from ..config import DataConfig, ModelConfig, TrainConfig
from ..data.tokens import VOCAB
from ..errors import AAMInputError
from .aam import AAM
from .ensemble import Ensemble

# parameters added after the first saved models: absent ones keep their init
OPTIONAL_WEIGHTS = ("abundance_head.",)


def new_config(kind: str, architecture: ModelConfig, data: DataConfig,
               train: TrainConfig, device: torch.device) -> dict:
    """config.json of a model trained now; fitting fills in its target."""
    return {"format_version": 1, "kind": kind,
            "architecture": architecture.to_dict(), "data": data.to_dict(),
            "training": train.to_dict(), "seed": train.random_state, "device": str(device),
            "vocabulary": dict(VOCAB), "target": None, "class_labels": None,
            "conditioning": None,
            "versions": {"aam_core": __version__, "torch": torch.__version__}}


def run_record(prepared, splits, no_target: int, seconds: float) -> dict:
    """config.json's training["run"]: what the run saw and how long it took,
    for summarize. `splits`: (train_rows, validation_rows) of each member;
    samples are counted per member, the same for all but an ensemble's."""
    return {"train_samples": [len(t) for t, _ in splits],
            "validation_samples": [len(v) for _, v in splits],
            "dropped_samples": {"no reads or below the rarefaction depth":
                                int(prepared.n_dropped),
                                "no target value (or not in the metadata)": int(no_target)},
            "asvs": len(prepared.table.feature_ids),
            "seconds": round(float(seconds), 3)}


def network_for(config: dict):
    """An untrained network with the shape a model config describes (an
    Ensemble of such networks for a model fitted with ensemble_size > 1)."""
    size = int(config.get("training", {}).get("ensemble_size", 1))
    if size > 1:
        return Ensemble([_single_network(config) for _ in range(size)])
    return _single_network(config)


def _single_network(config: dict) -> AAM:
    architecture = ModelConfig.from_dict(config["architecture"])
    kind = config["kind"]
    if kind == "classifier":
        return AAM(architecture, "classification", len(config["class_labels"]),
                   config.get("conditioning"))
    if kind == "regressor":
        quantiles = (config.get("target") or {}).get("quantiles")
        return AAM(architecture, "regression", len(quantiles) if quantiles else 1,
                   config.get("conditioning"), monotone=bool(quantiles))
    # an encoder pretrained on alpha diversity (taxonomy) keeps its alpha
    # (taxonomy) heads
    return AAM(architecture, alpha_head=config.get("alpha_diversity") is not None,
               taxonomy_classes=taxonomy_classes(config.get("taxonomy")))


def taxonomy_classes(record: dict | None) -> tuple:
    """The number of classes of each rank of a config's "taxonomy" record:
    the sizes of its taxonomy heads (none without one)."""
    return () if not record else tuple(len(record["classes"][r]) for r in record["ranks"])


def build_model(bundle):
    """The network of a ModelBundle (head and conditioning from its config), with
    its weights, in eval mode on CPU."""
    if not hasattr(bundle, "config") or not hasattr(bundle, "state_dict"):
        raise AAMInputError(f"build_model takes a ModelBundle, not a "
                            f"{type(bundle).__name__}: e.g. api.load('model-directory').")
    return load_weights(network_for(bundle.config), bundle.state_dict).eval()


def load_weights(network, state_dict: dict):
    """Strict loading, except for parameters newer than the saved model."""
    missing, unexpected = network.load_state_dict(state_dict, strict=False)
    missing = [k for k in missing if not _optional_weight(k)]
    if missing or unexpected:
        raise AAMInputError(f"The model's weights do not match its config: missing "
                            f"{missing[:5]}, unexpected {unexpected[:5]}.")
    return network


def _optional_weight(name: str) -> bool:
    if name.startswith("members."):  # an ensemble member's: members.<i>.<name>
        name = name.split(".", 2)[2]
    return name.startswith(OPTIONAL_WEIGHTS)


def load_matching_weights(network: torch.nn.Module, state_dict: dict) -> int:
    """Copy every tensor whose name and shape match; returns how many."""
    own = network.state_dict()
    matching = {k: v for k, v in state_dict.items()
                if k in own and own[k].shape == v.shape}
    network.load_state_dict(matching, strict=False)
    return len(matching)


def cpu_state(network: torch.nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
