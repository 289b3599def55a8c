"""Settings dataclasses: the model's shape, the data rules, the training run.

Each is a plain dataclass so that it round-trips through config.json and so
that callers (the q2 plugin, the `aam` CLI, benchmarks) pass one object
instead of dozens of keyword arguments. Each user-facing field is declared
here once (`setting`: default, help, range or choices, which QIIME 2 actions
and `aam` commands take it, defaults that differ by job); the plugin's
parameters, the `aam` flags and the range checks are read from it
(settings.py).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from .errors import AAMInputError
from .option import (AUTO, APPLY_COMMANDS, APPLYING, FIT, FIT_COMMANDS, PIPELINES, REGRESSING,
                     TRAINING, TRAINING_COMMANDS, check_fields, defaults_for, plain_numbers,
                     setting)
from .spelling import spelled


@dataclass(frozen=True)
class ModelConfig:
    """Architecture. Presets: tiny (tests), small (CPU), base (GPU)."""
    d_model: int = setting(64, "width of the model: the size of every ASV and "
                           "sample vector", low=1, high=8192, inclusive=(True, True),
                           commands=TRAINING_COMMANDS)
    n_heads: int = setting(4, "attention heads per layer (d_model must divide by it)",
                           low=1, high=512, inclusive=(True, True), commands=TRAINING_COMMANDS)
    nucleotide_layers: int = setting(2, "transformer layers of the nucleotide encoder",
                                     low=1, high=128, inclusive=(True, True),
                                     commands=TRAINING_COMMANDS)
    sample_layers: int = setting(2, "transformer layers of the sample encoder",
                                 low=0, high=128, inclusive=(True, True),
                                 commands=TRAINING_COMMANDS)
    ff_mult: int = setting(4, "feed-forward width as a multiple of d_model",
                           low=1, high=64, inclusive=(True, True), commands=TRAINING_COMMANDS)
    # Encoder dropout stays 0 by default: noise on the embeddings inflates the
    # train-mode distances, so a UniFrac-trained encoder mis-scales in eval.
    dropout: float = setting(0.0, "dropout in the encoders", low=0, high=1,
                             commands=TRAINING_COMMANDS)
    head_dropout: float = setting(
        0.1, "Dropout in the head's hidden layers.", low=0, high=1,
        actions=FIT, commands=FIT_COMMANDS)
    # set from DataConfig.max_length, the option users give
    max_length: int = 150
    # k-mer composition of each ASV (a learned embedding of its overlapping
    # k-mers, averaged) added to the transformer's ASV vector: a cheap,
    # sequence-derived fingerprint that still generalises to unseen ASVs.
    # at most 8: the k-mer table has 4^k rows (65,536 at 8; 4^20 would not fit)
    kmer_size: int = setting(0, "add each ASV's k-mer composition (k-mers of this "
                             "length) to its vector; 0: off", low=0, high=8,
                             inclusive=(True, True), commands=TRAINING_COMMANDS)
    # the heads' shapes and the bounds are set from the options hidden_layers,
    # hidden_width, lower_bound and upper_bound (settings.head_options)
    regression_hidden: tuple = (64,)
    # Head options (model/heads.py). Fine-tuning takes them from the caller
    # even when the encoder fields come from a pretrained model (HEAD_FIELDS).
    residual_head: bool = setting(
        False, "Use residual blocks (x + MLP(LayerNorm(x)), the hidden layers' "
        "widths as inner widths) in the head instead of a plain MLP.",
        old_name="head_residual", actions=("fit_regressor",),
        commands=("fit-regressor",))
    output_activation: str = setting(
        "none", "'softplus' or 'exp' keep predictions non-negative in the target's "
        "units (e.g. for counts or concentrations); 'none' leaves them free. With the "
        "ridge readout 'exp' fits the line to the target's logarithm (targets above 0; "
        "readout 'auto' fine-tunes when some are 0), for a skewed target whose errors "
        "grow with its value. Prediction intervals stop at 0.",
        choices=("none", "softplus", "exp"), actions=("fit_regressor",),
        commands=("fit-regressor",))
    output_bounds: tuple = (None, None)
    classification_hidden: tuple = ()
    # set by the propagation readout (propagation.py), never by a user: how
    # many samples of its fit its head stores (0: a head of layers)
    neighbour_nodes: int = 0
    # a mixture of experts (REG-9): targets whose relation to the microbiome
    # differs by regime (e.g. infants and adults) get one head per regime
    regression_experts: int = setting(
        1, "Number of expert heads of a regressor, mixed by a learned softmax gate "
        "over the sample embedding (the conditioned one, with conditioning), for "
        "targets that follow different rules in different kinds of samples. Each "
        "expert has the head's hidden layers. 1: a single head.", low=1, high=64,
        inclusive=(True, True),
        actions=REGRESSING, commands=("fit-regressor",))

    def __post_init__(self):
        check_fields(self)
        if self.d_model % self.n_heads:  # attention splits the width into equal heads
            raise AAMInputError(
                f"{spelled('d_model', self.d_model)} must divide by "
                f"{spelled('n_heads', self.n_heads)}: attention splits the width into "
                "that many equal heads. Choose a width that is a multiple of the heads.")

    @classmethod
    def preset(cls, name: str, **overrides) -> "ModelConfig":
        if name not in PRESETS:
            raise ValueError(f"Unknown preset {name!r}; choose one of {sorted(PRESETS)}.")
        return replace(PRESETS[name], **overrides)

    @property
    def output_range(self) -> tuple:
        """(low, high) of what a regressor's head can predict (None: no
        limit): 0 under a 'softplus' or 'exp' activation, else its bounds."""
        low, high = self.output_bounds
        return (0.0 if self.output_activation != "none" else low), high

    def to_dict(self) -> dict:
        out = asdict(self)
        for name in _TUPLE_FIELDS:
            out[name] = list(getattr(self, name))
        return out

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in renamed(cls, values).items() if k in known}
        for name in _TUPLE_FIELDS:
            if name in values and values[name] is not None:
                values[name] = tuple(values[name])
        return cls(**values)


_TUPLE_FIELDS = ("regression_hidden", "output_bounds", "classification_hidden")
# options of the heads, which fine-tuning may set on a pretrained encoder
HEAD_FIELDS = ("regression_hidden", "head_dropout", "residual_head",
               "output_activation", "output_bounds", "classification_hidden",
               "regression_experts")
# a head's shape as users give it: a depth and a width (0: the encoder's
# width), made into the head's widths once the encoder is known
HEAD_SHAPE = ("hidden_layers", "hidden_width")


DEFAULT_PRESET = "small"
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
    """How tables and sequences become batches."""
    max_length: int = setting(
        0, "Longest ASV sequence the model reads, in nucleotides; longer ones "
        "are an error unless truncate is set. 0: the longest sequence of the "
        "table (253-nt V4 reads take about 1.9x the time of 150-nt reads "
        "in the nucleotide encoder, which dominates a step), or the pretrained "
        "model's when one is given, which "
        "fixes it.", low=0, high=100_000, inclusive=(True, True), actions=TRAINING + PIPELINES,
        commands=TRAINING_COMMANDS)
    truncate: bool = setting(
        False, "Cut sequences longer than max_length instead of failing.",
        actions=TRAINING + PIPELINES, commands=TRAINING_COMMANDS)
    max_asvs: int = setting(
        512, "Keep at most this many ASVs per sample, most abundant first.",
        low=1, actions=TRAINING + PIPELINES, commands=TRAINING_COMMANDS)
    rarefaction_depth: int = setting(
        0, "Rarefy each sample to this many reads, drawing a fresh subsample "
        "every epoch; samples with fewer reads are dropped. 0: no rarefaction.",
        low=0, actions=TRAINING + PIPELINES, commands=TRAINING_COMMANDS)
    # augmentation, drawn afresh every epoch (never at validation/prediction)
    asv_dropout: float = setting(
        0.0, "Augmentation: in every training epoch, leave out each ASV of a "
        "sample with this probability (a fresh draw each epoch; a sample keeps "
        "at least its most abundant ASV). Validation and prediction see every "
        "ASV. 0: off.", low=0, high=1, actions=TRAINING + PIPELINES,
        commands=TRAINING_COMMANDS)

    def __post_init__(self):
        # the same checks as QIIME 2's ranges, for the Python API and `aam`
        check_fields(self)

    # random draws of a training run, not rules of the model's input
    TRAINING_DRAWS = ("rarefaction_depth", "asv_dropout")

    def for_prediction(self) -> "DataConfig":
        """The same input rules without the training-time draws (their
        defaults are 'off')."""
        return self.with_draws_of(DataConfig())

    def under_pretrained(self, model: "DataConfig") -> "DataConfig":
        """This run's rules on a pretrained model whose rules are `model`:
        the model fixes max_length (its position embedding has one row per
        nucleotide position); truncate, max_asvs and the draws are the run's."""
        if self.max_length not in (0, model.max_length):
            raise AAMInputError(
                f"The pretrained model reads sequences of up to {model.max_length} "
                f"nt, so it cannot take {spelled('max_length', self.max_length)}. "
                f"Leave {spelled('max_length')} at 0 (the pretrained model's), or "
                f"pretrain a model with {spelled('max_length', self.max_length)}.")
        return replace(self, max_length=model.max_length)

    def with_draws_of(self, run: "DataConfig") -> "DataConfig":
        """These input rules (a pretrained model's) with a run's own draws."""
        return replace(self, **{name: getattr(run, name) for name in self.TRAINING_DRAWS})

    def to_dict(self) -> dict:
        return asdict(self)


# The readouts, as both the fitting actions' help and the pipelines' say them
_FINE_TUNE_AND_RIDGE = (
    "'fine_tune' trains the head and the sample encoder by gradient. 'ridge' keeps "
    "the whole encoder frozen and solves a linear head in closed form (ridge "
    "regression on the sample embeddings, its penalty chosen by grouped "
    "cross-validation inside the training samples): seconds instead of minutes. On "
    "oral-age (docs/label-efficiency.md) it was level with fine-tuning across "
    "studies and better inside one (American Gut).")
_PROPAGATION = (
    "'propagation' also keeps the encoder frozen: every sample of the table, "
    "labelled or not, is a node of a neighbour graph of the sample embeddings, the "
    "labels spread over it (label propagation) and a new sample gets the mean of its "
    "nearest nodes' values, the number of neighbours chosen by grouped "
    "cross-validation. On oral-age, from the default encoder, it was more accurate "
    "than ridge and the forest with 150 labelled samples, less accurate than ridge "
    "with all labels (docs/label-efficiency.md).")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Loss weights of 0 skip the term."""
    # 'auto' (pretraining's default): about as many optimizer steps on a
    # small table as the 8 epochs take on a large one (pretrain.AUTO_STEPS)
    epochs: int | str = setting(
        20, "Maximum number of passes over the training samples.", low=1, kind="int_auto",
        actions=TRAINING + PIPELINES, commands=TRAINING_COMMANDS,
        per={"pretrain": {"default": AUTO, "help": "Maximum number of passes over the "
                          "training samples. 'auto', the default, is 8, or more on a "
                          "table too small for 8 to give 128 optimizer steps (fewer "
                          "than about 1,000 samples at batches of 64), at most 64."},
             "fit": {"default": 30, "kind": "int"},
             "pipeline": {"default": 30, "kind": "int",
                          "help": "Maximum epochs of fine-tuning."}})
    batch_size: int = setting(
        32, "Samples per training step.", low=2, actions=TRAINING + PIPELINES
        + APPLYING, commands=TRAINING_COMMANDS + APPLY_COMMANDS,
        # pretraining: 64 reads each shared ASV once for twice the samples,
        # 0.75x the time per epoch, as accurate (docs/label-efficiency.md)
        per={"pretrain": {"default": 64},
             "pipeline": {"help": "Samples per training step, of pretraining (with a "
                                  "distance matrix) and of the fit."},
             "predict": {"default": 64, "low": 1,
                         "help": "Samples per inference batch."}})
    learning_rate: float = setting(
        1e-3, "Peak learning rate of AdamW (at most 1: larger steps only "
        "overflow).", low=0, high=1, inclusive=(False, True),
        actions=TRAINING + PIPELINES, commands=TRAINING_COMMANDS,
        per={"pretrain": {"default": 2e-3}, "fit": {"default": 5e-4},
             "pipeline": {"default": 5e-4}},
        needs=("find_learning_rate", False))
    weight_decay: float = setting(0.01, "AdamW weight decay.", low=0,
                                  actions=TRAINING, commands=TRAINING_COMMANDS)
    warmup_fraction: float = setting(
        0.1, "Fraction of the training steps spent warming the learning rate up "
        "before its cosine decay.", low=0, high=1, actions=TRAINING,
        commands=TRAINING_COMMANDS)
    grad_clip: float = setting(1.0, "clip the gradient norm to this; 0: no clipping",
                               low=0, commands=TRAINING_COMMANDS)
    validation_fraction: float = setting(
        0.1, "Fraction of the samples held out to select the best epoch and stop "
        "early; 0 trains on all samples and keeps the last epoch.", low=0, high=1,
        actions=TRAINING + PIPELINES, commands=TRAINING_COMMANDS)
    patience: int = setting(
        10, "Epochs without validation improvement before stopping.", low=1,
        actions=TRAINING + PIPELINES, commands=TRAINING_COMMANDS,
        needs=("validation_fraction", "above", 0))
    random_state: int = setting(
        0, "Seed for splits, rarefaction, masking and initial weights; a run on "
        "CPU is reproducible from it.", old_name="seed",
        # numpy takes seeds below 2**32; an ensemble adds its member's index
        low=0, high=2 ** 31, actions=TRAINING + PIPELINES, commands=TRAINING_COMMANDS)
    device: str = setting(
        "auto", "Where to compute: 'auto' uses a CUDA GPU when one is present.",
        choices=("auto", "cpu", "cuda"), actions=TRAINING + PIPELINES + APPLYING,
        commands=TRAINING_COMMANDS + APPLY_COMMANDS)
    n_threads: int = setting(
        0, "CPU threads for PyTorch; 0: the CPUs this job may use (its CPU "
        "affinity, GALAXY_SLOTS, SLURM_CPUS_PER_TASK or OMP_NUM_THREADS, the "
        "smallest).", low=0, high=1024, inclusive=(True, True),
        actions=TRAINING + PIPELINES + APPLYING,
        commands=TRAINING_COMMANDS + APPLY_COMMANDS)
    mask_ratio: float = setting(
        0.15, "Fraction of nucleotides masked for the nucleotide loss (above 0: "
        "masking none would leave the loss nothing to learn; to skip it, set "
        "nucleotide_weight to 0).", low=0, high=1, inclusive=(False, False),
        actions=TRAINING, commands=TRAINING_COMMANDS,
        needs=("nucleotide_weight", "above", 0))
    nucleotide_weight: float = setting(
        1.0, "Weight of the masked-nucleotide loss; 0 skips it.", low=0,
        actions=TRAINING, commands=TRAINING_COMMANDS, per={"fit": {"default": 0.0}})
    unifrac_weight: float = setting(
        1.0, "Weight of the auxiliary UniFrac loss (only with a distance matrix); "
        "0 skips it.", low=0, actions=TRAINING, commands=TRAINING_COMMANDS,
        per={"pretrain": {"default": 20.0, "help": "Weight of the UniFrac distance "
                          "loss; 0 skips it."}})
    target_weight: float = setting(1.0, "weight of the target loss", low=0,
                                   commands=FIT_COMMANDS)
    loss: str = setting(
        "huber", "Loss on the (normalised) target: 'huber', 'mse', 'mae', "
        "'quantile' (pinball loss on every one of quantiles at once; the median is "
        "the prediction and predict-regression-interval returns the outer "
        "quantiles as bounds), 'asymmetric' (squared error weighted by "
        "overprediction_weight above the truth and underprediction_weight below "
        "it).", old_name="target_loss",
        choices=("huber", "mse", "mae", "quantile", "asymmetric"),
        actions=("fit_regressor",), commands=("fit-regressor",))
    normalisation: str = setting(
        "zscore", "How the target is scaled for training (fitted on training "
        "samples only, undone on prediction).", choices=("zscore", "minmax", "none"),
        actions=("fit_regressor",), commands=("fit-regressor",))
    freeze_encoder: bool = setting(
        False, "Train only the head (and the conditioning), keeping the whole "
        "pretrained encoder fixed; ASV vectors are then computed once and cached. "
        "Needs a pretrained model.", actions=FIT, commands=FIT_COMMANDS)
    quantiles: tuple = setting(
        (0.1, 0.5, 0.9), "Quantiles the 'quantile' loss fits, e.g. 0.1 0.5 0.9 (the "
        "default). The prediction is the one closest to 0.5.", kind="floats",
        low=0, high=1, inclusive=(False, False), actions=("fit_regressor",),
        commands=("fit-regressor",), needs=("loss", "quantile"))
    huber_delta: float = setting(
        1.0, "Where the 'huber' loss turns from squared to linear, in normalised "
        "units.", low=0, inclusive=(False, False), actions=("fit_regressor",),
        commands=("fit-regressor",), needs=("loss", "huber"))
    overprediction_weight: float = setting(
        1.0, "'asymmetric' loss: weight of predictions above the truth.", low=0,
        actions=("fit_regressor",), commands=("fit-regressor",),
        needs=("loss", "asymmetric"))
    underprediction_weight: float = setting(
        1.0, "'asymmetric' loss: weight of predictions below the truth.", low=0,
        actions=("fit_regressor",), commands=("fit-regressor",),
        needs=("loss", "asymmetric"))
    class_weight: str = setting(
        "none", "'balanced' weighs each class by n / (k * n_class) in the "
        "cross-entropy (as scikit-learn's), so rare classes count as much as "
        "common ones; 'none' weighs all samples equally.",
        choices=("none", "balanced"), actions=("fit_classifier",),
        commands=("fit-classifier",))
    label_smoothing: float = setting(
        0.0, "Label smoothing of the cross-entropy: each sample's target keeps "
        "1 - label_smoothing on its own class and spreads the rest evenly over all "
        "classes, so that a classifier fitted on few samples grows less "
        "over-confident (better calibrated probabilities). 0: off.", low=0, high=1,
        actions=("fit_classifier",), commands=("fit-classifier",))
    freeze_nucleotide_encoder: bool = setting(
        False, "Keep the pretrained model's nucleotide encoder fixed and train the "
        "sample encoder and head: every ASV is then encoded once and its vector "
        "cached (about 10x faster per epoch), and the masked-nucleotide loss is "
        "skipped. Without a pretrained model it has no effect: a random "
        "nucleotide encoder has to learn.", actions=FIT, commands=FIT_COMMANDS,
        per={"fit": {"default": True}})
    abundance_weight: float = setting(
        0.0, "Weight of the masked-abundance objective: the abundance input of a "
        "random share of each sample's ASVs is hidden and the model predicts it "
        "(MSE on log relative abundance). 0 skips it.", low=0, actions=TRAINING,
        commands=TRAINING_COMMANDS)
    abundance_mask_ratio: float = setting(
        0.15, "Share of ASVs whose abundance is hidden for the abundance "
        "objective.", low=0, high=1, inclusive=(False, False), actions=TRAINING,
        commands=TRAINING_COMMANDS, needs=("abundance_weight", "above", 0))
    # 5: beside the distance loss at its default weight 20, alpha diversity
    # is then learned (weight 1 barely moves it in 16 epochs) while the
    # distances are still learned about as well (tests/plugin/
    # test_distances_pretrain.py, README "Pretraining on any distance")
    alpha_weight: float = setting(
        5.0, "Weight of the alpha-diversity objective (only with alpha_diversity): "
        "a linear head on the sample embedding predicts each sample's alpha "
        "diversity (MSE on its z-scores); 0 skips it.", low=0,
        actions=("pretrain",), commands=("pretrain",))
    # 1: its cross-entropy starts near ln(classes) per rank, the size of the
    # masked-nucleotide loss, so neither drowns the other at the start
    taxonomy_weight: float = setting(
        1.0, "Weight of the taxonomy objective (only with taxonomy): one linear "
        "head per rank (phylum to genus) on each ASV's vector predicts its "
        "taxon (cross-entropy, averaged over the ranks and over the ASVs with "
        "an assigned taxon); 0 skips it.", low=0,
        actions=("pretrain",), commands=("pretrain",))
    # 1: InfoNCE starts near ln(2 x batch_size - 1), about 4 at batch 32,
    # the size of the masked-nucleotide loss
    nucleotide_epochs: int | str = setting(
        0, "Train the nucleotide encoder (and the masked-nucleotide loss) for this many "
        "epochs only, then freeze it: each ASV's vector is computed once and the later "
        "epochs train the sample encoder alone, several times faster. The validation "
        "loss still scores every objective. 0 trains it every epoch; a number is taken "
        "as given. 'auto', the default, is 3 of every 8 epochs (rounded up: 3 of the "
        "default 8, 12 of 30) where the nucleotide loss and an objective beside it "
        "train (a distance matrix, an alpha diversity, contrastive views), and 0 (every "
        "epoch) in other runs.", low=0, kind="int_auto",
        actions=("pretrain",), commands=("pretrain",), per={"pretrain": {"default": AUTO}})
    contrastive_weight: float = setting(
        0.0, "Weight of the contrastive objective: every training sample is read "
        "twice, each time as a random half of its reads, and the two views' "
        "embeddings are pulled together and away from the other samples' "
        "(InfoNCE on their distances); the validation loss scores it on views "
        "drawn from a fixed seed. Doubles the sample encoder's work per step. 0 "
        "skips it.", low=0, actions=("pretrain",), commands=("pretrain",))
    selection_metric: str = setting(
        "auto", "Validation metric that picks the best epoch and stops early: "
        "'auto' (mae), 'loss', 'mae', 'rmse' or 'r2'.",
        choices=("auto", "loss", "mae", "rmse", "r2"), actions=FIT,
        commands=FIT_COMMANDS, needs=("validation_fraction", "above", 0),
        per={c: {"choices": ("auto", "loss", "accuracy", "f1", "auroc"),
                 "help": "Validation metric that picks the best epoch and stops "
                 "early: 'auto' (the loss), 'loss', 'accuracy', 'f1' (macro) or "
                 "'auroc' (macro, one-vs-rest)."}
             for c in ("fit_classifier", "fit-classifier")})
    scheduler: str = setting(
        "cosine", "Learning-rate schedule after the warm-up: 'cosine' decays to 0 "
        "over the run; 'cosine_restarts' runs lr_cycles cosine decays, each "
        "restarting at the peak rate; 'plateau' keeps the rate until the selection "
        "metric stops improving for plateau_patience epochs, then halves it.", choices=("cosine", "cosine_restarts", "plateau"),
        actions=TRAINING, commands=TRAINING_COMMANDS)
    lr_cycles: int = setting(
        3, "Number of cosine cycles of the 'cosine_restarts' schedule.", low=1,
        actions=TRAINING, commands=TRAINING_COMMANDS,
        needs=("scheduler", "cosine_restarts"))
    plateau_patience: int = setting(
        2, "Epochs without improvement before the 'plateau' schedule halves the "
        "learning rate.", low=1, actions=TRAINING, commands=TRAINING_COMMANDS,
        needs=("scheduler", "plateau"))
    plateau_factor: float = setting(
        0.5, "what the 'plateau' schedule multiplies the learning rate by", low=0,
        high=1, inclusive=(False, False), commands=TRAINING_COMMANDS,
        needs=("scheduler", "plateau"))
    accumulation_steps: int = setting(
        1, "Accumulate gradients over this many batches per optimizer step (an "
        "effective batch of batch_size x accumulation_steps samples).", low=1,
        actions=TRAINING, commands=TRAINING_COMMANDS)
    precision: str = setting(
        "auto", "Arithmetic on CUDA: 'auto' and 'bf16' use bfloat16 autocast, "
        "'fp16' float16 autocast with loss scaling, 'fp32' full precision. CPU "
        "always trains in float32 (reproducible from the seed).",
        choices=("auto", "fp32", "bf16", "fp16"), actions=TRAINING,
        commands=TRAINING_COMMANDS)
    # switches of how a step runs (speed, memory), not of what is learned
    compile: bool = setting(False, """
        Compile the model with torch.compile (faster steps on GPU after a
        compilation of a minute or so; needs a C++ compiler).""",
        actions=TRAINING, commands=TRAINING_COMMANDS)
    gradient_checkpointing: bool = setting(False, """
        Recompute the activations of both encoders in the backward pass instead
        of storing them: less memory (larger batches or models) for about a
        third more compute.""", actions=TRAINING, commands=TRAINING_COMMANDS)
    auto_batch_size: bool = setting(True, """
        On CUDA, measure the memory of one training step on the largest
        samples; when a batch of batch_size does not fit in the free GPU
        memory, split it into smaller batches and accumulate their gradients.
        No effect on CPU, where batch_size is used as given.""",
        actions=TRAINING, commands=TRAINING_COMMANDS)
    find_learning_rate: bool = setting(False, """
        Run a learning-rate range test first (a few dozen steps with a growing
        rate, weights restored after) and train with its suggested rate
        instead of learning_rate.""", actions=FIT, commands=FIT_COMMANDS)
    # fine-tuning: average this many models, each with its own seed and
    # grouped validation split (model/ensemble.py)
    ensemble_size: int = setting(
        1, "Fit this many models, each with its own random seed (random_state, "
        "random_state + 1, ...) and its own grouped validation split for early "
        "stopping, and predict their mean (the mean class probabilities for a "
        "classifier). Averaging cuts the variance of a model fitted on a few "
        "hundred samples; fitting takes ensemble_size times as long. 1 fits a "
        "single model.", low=1, high=100, inclusive=(True, True), actions=FIT + PIPELINES,
        commands=FIT_COMMANDS,
        per={"fit": {"default": 5}, "pipeline": {"default": 5}})
    expert_balance: float = setting(
        0.01, "Weight of the load-balancing loss of a regressor with "
        "regression_experts > 1: the squared coefficient of variation of the "
        "experts' mean gate weights in a batch, which keeps every expert in use. "
        "0: off.", low=0, actions=REGRESSING,
        commands=("fit-regressor",))
    ensemble_validation: str = setting(
        "random", "How the ensemble members' validation samples are drawn: "
        "'random' gives each member its own grouped split of validation_fraction; "
        "'folds' deals the groups into ensemble_size disjoint folds, one per "
        "member, so that every sample is validated exactly once "
        "(cross-validation; validation_fraction is then 1/ensemble_size).",
        choices=("random", "folds"), actions=FIT + PIPELINES, commands=FIT_COMMANDS,
        needs=("ensemble_size", "above", 1))
    readout: str = setting(
        "auto", "How a regressor learns its target from a pretrained encoder. "
        "'auto' (the default): 'ridge' when a pretrained model is given and the "
        "settings are ones the ridge readout honours, else 'fine_tune' (e.g. with "
        "an option only gradient training reads, such as epochs, learning_rate, "
        "freeze_encoder, a loss other than 'huber', 'mse' or 'quantile', "
        "conditioning, a distance matrix or head layers; or several processes); "
        f"the model records which one ran. {_FINE_TUNE_AND_RIDGE} 'ridge' needs a "
        "pretrained model; its fit is least squares (the loss 'huber' or 'mse'; "
        "'quantile' adds the quantiles of its cross-validated residuals). "
        f"{_PROPAGATION} Samples of the table without a target value (or missing "
        "from the metadata) are its unlabelled samples: give it the table you "
        "pretrained on.",
        choices=("auto", "fine_tune", "ridge", "propagation"),
        actions=REGRESSING,
        commands=("fit-regressor",), per={"pipeline": {"help": (
            "How the regressor learns its target from the encoder. 'auto' (the "
            "default): 'ridge' when there is a pretrained encoder (given, or "
            "pretrained here on the distance matrix) and the settings are ones the "
            "ridge readout honours, else 'fine_tune' (e.g. with epochs, "
            "learning_rate, patience, asv_dropout, regression_experts or "
            "expert_balance set). " + _FINE_TUNE_AND_RIDGE + " 'ridge' needs an "
            "encoder. " + _PROPAGATION + " Its unlabelled samples are the training "
            "samples without a target value.")}})

    def __post_init__(self):
        plain_numbers(self)  # ranges are checked where the run starts

    def to_dict(self) -> dict:
        out = asdict(self)
        out["quantiles"] = list(self.quantiles)
        return out


# The recommended recipe (benchmarks/results/experiments.md,
# docs/label-efficiency.md; oral-age, grouped 5-fold CV), declared per job on
# the fields above. Pretraining: 8 epochs of 64 samples at a peak rate of
# 2e-3 (as accurate on the readout as 16 of 32 at 1e-3, in 0.4x the time);
# the UniFrac term weighted 20x, so that it is not dwarfed by the
# masked-nucleotide cross-entropy (~0.5 vs ~0.01 unweighted). Fine-tuning
# trains the target alone unless auxiliary terms are asked for; from a
# pretrained encoder, its nucleotide encoder stays frozen (better and ~10x
# faster per epoch than training it), at half the learning rate for up to 30
# epochs, and 5 models with their own seeds and validation splits are
# averaged (the variance of one fine-tuned model is most of its error).
PRETRAIN_TRAIN_DEFAULTS = TrainConfig(**defaults_for(TrainConfig, "pretrain"))
FIT_TRAIN_DEFAULTS = TrainConfig(**defaults_for(TrainConfig, "fit"))


_NORMALISE_BY = (
    "Normalise the target per category of this column (statistics of the training "
    "samples of each category; categories unseen in training use the global "
    "statistics, with a warning). ")
_NORMALISE_BY_END = ("Numeric columns (study ids) are read as categories. Without it: "
                     "one normalisation for all samples.")


@dataclass(frozen=True)
class ConditioningConfig:
    """Categorical metadata the model is conditioned on.

    The columns themselves come with the data (a DataFrame of categories);
    these settings say how they are used. Column names here must be columns
    of that DataFrame.
    """
    fusion: str = setting(
        "add", "How the category embeddings enter the model: 'add' adds them to "
        "the sample embedding; 'concat' concatenates them with it and projects "
        "back; 'film' scales and shifts the sample embedding by learned functions "
        "of them; 'cross_attention' lets every ASV token attend to one token per "
        "column (plus a learned null token, so that even with one column each ASV "
        "chooses how much of its category to take in) before the sample encoder's "
        "blocks; 'none' uses the columns only for the output scaling.",
        choices=("none", "add", "concat", "film", "cross_attention"),
        actions=FIT, commands=FIT_COMMANDS)
    conditional_output: bool = setting(
        False, "Learn a scale and a bias of the output per category (summed over "
        "the columns), starting at 1 and 0.",
        old_name="output_scaling", actions=FIT, commands=FIT_COMMANDS)
    # ((child, parent), ...): child adds parent's embedding; `aam --parent`,
    # or found from the data by the plugin's `hierarchical`
    parents: tuple = ()
    normalise_by: str = setting(
        "", _NORMALISE_BY + "It need not be a conditioning column; at prediction "
        "the column of the same name is read from the conditioning metadata. "
        + _NORMALISE_BY_END, kind="column", actions=REGRESSING,
        commands=("fit-regressor",),
        per={"fit_regressor": {"default": None},
             "pipeline": {"default": None, "help": _NORMALISE_BY + "The test samples "
                          "are predicted with their category of it. " + _NORMALISE_BY_END}})
    # the categorical column of per-category loss weights (inverse frequency,
    # or category_weights): set from the option loss_weights
    weight_by: str = ""
    # ((category, weight), ...); () = inverse frequency; `aam --category-weight`
    category_weights: tuple = ()
    unknown_rate: float = setting(
        0.05, "Share of the training samples' categories replaced by 'unknown' at "
        "random, so that the unknown embedding is learned for samples with "
        "missing or new categories.", low=0, high=1, actions=FIT,
        commands=FIT_COMMANDS)

    def to_dict(self) -> dict:
        return {**asdict(self), "parents": [list(p) for p in self.parents],
                "category_weights": [list(w) for w in self.category_weights]}

    @classmethod
    def from_dict(cls, values: dict) -> "ConditioningConfig":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in renamed(cls, values).items() if k in known}
        for name in ("parents", "category_weights"):
            if name in values:
                values[name] = tuple(tuple(p) for p in values[name])
        return cls(**values)



def renamed(cls, values: dict) -> dict:
    """Saved settings of `cls` under their current names: four were stored
    under other names (seed, target_loss, head_residual, output_scaling)
    before each took its option's name, and models saved then still load."""
    current = {spec.name for spec in fields(cls)}
    old = {spec.metadata["option"]["old_name"]: spec.name for spec in fields(cls)
           if spec.metadata.get("option", {}).get("old_name")}
    return {old[key] if key in old and key not in current else key: value
            for key, value in values.items()}


SAVED_BLOCKS = {"architecture": ModelConfig, "data": DataConfig,
                "training": TrainConfig, "conditioning": ConditioningConfig}


def current_names(config: dict) -> dict:
    """A saved model's config (config.json) with every setting under its
    current name."""
    return {**config, **{block: renamed(cls, config[block])
                         for block, cls in SAVED_BLOCKS.items()
                         if isinstance(config.get(block), dict)}}


# the options that act only on a network trained by gradient (TrainConfig,
# DataConfig fields): the ridge readout (readout.py) trains none, so set
# away from their defaults they would be ignored
GRADIENT_ONLY = ("epochs", "learning_rate", "weight_decay", "warmup_fraction", "grad_clip",
                 "patience", "mask_ratio", "nucleotide_weight", "target_weight",
                 "huber_delta", "overprediction_weight", "underprediction_weight",
                 "abundance_weight", "alpha_weight", "taxonomy_weight",
                 "contrastive_weight", "scheduler", "lr_cycles", "plateau_patience",
                 "plateau_factor", "accumulation_steps",
                 "find_learning_rate", "expert_balance", "selection_metric", "asv_dropout",
                 "abundance_mask_ratio", "gradient_checkpointing", "compile",
                 "freeze_nucleotide_encoder", "normalisation")
# an ensemble's options: the propagation readout (propagation.py) fits one
# head on every labelled sample, and its grouped cross-validation calibrates
# the intervals
ONE_HEAD = ("ensemble_size", "validation_fraction", "ensemble_validation")
# the values of ONE_HEAD's options that ask for what the propagation readout
# does (one head, no validation split): honoured, so not refused as ignored
ONE_HEAD_AS_DONE = {"ensemble_size": 1, "validation_fraction": 0.0}
