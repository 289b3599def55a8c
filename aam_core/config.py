"""Settings dataclasses: the model's shape, the data rules, the training run.

Each is a plain dataclass so that it round-trips through config.json and so
that callers (the q2 plugin, the `aam` CLI, benchmarks) pass one object
instead of dozens of keyword arguments.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from .errors import AAMInputError


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
    # k-mer composition of each ASV (a learned embedding of its overlapping
    # k-mers, averaged) added to the transformer's ASV vector: a cheap,
    # sequence-derived fingerprint that still generalises to unseen ASVs.
    # 0 turns it off.
    kmer_size: int = 0
    regression_hidden: tuple = (64,)
    # Head options (model/heads.py). Fine-tuning takes them from the caller
    # even when the encoder fields come from a pretrained model (HEAD_FIELDS).
    head_residual: bool = False      # residual MLP blocks instead of a plain MLP
    output_activation: str = "none"  # none | softplus | exp: non-negative output
    output_bounds: tuple = (None, None)  # (lower, upper) in target units; None: open
    classification_hidden: tuple = ()  # () is a linear classifier

    @classmethod
    def preset(cls, name: str, **overrides) -> "ModelConfig":
        if name not in PRESETS:
            raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(PRESETS)}.")
        return replace(PRESETS[name], **overrides)

    def to_dict(self) -> dict:
        out = asdict(self)
        for name in _TUPLE_FIELDS:
            out[name] = list(getattr(self, name))
        return out

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in values.items() if k in known}
        for name in _TUPLE_FIELDS:
            if name in values and values[name] is not None:
                values[name] = tuple(values[name])
        return cls(**values)


_TUPLE_FIELDS = ("regression_hidden", "output_bounds", "classification_hidden")
# options of the heads, which fine-tuning may set on a pretrained encoder
HEAD_FIELDS = ("regression_hidden", "head_dropout", "head_residual",
               "output_activation", "output_bounds", "classification_hidden")


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
    # augmentation: in training, each ASV of a sample is left out with this
    # probability, drawn afresh every epoch (never at validation/prediction)
    asv_dropout: float = 0.0

    def __post_init__(self):
        # the q2 actions check these ranges too; the Python API and `aam` get
        # the same message
        if not 0.0 <= self.asv_dropout < 1.0:
            raise AAMInputError(f"asv_dropout must be in [0, 1), not {self.asv_dropout}: "
                                "it is the chance of leaving out each ASV (0: off).")
        if self.rarefaction_depth < 0:
            raise AAMInputError(f"rarefaction_depth must be 0 (off) or a number of "
                                f"reads, not {self.rarefaction_depth}.")
        if self.max_asvs < 1:
            raise AAMInputError(f"max_asvs must be at least 1, not {self.max_asvs}.")

    # random draws of a training run, not rules of the model's input
    TRAINING_DRAWS = ("rarefaction_depth", "asv_dropout")

    def for_prediction(self) -> "DataConfig":
        """The same input rules without the training-time draws (their
        defaults are 'off')."""
        return self.with_draws_of(DataConfig())

    def with_draws_of(self, run: "DataConfig") -> "DataConfig":
        """These input rules (a pretrained model's) with a run's own draws."""
        return replace(self, **{name: getattr(run, name) for name in self.TRAINING_DRAWS})

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
    target_loss: str = "huber"   # huber | mse | mae | quantile | asymmetric
    normalisation: str = "zscore"  # zscore | minmax | none
    freeze_encoder: bool = False
    # -- fine-tuning options (issue 3); every one is a q2 parameter too --
    quantiles: tuple = (0.1, 0.5, 0.9)  # outputs of the 'quantile' loss
    huber_delta: float = 1.0            # in normalised units
    overprediction_weight: float = 1.0  # 'asymmetric' loss: squared error
    underprediction_weight: float = 1.0  # weights above / below the truth
    class_weight: str = "none"          # none | balanced (classifiers)
    freeze_nucleotide_encoder: bool = False
    abundance_weight: float = 0.0       # masked-abundance objective; 0 skips it
    abundance_mask_ratio: float = 0.15
    selection_metric: str = "auto"      # auto | loss | mae | r2 | accuracy | f1 | auroc
    scheduler: str = "cosine"           # cosine | cosine_restarts | plateau
    lr_cycles: int = 3                  # cosine_restarts: number of cycles
    plateau_patience: int = 2           # plateau: epochs before the rate drops
    plateau_factor: float = 0.5
    accumulation_steps: int = 1         # optimizer step every N batches
    precision: str = "auto"             # auto (bf16 on CUDA) | fp32 | bf16 | fp16
    compile: bool = False               # torch.compile the model
    gradient_checkpointing: bool = False
    auto_batch_size: bool = True        # CUDA: cap batches to fit GPU memory
    find_learning_rate: bool = False    # range test first, use its suggestion
    # fine-tuning: average this many models, each with its own seed and
    # grouped validation split (model/ensemble.py)
    ensemble_size: int = 1
    # how the members' validation samples are drawn: 'random' (each its own
    # grouped split of validation_fraction) or 'folds' (disjoint grouped
    # folds, one per member, that cover the samples: cross-validation)
    ensemble_validation: str = "random"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["quantiles"] = list(self.quantiles)
        return out


# The recommended recipe (benchmarks/results/experiments.md; oral-age,
# grouped 5-fold CV). Pretraining: 16 epochs; the UniFrac term weighted 20x,
# so that it is not dwarfed by the masked-nucleotide cross-entropy (~0.5 vs
# ~0.01 unweighted).
PRETRAIN_TRAIN_DEFAULTS = TrainConfig(epochs=16, unifrac_weight=20.0)
# Fine-tuning trains the target alone unless auxiliary terms are asked for.
# From a pretrained encoder, its nucleotide encoder stays frozen (better and
# ~10x faster per epoch than training it), at half the learning rate for
# up to 30 epochs, and 5 models with their own seeds and validation splits
# are averaged (the variance of one fine-tuned model is most of its error).
FIT_TRAIN_DEFAULTS = TrainConfig(nucleotide_weight=0.0, epochs=30, learning_rate=5e-4,
                                 freeze_nucleotide_encoder=True, ensemble_size=5)


@dataclass(frozen=True)
class ConditioningConfig:
    """Categorical metadata the model is conditioned on (DESIGN s.3.5).

    The columns themselves come with the data (a DataFrame of categories);
    these settings say how they are used. Column names here must be columns
    of that DataFrame.
    """
    fusion: str = "add"             # none | concat | add | film | cross_attention
    output_scaling: bool = False    # per-category learned scale and bias of outputs
    parents: tuple = ()             # ((child, parent), ...): child adds parent's embedding
    normalise_by: str = ""          # per-category target normalisation column
    weight_by: str = ""             # per-category loss weighting column
    category_weights: tuple = ()    # ((category, weight), ...); () = inverse frequency
    unknown_rate: float = 0.05      # training share of categories shown as "unknown"

    def to_dict(self) -> dict:
        return {**asdict(self), "parents": [list(p) for p in self.parents],
                "category_weights": [list(w) for w in self.category_weights]}

    @classmethod
    def from_dict(cls, values: dict) -> "ConditioningConfig":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in values.items() if k in known}
        for name in ("parents", "category_weights"):
            if name in values:
                values[name] = tuple(tuple(p) for p in values[name])
        return cls(**values)

