"""Settings dataclasses: the model's shape, the data rules, the training run.

Each is a plain dataclass so that it round-trips through config.json and so
that callers (the q2 plugin, the `aam` CLI, benchmarks) pass one object
instead of dozens of keyword arguments.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace


@dataclass(frozen=True)
class ModelConfig:
    """Architecture (DESIGN s.3). Presets: tiny (tests), small (CPU), base (GPU)."""
    d_model: int = 64
    n_heads: int = 4
    nucleotide_layers: int = 2
    sample_layers: int = 2
    ff_mult: int = 4
    # Encoder dropout stays 0 by default: noise on the embeddings inflates the
    # train-mode distances, so a UniFrac-trained encoder mis-scales in eval.
    dropout: float = 0.0
    head_dropout: float = 0.1
    max_length: int = 150
    regression_hidden: tuple = (64,)

    @classmethod
    def preset(cls, name: str, **overrides) -> "ModelConfig":
        if name not in PRESETS:
            raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(PRESETS)}.")
        return replace(PRESETS[name], **overrides)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["regression_hidden"] = list(self.regression_hidden)
        return out

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in values.items() if k in known}
        if "regression_hidden" in values:
            values["regression_hidden"] = tuple(values["regression_hidden"])
        return cls(**values)


PRESETS = {
    "tiny": ModelConfig(d_model=32, n_heads=2, nucleotide_layers=1, sample_layers=1,
                        regression_hidden=(32,)),
    "small": ModelConfig(d_model=64, n_heads=4, nucleotide_layers=2, sample_layers=2,
                         regression_hidden=(64,)),
    "base": ModelConfig(d_model=128, n_heads=8, nucleotide_layers=4, sample_layers=4,
                        regression_hidden=(128,)),
}


@dataclass(frozen=True)
class DataConfig:
    """How tables and sequences become batches (DESIGN s.2)."""
    max_length: int = 150       # longest ASV accepted (error beyond, unless truncate)
    truncate: bool = False
    max_asvs: int = 512         # most abundant ASVs kept per sample
    rarefaction_depth: int = 0  # 0: use counts as they are

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TrainConfig:
    """One training run (DESIGN s.4-5). Loss weights of 0 skip the term."""
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    grad_clip: float = 1.0
    validation_fraction: float = 0.1
    patience: int = 10           # epochs without improvement before stopping
    seed: int = 0
    device: str = "auto"         # auto | cpu | cuda
    n_threads: int = 0           # 0: torch's default (all cores)
    mask_ratio: float = 0.15
    nucleotide_weight: float = 1.0
    unifrac_weight: float = 1.0
    target_weight: float = 1.0
    target_loss: str = "huber"   # huber | mse | mae
    normalisation: str = "zscore"  # zscore | minmax | none
    freeze_encoder: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


# Fine-tuning trains the target alone unless auxiliary terms are asked for.
FIT_TRAIN_DEFAULTS = TrainConfig(nucleotide_weight=0.0)
