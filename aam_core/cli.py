"""The `aam` command: AAM from plain files, on one process or under torchrun.

    aam pretrain       --table T.biom --distances D.h5 --output-dir RUN
    aam fit-regressor  --table T.biom --metadata M.tsv --target age \\
                       --pretrained RUN/model --output-dir FIT
    aam fit-classifier --table T.biom --metadata M.tsv --target site --output-dir FIT
    aam predict        --model FIT/model --table NEW.biom --output predictions.tsv
    aam embed          --model RUN/model --table NEW.biom --output embeddings.tsv

Inputs are the plain formats QIIME 2 exports: a BIOM table, an optional
FASTA of the features' sequences, a distance matrix (TSV; a .npy array with
a file of ids; or HDF5 as unifrac's `ssu --format hdf5` writes it, both
read lazily, block by block) and TSV metadata. A training command writes
RUN/model/ (the directory `qiime tools import --type 'AAMModel[AAMEncoder]'
--input-path RUN/model` takes) and RUN/checkpoints/; `--resume` continues
an interrupted run from its last checkpoint, exactly.

Every command runs unchanged under `torchrun --nproc_per_node N -m
aam_core.cli ...` (NCCL on GPUs, gloo on CPUs); then --batch-size is the
global batch, and only rank 0 writes.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import zlib
from dataclasses import MISSING, fields, replace
from pathlib import Path

from .config import (FIT_TRAIN_DEFAULTS, HEAD_FIELDS, PRESETS, PRETRAIN_TRAIN_DEFAULTS,
                     ConditioningConfig, DataConfig, ModelConfig, TrainConfig)
from . import checks
from .errors import AAMInputError

MODEL_DIR, CHECKPOINT_DIR = "model", "checkpoints"

# help for the settings users reach for most; every other field of the
# settings dataclasses is an option too, with its default
HELP = {
    "epochs": "maximum passes over the training samples",
    "batch_size": "samples per optimizer step; under torchrun the GLOBAL batch, "
                  "split over the processes",
    "learning_rate": "peak learning rate of AdamW",
    "validation_fraction": "share of samples held out for early stopping and "
                           "best-epoch selection; 0 keeps the last epoch",
    "seed": "seed of splits, batches, rarefaction, masks and initial weights",
    "device": "auto (a GPU when there is one), cpu or cuda",
    "n_threads": "CPU threads per process; 0: torch's default",
    "nucleotide_weight": "weight of the masked-nucleotide loss; 0 skips it",
    "unifrac_weight": "weight of the UniFrac pair loss; 0 skips it",
    "rarefaction_depth": "rarefy every sample to this many reads, drawn afresh "
                         "each epoch; 0: no rarefaction",
    "asv_dropout": "augmentation: leave out each ASV of a training sample with "
                   "this probability, drawn afresh each epoch; 0: off",
    "max_asvs": "keep at most this many ASVs per sample, most abundant first",
    "max_length": "longest sequence accepted (longer: an error, unless --truncate)",
}
_CHOICES = {"device": ("auto", "cpu", "cuda")}
# fine-tuning settings that pretraining has no use for
_FIT_ONLY = ("target_weight", "target_loss", "normalisation", "freeze_encoder",
             "quantiles", "huber_delta", "overprediction_weight", "underprediction_weight",
             "class_weight", "freeze_nucleotide_encoder", "selection_metric",
             "find_learning_rate", "ensemble_size")
# element types of tuple fields whose default does not show them
_ELEMENT_TYPES = {"output_bounds": float, "classification_hidden": int,
                  "regression_hidden": int, "quantiles": float}


class UsageError(AAMInputError):
    """A wrong combination of options or files."""


# -- options generated from the settings dataclasses --------------------------

def _add_settings(parser, cls, defaults, title: str, skip=()) -> None:
    group = parser.add_argument_group(title)
    for f in fields(cls):
        if f.name in skip:
            continue
        default = getattr(defaults, f.name) if defaults is not None else (
            f.default if f.default is not MISSING else None)
        flag = "--" + f.name.replace("_", "-")
        text = f"{HELP.get(f.name, f.name.replace('_', ' '))} (default: {default!r})"
        if isinstance(default, bool):
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                               default=None, help=text)
        elif isinstance(default, tuple):
            kind = _ELEMENT_TYPES.get(f.name) or type(next(
                (v for v in default if v is not None), ""))
            group.add_argument(flag, dest=f.name, nargs="*", type=_optional(kind),
                               default=None, help=text, metavar="VALUE")
        else:
            group.add_argument(flag, dest=f.name, type=type(default), default=None,
                               choices=_CHOICES.get(f.name), help=text)


def _optional(kind):
    def parse(text: str):
        return None if text.lower() == "none" else kind(text)
    parse.__name__ = kind.__name__
    return parse


def _given(args, cls, skip=()) -> dict:
    return {f.name: tuple(v) if isinstance(v, list) else v
            for f in fields(cls) if f.name not in skip
            and (v := getattr(args, f.name, None)) is not None}


# -- reading the inputs ---------------------------------------------------------

def _existing(path: str, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{what} {path} does not exist.")
    return path


def read_table(path: str):
    import biom
    path = _existing(path, "The table")
    try:
        return biom.load_table(str(path))
    except Exception as error:  # biom raises many types for unreadable files
        raise AAMInputError(f"{path} is not a readable BIOM table: {error}") from error


def read_fasta(path: str) -> dict:
    """Feature id -> sequence (ids end at the first space; lines are joined)."""
    sequences, name, parts = {}, None, []
    with open(_existing(path, "The sequences file")) as handle:
        for line in handle:
            line = line.strip()
            if line.startswith(">"):
                if name is not None:
                    sequences[name] = "".join(parts)
                header = line[1:].split()
                name, parts = (header[0] if header else ""), []
                checks.new_fasta_id(name, sequences, path)
            elif line:
                if name is None:
                    raise AAMInputError(f"{path} is not FASTA: sequence before any '>' line.")
                parts.append(line)
    if name is not None:
        sequences[name] = "".join(parts)
    if not sequences:
        raise AAMInputError(f"{path} holds no FASTA records.")
    return sequences


def read_metadata(path: str):
    """Sample metadata TSV (QIIME 2 layout: first column the sample id;
    a '#q2:types' row is skipped); values as text, empty cells missing."""
    import pandas as pd
    frame = pd.read_csv(_existing(path, "The metadata file"), sep="\t", dtype=str,
                        comment=None)
    frame = frame.set_index(frame.columns[0])
    frame = frame[~frame.index.astype(str).str.startswith("#")]
    frame.index = frame.index.astype(str)
    return frame


def _column(frame, name: str, path: str):
    if name not in frame.columns:
        raise UsageError(f"The metadata {path} has no column {name!r}; it has "
                         f"{list(frame.columns)}.")
    return frame[name]


def _numeric(column):
    import pandas as pd
    values = pd.to_numeric(column, errors="coerce")
    bad = column[values.isna() & column.notna()]
    if len(bad):
        raise AAMInputError(
            f"The target column {column.name!r} must be numeric for a regressor, "
            f"but holds e.g. {list(bad.unique()[:3])}; use fit-classifier for categories.")
    return values


def _table_digest(table) -> str:
    """Identifies the table in checkpoints, so a resume cannot mix data."""
    ids = "\t".join(map(str, table.ids())) + "\n" + "\t".join(
        map(str, table.ids(axis="observation")))
    data = table.matrix_data.tocsr()
    digest = zlib.crc32(ids.encode())
    for part in (data.data, data.indices, data.indptr):
        digest = zlib.crc32(part.tobytes(), digest)
    return f"{digest:08x}"


# -- the training commands ------------------------------------------------------

def _run_directory(args):
    """(output dir, Checkpoints); refuses to mix runs in one directory."""
    from .train.checkpoint import CHECKPOINT_FILE, Checkpoints
    output = Path(args.output_dir)
    checkpoints = Checkpoints(output / CHECKPOINT_DIR, every_steps=args.checkpoint_every,
                              resume=args.resume)
    started = (output / CHECKPOINT_DIR / CHECKPOINT_FILE).exists() or (
        output / MODEL_DIR).exists()
    if started and not args.resume:
        raise UsageError(f"{output} already holds a run; pass --resume to continue it, "
                         "or choose another --output-dir.")
    return output, checkpoints


def _train(args, command: str, work) -> int:
    """Join the processes, train with checkpoints, write the model on rank 0."""
    from .train.distributed import Runtime, init_from_environment, shutdown
    from .train.loop import log_to_stderr
    output, checkpoints = _run_directory(args)
    info = checkpoints.info()
    if args.resume and info and info.get("finished") and (output / MODEL_DIR).is_dir():
        print(f"The run in {output} has finished; its model is {output / MODEL_DIR}.",
              file=sys.stderr)
        return 0
    dist = init_from_environment(args.strategy, args.device or "auto")
    try:
        log = log_to_stderr if dist.is_main else (lambda message: None)
        checkpoints.identity = {"command": command}
        runtime = Runtime(dist, checkpoints)
        with runtime.active():
            bundle = work(log, checkpoints)
        if dist.is_main:
            bundle.config["training"]["distributed"] = {
                "world_size": dist.world_size, "strategy": dist.strategy,
                "backend": dist.backend or None}
            _write_model(bundle, output / MODEL_DIR)
            log(f"Wrote {output / MODEL_DIR}; import it with: qiime tools import "
                f"--type 'AAMModel[{_VARIANT[bundle.kind]}]' --input-path "
                f"{output / MODEL_DIR} --output-path model.qza")
        dist.barrier()
    finally:
        shutdown(dist)
    return 0


_VARIANT = {"encoder": "AAMEncoder", "regressor": "AAMRegressor",
            "classifier": "AAMClassifier"}


def _write_model(bundle, directory: Path) -> None:
    """Write aside, then rename: a kill never leaves half a model directory."""
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    checks.save_or_remove(bundle, partial)
    if directory.exists():
        shutil.rmtree(directory)
    partial.rename(directory)


def _distances(args):
    if not args.distances:
        if args.distance_ids:
            raise UsageError("--distance-ids goes with a .npy --distances file.")
        return None
    from .data.distances import read_distances
    return read_distances(args.distances, args.distance_ids)


def _inputs(args):
    table = read_table(args.table)
    sequences = read_fasta(args.sequences) if args.sequences else None
    return table, sequences


def cmd_pretrain(args) -> int:
    from . import api
    model = ModelConfig.preset(args.preset, **_given(args, ModelConfig,
                                                     ("max_length", *HEAD_FIELDS)))
    data = replace(DataConfig(), **_given(args, DataConfig))
    train = replace(PRETRAIN_TRAIN_DEFAULTS, **_given(args, TrainConfig))

    def work(log, checkpoints):
        table, sequences = _inputs(args)
        distances = _distances(args)
        checkpoints.identity["table"] = _table_digest(table)
        return api.pretrain(table, sequences, distances, model=model, data=data,
                            train=train, log=log)
    return _train(args, "pretrain", work)


def cmd_fit(args, kind: str) -> int:
    from . import api
    fit = getattr(api, "fit_classifier" if kind == "classifier" else "fit_regressor", None)
    if fit is None:
        raise UsageError(f"This aam_core has no {kind} training yet (api.fit_{kind}).")
    head_options = _given(args, ModelConfig, ("max_length",))
    encoder = {k: v for k, v in head_options.items() if k not in HEAD_FIELDS}
    head_options = {k: v for k, v in head_options.items() if k in HEAD_FIELDS}
    if encoder and args.pretrained:
        raise UsageError(f"{', '.join('--' + k.replace('_', '-') for k in encoder)} "
                         "would change the encoder's shape, which --pretrained fixes; "
                         "leave it out.")
    model = ModelConfig.preset(args.preset, **encoder)
    data = replace(DataConfig(), **_given(args, DataConfig))
    train = replace(FIT_TRAIN_DEFAULTS, **_given(args, TrainConfig))
    if not args.distances and train.unifrac_weight > 0:
        train = replace(train, unifrac_weight=0.0)  # nothing to fit it on
    conditioning_config = _conditioning_config(args)

    def work(log, checkpoints):
        from .bundle import ModelBundle
        table, sequences = _inputs(args)
        frame = read_metadata(args.metadata)
        target = _column(frame, args.target, args.metadata)
        target = _numeric(target) if kind == "regressor" else target
        groups = _column(frame, args.groups, args.metadata) if args.groups else None
        conditioning = None
        if args.conditioning:
            conditioning = frame[[_column(frame, c, args.metadata).name
                                  for c in args.conditioning]]
        pretrained = ModelBundle.load(args.pretrained) if args.pretrained else None
        checkpoints.identity["table"] = _table_digest(table)
        return fit(table, target, sequences, groups, pretrained, model=model, data=data,
                   train=train, log=log, distances=_distances(args),
                   conditioning=conditioning, conditioning_config=conditioning_config,
                   head_options=head_options)
    return _train(args, f"fit-{kind}", work)


def _conditioning_config(args) -> ConditioningConfig:
    given = _given(args, ConditioningConfig, ("parents", "category_weights"))
    pairs = {}
    for name, values, convert in (("parents", args.parent, str),
                                  ("category_weights", args.category_weight, float)):
        parsed = []
        for text in values or ():
            key, sep, value = text.rpartition(":")
            if not sep or not key:
                raise UsageError(f"--{name.replace('_', '-')} takes NAME:VALUE, not {text!r}.")
            parsed.append((key, convert(value)))
        pairs[name] = tuple(parsed)
    return replace(ConditioningConfig(), **given, **pairs)


# -- applying a model -------------------------------------------------------------

def cmd_predict(args) -> int:
    from . import api
    from .bundle import ModelBundle
    bundle = ModelBundle.load(_existing(args.model, "The model directory"))
    if bundle.kind == "encoder":
        raise UsageError(f"{args.model} is a pretrained encoder; it predicts nothing. "
                         "Fine-tune it with fit-regressor or fit-classifier, or use embed.")
    table, sequences = _inputs(args)
    options = dict(batch_size=args.batch_size, device=args.device, n_threads=args.n_threads,
                   log=_stderr, conditioning=_model_conditioning(args, bundle))
    if bundle.kind == "classifier":
        labels, probabilities = api.predict_classification(bundle, table, sequences, **options)
        frame = probabilities.rename(columns=lambda c: f"probability:{c}")
        frame.insert(0, "prediction", labels)
    else:
        frame = api.predict(bundle, table, sequences, **options).to_frame()
        if (bundle.config.get("target") or {}).get("quantiles"):
            frame = frame.join(api.predict_quantiles(bundle, table, sequences, **options))
    _write_tsv(frame, args.output)
    return 0


def cmd_embed(args) -> int:
    from . import api
    from .bundle import ModelBundle
    bundle = ModelBundle.load(_existing(args.model, "The model directory"))
    table, sequences = _inputs(args)
    frame = api.embed(bundle, table, sequences, batch_size=args.batch_size,
                      device=args.device, n_threads=args.n_threads, log=_stderr)
    _write_tsv(frame, args.output)
    return 0


def _model_conditioning(args, bundle):
    columns = (bundle.config.get("conditioning") or {}).get("columns")
    if not columns:
        return None
    if not args.metadata:
        raise UsageError(f"This model is conditioned on {columns}; give them with --metadata.")
    frame = read_metadata(args.metadata)
    return frame.reindex(columns=columns)


def _write_tsv(frame, path: str) -> None:
    frame = frame.copy()
    frame.index.name = "sample-id"
    checks.write_atomically(path, lambda partial: frame.to_csv(partial, sep="\t"))
    print(f"Wrote {path} ({len(frame)} samples).", file=sys.stderr)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the parser ---------------------------------------------------------------------

def _input_options(parser, training: bool) -> None:
    group = parser.add_argument_group("inputs")
    group.add_argument("--table", required=True, help="BIOM table of counts")
    group.add_argument("--sequences", help="FASTA of the features' DNA; needed when "
                       "the feature ids are not DNA themselves")
    if training:
        group.add_argument("--distances", help="distance matrix (e.g. UniFrac): .tsv, "
                           ".npy (with --distance-ids) or .h5/.hdf5 (unifrac ssu); "
                           ".npy and HDF5 are read lazily, block by block")
        group.add_argument("--distance-ids", help="sample ids of a .npy matrix, one a line")


def _run_options(parser) -> None:
    group = parser.add_argument_group("run")
    group.add_argument("--output-dir", required=True,
                       help="run directory: model/ (the result) and checkpoints/")
    group.add_argument("--resume", action="store_true",
                       help="continue the run in --output-dir from its last checkpoint "
                            "(starts afresh when there is none)")
    group.add_argument("--checkpoint-every", type=int, default=0, metavar="STEPS",
                       help="also checkpoint every STEPS optimizer steps (default: at "
                            "the end of each epoch only)")
    group.add_argument("--strategy", choices=("ddp", "fsdp"), default="ddp",
                       help="with several processes: replicate the model (ddp) or "
                            "shard it (fsdp, for models too large for one device)")
    group.add_argument("--preset", choices=sorted(PRESETS), default="small",
                       help="model size; tiny (tests), small (CPU), base (GPU)")


def _apply_options(parser) -> None:
    group = parser.add_argument_group("run")
    group.add_argument("--model", required=True, help="model directory (RUN/model)")
    group.add_argument("--output", required=True, help="TSV file to write")
    group.add_argument("--batch-size", type=int, default=64)
    group.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    group.add_argument("--n-threads", type=int, default=0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aam", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `aam COMMAND --help` for a command's options.")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pretrain = commands.add_parser("pretrain", help="self-supervised encoder: UniFrac "
                                   "distances and masked nucleotides")
    _input_options(pretrain, training=True)
    _run_options(pretrain)
    _add_settings(pretrain, ModelConfig, None, "model", skip=("max_length", *HEAD_FIELDS))
    _add_settings(pretrain, DataConfig, DataConfig(), "data")
    _add_settings(pretrain, TrainConfig, PRETRAIN_TRAIN_DEFAULTS, "training",
                  skip=_FIT_ONLY)
    pretrain.set_defaults(run=cmd_pretrain)

    for kind in ("regressor", "classifier"):
        fit = commands.add_parser(f"fit-{kind}", help=f"fine-tune (or train) a {kind} "
                                  "of a metadata column")
        _input_options(fit, training=True)
        group = fit.add_argument_group("targets")
        group.add_argument("--metadata", required=True, help="sample metadata TSV")
        group.add_argument("--target", required=True, help="the metadata column to predict")
        group.add_argument("--groups", help="column whose groups (e.g. subjects) stay on "
                           "one side of the validation split")
        group.add_argument("--conditioning", nargs="+", metavar="COLUMN",
                           help="categorical metadata columns to condition on")
        group.add_argument("--parent", action="append", metavar="CHILD:PARENT",
                           help="conditioning hierarchy (repeatable)")
        group.add_argument("--category-weight", action="append", metavar="CATEGORY:WEIGHT",
                           help="loss weight of a category of --weight-by (repeatable)")
        group.add_argument("--pretrained", help="pretrained model directory to start from")
        _run_options(fit)
        _add_settings(fit, ModelConfig, None, "model (head fields apply to --pretrained too)",
                      skip=("max_length",))
        _add_settings(fit, DataConfig, DataConfig(), "data")
        _add_settings(fit, TrainConfig, FIT_TRAIN_DEFAULTS, "training")
        _add_settings(fit, ConditioningConfig, ConditioningConfig(), "conditioning",
                      skip=("parents", "category_weights"))
        fit.set_defaults(run=lambda args, kind=kind: cmd_fit(args, kind))

    predict = commands.add_parser("predict", help="predict with a fitted model")
    _input_options(predict, training=False)
    predict.add_argument("--metadata", help="metadata TSV with the conditioning "
                         "columns of a conditioned model")
    _apply_options(predict)
    predict.set_defaults(run=cmd_predict)

    embed = commands.add_parser("embed", help="sample embeddings of any model")
    _input_options(embed, training=False)
    _apply_options(embed)
    embed.set_defaults(run=cmd_embed)
    return parser


def main(argv=None) -> int:
    from .bundle import ModelFormatError
    args = build_parser().parse_args(argv)
    try:
        checks.before_command(args)
        return args.run(args)
    except (AAMInputError, ModelFormatError, ValueError, OSError) as error:
        if args.debug:
            raise
        import os
        where = ""
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            where = f" (process {os.environ.get('RANK', '?')})"
        hint = "" if isinstance(error, (AAMInputError, ModelFormatError)) else \
            " (--debug shows the traceback)"
        print(f"aam {args.command}{where}: error: {error}{hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return checks.interrupted(args)


if __name__ == "__main__":
    sys.exit(main())
