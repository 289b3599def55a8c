"""The `aam` command: AAM from plain files, on one process or under torchrun.

    aam pretrain       --table T.biom --distances D.h5 --output-dir RUN
    aam fit-regressor  --table T.biom --metadata M.tsv --target age \\
                       --pretrained RUN/model --output-dir FIT
    aam fit-classifier --table T.biom --metadata M.tsv --target site --output-dir FIT
    aam predict        --model FIT/model --table NEW.biom --output predictions.tsv
    aam tune           --table T.biom --metadata M.tsv --target age --groups subject \\
                       --study tune.db --output best.json   (then fit-regressor --settings)
    aam embed          --model RUN/model --table NEW.biom --output embeddings.tsv
    aam export-onnx    FIT/model --output model.onnx

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
import hashlib
import json
import math
import re
import shutil
import sys
import zlib
from dataclasses import replace
from pathlib import Path

from . import checks, tracking
from .config import ConditioningConfig, DataConfig, ModelConfig, TrainConfig
from .data.io import as_numbers, existing, read_fasta, read_metadata, read_table
from .errors import AAMInputError, refuse_samples_without_metadata
from .option import AUTO, FIT_COMMANDS, Option
from .settings import BY_NAME, build, fit_arguments, for_command, given, missing_samples_for
from .spelling import speaking, spelled
from .verify import file_digest

MODEL_DIR, CHECKPOINT_DIR = "model", "checkpoints"


class UsageError(AAMInputError):
    """A wrong combination of options or files."""


# -- flags from the option declarations (settings.py) ---------------------------

_GROUPS = {"ModelConfig": "model", "DataConfig": "data", "TrainConfig": "training",
           "ConditioningConfig": "conditioning", "": "targets and model size",
           "tracking": "experiment tracking"}
_ELEMENTS = {"ints": int, "floats": float, "bounds": float}


def _add_options(parser, command: str) -> None:
    groups = {}
    for option in for_command(command):
        title = _GROUPS[option.field.partition(".")[0]]
        if title == "training" and command in ("predict", "embed"):
            title = "computing"  # predict and embed train nothing
        if title not in groups:
            groups[title] = parser.add_argument_group(title)
        flags = [option.flag] + ([option.old_flag] if option.old_flag else [])
        # model fields left unset keep the preset's (or --pretrained's) value
        default = None if option.field.startswith("ModelConfig.") else option.default
        groups[title].add_argument(*flags, dest=option.name, default=default,
                                   help=_help(option), **_parsing(option))


def _help(option) -> str:
    return _plain_help(option).replace("%", "%%")  # argparse formats help with %


def _plain_help(option) -> str:
    if option.kind.endswith("column"):
        return f"{option.help} (a column of --metadata)"
    if option.kind == "metadata":
        return f"{option.help} (columns of --metadata)"
    return f"{option.help} (default: {option.default!r})"


def _parsing(option) -> dict:
    """How argparse reads the option: booleans as --x/--no-x, lists as
    several values, metadata as column names; values are range-checked."""
    if option.kind == "bool":
        return {"action": argparse.BooleanOptionalAction}
    if option.kind == "metadata":
        return {"nargs": "+", "metavar": "COLUMN"}
    if option.kind.endswith("column"):
        return {"metavar": "COLUMN"}
    if option.kind in _ELEMENTS:
        return {"nargs": "*", "metavar": "VALUE",
                "type": _checked(option, _optional(_ELEMENTS[option.kind]))}
    return {"type": _checked(option, {"int": int, "int_auto": _int_or_auto, "float": float,
                                      "str": str}[option.kind]),
            "choices": option.choices or None}


def _checked(option, kind):
    def parse(text: str):
        value = kind(text)
        problem = None if value is None else option.problem(
            [value] if option.kind in ("ints", "floats") else value)
        if problem and not option.choices:  # argparse names bad choices itself
            raise argparse.ArgumentTypeError(problem)
        return value
    parse.__name__ = kind.__name__
    return parse


def _int_or_auto(text: str):
    return AUTO if text == AUTO else int(text)


_int_or_auto.__name__ = f"integer or {AUTO!r}"  # argparse: "invalid integer or 'auto' value"


def _optional(kind):
    def parse(text: str):
        return None if text.lower() == "none" else kind(text)
    parse.__name__ = kind.__name__
    return parse


def _warn_old_names(argv, command: str) -> None:
    """Old flag spellings and forms still work; say what to use from now on."""
    for option in for_command(command):
        old = option.old_flag
        if old and checks.flag_used(old, argv):
            print(f"aam {command}: warning: {old} is now {option.flag}; the old "
                  "name still works for now.", file=sys.stderr)
        if option.now and checks.flag_used(option.flag, argv):
            print(f"aam {command}: warning: {option.flag} is now "
                  f"{' and '.join('--' + n.replace('_', '-') for n in option.now)}; "
                  "the old form still works for now.", file=sys.stderr)


# -- reading the inputs ---------------------------------------------------------

def _column(frame, name: str, path: str):
    if name not in frame.columns:
        raise UsageError(f"The metadata {path} has no column {name!r}; it has "
                         f"{list(frame.columns)}.")
    return frame[name]


# what pandas (and R) read as missing, but QIIME 2 reads as text
_NA_WORDS = {"na", "n/a", "nan", "null", "none", "-nan", "#n/a", "<na>"}


def _numeric(column, for_categories: str = "use fit-classifier", declared=None):
    """The target column as numbers; `for_categories`: what the command
    offers for a categorical target instead; `declared`: the column's type
    in the file's '#q2:types' row, which QIIME 2 obeys."""
    if declared == "categorical":
        raise AAMInputError(
            f"The target column {column.name!r} is declared categorical (the file's "
            f"'#q2:types' row), and a regressor needs a numeric one; {for_categories} "
            "for categories, or declare it numeric.")
    values, bad = as_numbers(column)
    if len(bad):
        missing = [v for v in bad.unique() if str(v).lower() in _NA_WORDS]
        hint = (f"; QIIME 2 reads only empty cells as missing, so leave the cells of "
                f"missing values empty instead of {missing[0]!r}" if missing else
                f"; {for_categories} for categories")
        raise AAMInputError(
            f"The target column {column.name!r} must be numeric for a regressor, "
            f"but holds e.g. {list(bad.unique()[:3])}{hint}.")
    return values


def _classes(column, declared=None):
    """A classifier's target column; labels that are one number written two
    ways ('1' and '01', '2' and '2.0') are refused unless the file declares
    the column categorical: QIIME 2 would read them as one number."""
    if declared == "numeric":
        raise AAMInputError(
            f"The target column {column.name!r} is declared numeric (the file's "
            "'#q2:types' row), and a classifier needs a categorical one: use "
            "fit-regressor for numbers, or declare it categorical.")
    values, bad = as_numbers(column)
    if declared == "categorical" or len(bad) or column.isna().all():
        return column
    texts = column.dropna().astype(str)
    spellings = texts.groupby(values.dropna().to_numpy()).unique()
    twice = [list(v) for v in spellings if len(v) > 1]
    if twice:
        raise AAMInputError(
            f"The target column {column.name!r} writes one number in two ways "
            f"({' and '.join(map(repr, twice[0][:2]))}), which would be two classes "
            "here and one number in QIIME 2: write each class one way, or declare "
            "the column categorical in a '#q2:types' row to keep them apart.")
    _refuse_measurements(column, texts)
    return column


def _refuse_measurements(column, texts) -> None:
    """Numbers written with a decimal point or an exponent (20.0, 56.5) are
    measurements, not class codes (0/1, 2024): QIIME 2 reads the column as
    numeric and its fit-classifier refuses it; here every value would
    become a class of its own."""
    written = texts[~texts.str.strip().str.fullmatch(r"[+-]?\d+")]
    if len(written):
        raise AAMInputError(
            f"The target column {column.name!r} holds numbers such as "
            f"{', '.join(map(repr, written.unique()[:3]))}, which QIIME 2 reads as a "
            "numeric column, and a classifier would make each value a class of its "
            "own: fit a regressor (fit-regressor; aam tune --kind regressor), or "
            "declare the column categorical in a '#q2:types' row.")


def _declared(frame, name: str):
    """A column's type in the metadata file's '#q2:types' row, or None."""
    return frame.attrs.get("q2:types", {}).get(name)


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
    checks.folder_place(output / MODEL_DIR, "model")
    checkpoints = Checkpoints(output / CHECKPOINT_DIR, every_steps=args.checkpoint_every,
                              resume=args.resume)
    started = (output / CHECKPOINT_DIR / CHECKPOINT_FILE).exists() or (
        output / MODEL_DIR).exists()
    recorded = _recorded_command(output, checkpoints.info())
    if (started or args.resume) and recorded and recorded != args.command:
        raise UsageError(f"{output} holds a {recorded} run, not {args.command}; choose "
                         f"another --output-dir (or continue it with aam {recorded}).")
    if started and not args.resume:
        raise UsageError(f"{output} already holds a run; pass --resume to continue it, "
                         "or choose another --output-dir.")
    return output, checkpoints


_COMMAND_OF_KIND = {"encoder": "pretrain", "regressor": "fit-regressor",
                    "classifier": "fit-classifier"}


def _recorded_command(output: Path, info: dict | None) -> str | None:
    """The command whose run `output` holds, or None when unknown."""
    if info and info.get("command"):
        return info["command"]
    # runs from before last.json named its command: their model's kind
    try:
        config = json.loads((output / MODEL_DIR / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return _COMMAND_OF_KIND.get(config.get("kind")) if isinstance(config, dict) else None


def _train(args, command: str, work) -> int:
    """Join the processes, train with checkpoints, write the model on rank 0;
    --output-dir is this run's alone while it lasts."""
    with checks.run_lock(Path(args.output_dir)):
        return _train_in(args, command, work)


def _train_in(args, command: str, work) -> int:
    from .train.distributed import Runtime, init_from_environment, shutdown
    from .train.loop import log_to_stderr, silent
    from .train.checkpoint import check_finished_settings, record_finished
    output, checkpoints = _run_directory(args)
    checkpoints.settings = _run_settings(args, command)
    # a --resume, of a finished run or an interrupted one, must not mix inputs
    checkpoints.settings["inputs"] = _input_digests(args)
    info = checkpoints.info()
    if args.resume and info is None and (output / MODEL_DIR).is_dir():
        # a ridge or propagation fit writes its model and no checkpoint: a
        # fresh start would overwrite it, whatever the settings asked for now
        raise UsageError(f"{output} holds a finished model ({output / MODEL_DIR}) but no "
                         "checkpoints to compare the settings with (a ridge or "
                         "propagation readout's run before 2026-12-01 wrote none), so "
                         "--resume cannot tell whether it is the run asked for: the "
                         "model is finished; to fit again, choose another --output-dir.")
    if args.resume and info:
        # an interrupted run's settings too, before a readout that loads no
        # checkpoint (ridge, propagation) could write over it
        check_finished_settings(checkpoints, info)
    if args.resume and info and info.get("finished") and (output / MODEL_DIR).is_dir():
        print(f"The run in {output} has finished; its model is {output / MODEL_DIR}.",
              file=sys.stderr)
        return 0
    dist = init_from_environment(args.strategy, args.device or "auto")
    tracker, written = tracking.NONE, None
    try:
        log = log_to_stderr if dist.is_main else silent
        if args.strategy != "ddp" and dist.world_size == 1:
            # not refused: one script may run with one process or under torchrun
            log(f"--strategy {args.strategy} only acts with several processes (under "
                "torchrun --nproc_per_node N); this run has one, so the model is "
                "not sharded.")
        tracker = _open_tracker(args, command, dist)
        checkpoints.identity = {"command": command,
                                "inputs": checkpoints.settings["inputs"]}
        bundle = work(log, Runtime(dist, checkpoints, tracker))
        if dist.is_main:
            bundle.config["training"]["distributed"] = {
                "world_size": dist.world_size, "strategy": dist.strategy,
                "backend": dist.backend or None}
            _write_model(bundle, output / MODEL_DIR)
            record_finished(checkpoints, bundle.config["training"])
            log(f"Wrote {output / MODEL_DIR}; import it with: qiime tools import "
                f"--type 'AAMModel[{_VARIANT[bundle.kind]}]' --input-path "
                f"{output / MODEL_DIR} --output-path model.qza")
            written = output / MODEL_DIR
        dist.barrier()
    finally:
        tracker.finish(written)
        shutdown(dist)
    return 0


def _open_tracker(args, command: str, dist):
    """Rank 0's tracker: one voice per run, its metrics every process's. Its
    refusal (e.g. an MLflow store that cannot be opened) reaches every
    process, which would otherwise wait in the first collective and fail
    there with a traceback of the connection rank 0 closed."""
    tracker, refusal = tracking.NONE, None
    if dist.is_main:
        try:
            tracker = tracking.open_tracker(args.tensorboard, args.mlflow_uri,
                                            f"aam {command}", _options(args))
        except AAMInputError as error:
            refusal = error
    said = dist.broadcast(None if refusal is None else str(refusal))
    if refusal is not None:
        raise refusal
    if said is not None:
        raise AAMInputError(said)
    return tracker


# what may change when a run resumes (as checkpoint._FREE_SETTINGS), and
# what only says where the run reports or where its settings came from
_NOT_THE_RUN = ("device", "n_threads", "compile", "tensorboard", "mlflow_uri", "settings")


def _run_settings(args, command: str) -> dict:
    """The settings of the run asked for, by option name: recorded with its
    checkpoints, so that --resume of a finished run can compare them."""
    names = [o.name for o in for_command(command) if o.name not in _NOT_THE_RUN]
    names += [n for n in ("target", "parent", "category_weight") if hasattr(args, n)]
    return {name: getattr(args, name, None) for name in names}


# the input files of the training commands, by option name
_INPUT_FILES = ("table", "sequences", "distances", "distance_ids", "metadata",
                "pretrained", "alpha_diversity", "taxonomy")


def _input_digests(args) -> dict:
    """sha256 of each input file's bytes (verify.file_digest; of a
    directory, of its files' digests): what --resume compares, so that
    edited metadata or another table with the same samples cannot continue
    or return a run made from others."""
    digests = {}
    for name in _INPUT_FILES:
        given = getattr(args, name, None)
        path = Path(given) if given else None
        if path and path.is_file():
            digests[name] = file_digest(path)
        elif path and path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            digests[name] = hashlib.sha256(
                "".join(map(file_digest, files)).encode()).hexdigest()
    return digests


def _options(args) -> dict:
    """The command's options as given or defaulted, for the tracker."""
    return {key: value for key, value in sorted(vars(args).items())
            if key not in ("run", "debug") and not callable(value)}


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
    options = vars(args)
    model = ModelConfig.preset(args.preset, **given(ModelConfig, options))
    data = build(DataConfig, options, "pretrain")
    train = build(TrainConfig, options, "pretrain")

    def work(log, runtime):
        checkpoints = runtime.checkpoints
        table, sequences = _inputs(args)
        distances = _distances(args)
        checkpoints.identity["table"] = _table_digest(table)
        alpha = None
        if args.alpha_diversity:
            from .data.alpha import read_alpha
            alpha = read_alpha(args.alpha_diversity)
            # a resume must not mix alpha values either
            checkpoints.identity["alpha_diversity"] = (
                f"{zlib.crc32(alpha.to_csv(sep=chr(9)).encode()):08x}")
        taxonomy = None
        if args.taxonomy:
            from .data.taxonomy import read_taxonomy
            taxonomy = read_taxonomy(args.taxonomy)
            checkpoints.identity["taxonomy"] = (
                f"{zlib.crc32(taxonomy.to_csv(sep=chr(9)).encode()):08x}")
        return api.pretrain(table, sequences, distances, model=model, data=data,
                            train=train, log=log, alpha_diversity=alpha,
                            taxonomy=taxonomy, runtime=runtime)
    return _train(args, "pretrain", work)


def cmd_fit(args, kind: str) -> int:
    from .fit import FitInputs, FitSettings, fit_model
    settings = fit_arguments(vars(args), bool(args.pretrained), bool(args.distances))
    conditioning_config = _conditioning_config(args)

    def work(log, runtime):
        from .bundle import ModelBundle
        table, sequences = _inputs(args)
        frame = _metadata_of(table, args, missing_samples_for(settings["train"].readout,
                                                              args.missing_samples))
        target = _column(frame, args.target, args.metadata)
        target = (_numeric if kind == "regressor" else _classes)(
            target, declared=_declared(frame, target.name))
        groups = _column(frame, args.groups, args.metadata) if args.groups else None
        conditioning = None
        if args.conditioning:
            conditioning = _as_qiime2_types(frame, [_column(frame, c, args.metadata).name
                                                    for c in args.conditioning])
        weighting, weights = _loss_weights(args, frame, conditioning_config)
        # --normalise-by and --loss-weights name columns of --metadata, which
        # need not be conditioning columns
        by = [c for c in (weighting.normalise_by, weighting.weight_by) if c]
        categories = _as_qiime2_types(frame, [_column(frame, c, args.metadata).name
                                              for c in dict.fromkeys(by)]) if by else None
        pretrained = ModelBundle.load(args.pretrained) if args.pretrained else None
        runtime.checkpoints.identity["table"] = _table_digest(table)
        inputs = FitInputs(table, target, sequences, groups, pretrained,
                           _distances(args), conditioning, categories, weights)
        train = _checkpointed_auto(args, kind, settings["train"], pretrained, log)
        return fit_model(kind, inputs, FitSettings(**{**settings, "train": train},
                                                   conditioning=weighting), log, runtime)
    _checkpointed_readout(args, settings["train"])
    return _train(args, f"fit-{kind}", work)


def _checkpointed_auto(args, kind: str, train, pretrained, log):
    """Readout 'auto' where checkpoints are asked for (--checkpoint-every)
    or were written (--resume of an interrupted run): only gradient
    training writes them, so it fine-tunes, and says why where the ridge
    readout could have run."""
    from .train.checkpoint import CHECKPOINT_FILE
    written = Path(args.output_dir) / CHECKPOINT_DIR / CHECKPOINT_FILE
    why = (f"--checkpoint-every {args.checkpoint_every} asks for checkpoints, which only "
           "gradient training writes" if args.checkpoint_every else
           f"--resume continues the fine-tuning checkpointed in {written}"
           if args.resume and written.is_file() else None)
    if train.readout != "auto" or why is None:
        return train
    if kind == "regressor" and pretrained is not None:
        log(f"--readout auto: fine-tuning, not the ridge readout: {why}.")
    return replace(train, readout="fine_tune")


def _checkpointed_readout(args, train) -> None:
    """The ridge and propagation readouts train no network: no step, no
    epoch, so no checkpoint to write ('auto' fine-tunes there:
    _checkpointed_auto)."""
    if not args.checkpoint_every or train.readout in ("fine_tune", "auto"):
        return
    raise UsageError(f"--readout {train.readout} trains no network, so it writes no "
                     f"checkpoints and --checkpoint-every {args.checkpoint_every} "
                     "would be ignored: leave it out.")


def _metadata_of(table, args, missing_samples: str | None = None):
    """--metadata, whose rows must cover the table's samples unless
    --missing-samples ignore, as in the actions; `missing_samples`: the
    rule as the run applies it (settings.missing_samples_for), when not the
    flag's."""
    frame = read_metadata(args.metadata)
    refuse_samples_without_metadata(table.ids(), frame.index,
                                    missing_samples or args.missing_samples,
                                    spelled("missing_samples", "ignore"))
    return frame


def _as_qiime2_types(frame, columns: list):
    """These columns as QIIME 2 types them: numbers where every value is one
    (unless the '#q2:types' row says categorical), so that 2024 and 2024.0
    are one category here as in the actions; text otherwise."""
    out = frame[columns].copy()
    for name in columns:
        values, words = as_numbers(out[name])
        if _declared(frame, name) != "categorical" and not len(words) and \
                values.notna().any():
            out[name] = values
    return out


def _loss_weights(args, frame, config: ConditioningConfig):
    """(the conditioning settings, per-sample weights or None) for the
    --loss-weights column: a categorical one weighs by category, a numeric
    one (as QIIME 2 reads its type) gives each sample its weight."""
    name = args.loss_weights or args.weight_by
    if name is None:
        if args.category_weight:
            raise UsageError("--category-weight weighs the categories of --loss-weights; "
                             "give --loss-weights a categorical column.")
        return config, None
    declared = _declared(frame, name)
    values, words = as_numbers(_column(frame, name, args.metadata))
    numeric = args.loss_weights is not None and declared != "categorical" and not len(words)
    if not numeric:
        _known_categories(config.category_weights, frame[name], name)
        return replace(config, weight_by=name), None
    if args.category_weight:
        raise UsageError(f"--category-weight weighs categories, but --loss-weights "
                         f"{name!r} is numeric (each sample's weight); leave out "
                         "--category-weight, or mark the column categorical in the "
                         "file's '#q2:types' row.")
    return config, values


def _known_categories(weights, column, name: str) -> None:
    """A --category-weight for a category the column lacks would be ignored."""
    categories = sorted(column.dropna().astype(str).unique())
    for category, weight in weights:
        if category not in categories:
            shown = categories[:10] + (["..."] if len(categories) > 10 else [])
            raise UsageError(f"--category-weight {category}:{weight:g}: the --loss-weights "
                             f"column {name!r} has no category {category!r}; its "
                             f"categories are {shown}.")


def _conditioning_config(args) -> ConditioningConfig:
    pairs = {}
    for name, flag, shape, values, convert in (
            ("parents", "--parent", "CHILD:PARENT", args.parent, str),
            ("category_weights", "--category-weight", "CATEGORY:WEIGHT",
             args.category_weight, float)):
        parsed = []
        for text in values or ():
            key, sep, value = text.rpartition(":")
            try:
                parsed.append((key, convert(value)))
            except ValueError:
                sep = ""  # a weight that is not a number
            if not sep or not key or not value:
                raise UsageError(f"{flag} takes {shape} (e.g. {flag} "
                                 f"{'city:country' if name == 'parents' else 'female:2'}), "
                                 f"not {text!r}.")
        pairs[name] = tuple(parsed)
    _check_category_weights(pairs["category_weights"])
    return ConditioningConfig(**given(ConditioningConfig, vars(args)), **pairs)


def _check_category_weights(pairs) -> None:
    """Each category once, with a weight the loss can use (inf or nan
    would make it non-finite, a negative one would reward errors)."""
    seen = {}
    for category, weight in pairs:
        text = f"{category}:{weight:g}"
        if not math.isfinite(weight) or weight < 0:
            raise UsageError(f"--category-weight {text}: the weight of {category!r} must "
                             "be a finite number >= 0.")
        if category in seen:
            raise UsageError(f"--category-weight gives {category!r} twice ({category}:"
                             f"{seen[category]:g} and {text}); give each category once.")
        seen[category] = weight


# -- tuning ---------------------------------------------------------------------------

def cmd_tune(args) -> int:
    from . import settings_file, tune
    from .bundle import ModelBundle
    tune.require_optuna()  # before any file is made
    kind = args.kind
    checks.writable_file(args.study, "--study")
    tune.check_study_file(args.study)  # before the inputs are read
    fixed = settings_file.read(args.settings, f"fit-{kind}") if args.settings else {}
    table, sequences = _inputs(args)
    frame = _metadata_of(table, args)
    target = _column(frame, args.target, args.metadata)
    target = _numeric(target, "pass --kind classifier", _declared(frame, target.name)) \
        if kind == "regressor" else _classes(target, _declared(frame, target.name))
    groups = _column(frame, args.groups, args.metadata) if args.groups else None
    pretrained = ModelBundle.load(args.pretrained) if args.pretrained else None
    result = tune.tune(kind, table, target, sequences, groups, pretrained,
                       study=args.study, fixed=fixed, trials=args.trials,
                       folds=args.folds, log=_stderr)
    settings_file.write(args.output, result.settings, f"fit-{kind}", about=result.about)
    _stderr(f"Best: trial {result.about['trial']}, {result.metric} {result.value:.4g} "
            f"over {args.folds} folds. Wrote {args.output}; use it with: aam fit-{kind} "
            f"--settings {args.output} ...")
    return 0


def _with_settings_file(parser, args, argv):
    """A fit command's --settings FILE: its values become the command's
    defaults, so that the flags given on the command line win."""
    if args.command not in FIT_COMMANDS or not getattr(args, "settings", None):
        return args
    from . import settings_file
    values = settings_file.read(args.settings, args.command)
    _subparser(parser, args.command).set_defaults(**values)
    args = parser.parse_args(argv)
    args.settings_values = values  # for messages: which values the file gave
    return args


def _from_settings_file(args, given_argv, message: str) -> str:
    """' (--epochs from --settings FILE)' for the flags a refusal names
    whose value came from the settings file, not the command line."""
    named = []
    for name in getattr(args, "settings_values", None) or {}:
        flag = "--" + name.replace("_", "-")
        spelled_as = (flag, "--no-" + flag[2:])
        if any(re.search(re.escape(f) + r"(?![\w-])", message) for f in spelled_as) \
                and not checks.flag_used(flag, given_argv):
            named.append(flag)
    return f" ({', '.join(named)} from --settings {args.settings})" if named else ""


def _declared_help(name: str, where: str) -> str:
    """An option's help as its declaration words it for `where` (settings.py)."""
    return " ".join(BY_NAME[name].at(where).help.split())


def _subparsers(parser) -> dict:
    """The parser of each command (its flags), by command name."""
    return next(a for a in parser._actions
                if isinstance(a, argparse._SubParsersAction)).choices


def _subparser(parser, command: str) -> argparse.ArgumentParser:
    """The parser of one command (its flags)."""
    return _subparsers(parser)[command]


# -- applying a model -------------------------------------------------------------

def cmd_predict(args) -> int:
    from . import api
    from .bundle import ModelBundle
    bundle = ModelBundle.load(existing(args.model, "The model directory"))
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
    bundle = ModelBundle.load(existing(args.model, "The model directory"))
    conditioning = _model_conditioning(args, bundle, embedding_only=True)
    table, sequences = _inputs(args)
    frame = api.embed(bundle, table, sequences, conditioning, batch_size=args.batch_size,
                      device=args.device, n_threads=args.n_threads, log=_stderr)
    _write_tsv(frame, args.output)
    return 0


def cmd_export_onnx(args) -> int:
    from .bundle import ModelBundle
    from .export import check_exportable, export_onnx, require_onnx
    # what is wrong with the model first: installing onnx would not help it
    bundle = ModelBundle.load(existing(args.model, "The model directory"))
    check_exportable(bundle)
    require_onnx()
    checks.write_atomically(args.output, lambda partial: export_onnx(bundle, partial))
    output = "probabilities" if bundle.kind == "classifier" else "prediction"
    print(f"Wrote {args.output}: inputs tokens (batch, asvs, length) int64 and abundances "
          f"(batch, asvs) float32, output {output}.", file=sys.stderr)
    return 0


def _model_conditioning(args, bundle, embedding_only: bool = False):
    """The metadata columns the model reads (its conditioning and the column
    its target is normalised by; for an embedding, what metadata_columns
    names), from --metadata."""
    from .predict import metadata_columns, read_after_embedding
    columns = metadata_columns(bundle, embedding_only)
    if not columns:
        if args.metadata and embedding_only and metadata_columns(bundle):
            raise UsageError(f"{read_after_embedding(bundle)}, so --metadata "
                             f"{args.metadata} would not change it: leave it out.")
        if args.metadata:
            raise UsageError(f"This model was fitted without conditioning, so it reads no "
                             f"metadata: --metadata {args.metadata} would be ignored. "
                             "Leave it out, or use the model fitted with it.")
        return None
    if not args.metadata:
        raise UsageError(f"This model reads the metadata column(s) {columns} (its "
                         "conditioning or target normalisation); give them with --metadata.")
    frame = read_metadata(args.metadata)
    absent = [c for c in columns if c not in frame.columns]
    if absent:  # reindexing would make them columns of missing values
        raise UsageError(f"--metadata {args.metadata} lacks the column(s) {absent} this "
                         "model reads (its conditioning or target normalisation): give "
                         "the metadata file with them.")
    return _as_qiime2_types(frame, columns)


def _write_tsv(frame, path: str) -> None:
    """The table to `path`, or to standard output for '-' (for a pipe)."""
    frame = frame.copy()
    frame.index.name = "sample-id"
    if path == "-":
        frame.to_csv(sys.stdout, sep="\t")
        sys.stdout.flush()
        print(f"Wrote {len(frame)} samples to standard output.", file=sys.stderr)
        return
    # pandas infers compression from the name it writes to, which is the
    # temporary PATH.partial: name the final one's, or `--output x.tsv.gz`
    # gets plain text under a .gz name that gzip-reading tools then reject
    compression = _COMPRESSION.get(Path(path).suffix.lower())
    if compression == "zip":  # the member is named after the .partial file otherwise
        compression = {"method": "zip", "archive_name": Path(path).stem}
    checks.write_atomically(
        path, lambda partial: frame.to_csv(partial, sep="\t", compression=compression))
    print(f"Wrote {path} ({len(frame)} samples).", file=sys.stderr)


# what pandas' compression="infer" reads from these suffixes
_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz", ".zst": "zstd"}


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
    return group


# a command-only option, range-checked as the declared ones are
_CHECKPOINT_EVERY = Option("checkpoint_every", "int", 0, "", low=0)


def _run_options(parser) -> None:
    group = parser.add_argument_group("run")
    group.add_argument("--output-dir", required=True,
                       help="run directory: model/ (the result) and checkpoints/")
    group.add_argument("--resume", action="store_true",
                       help="continue the run in --output-dir from its last checkpoint "
                            "(starts afresh when there is none)")
    group.add_argument("--checkpoint-every", type=_checked(_CHECKPOINT_EVERY, int),
                       default=0, metavar="STEPS",
                       help="also checkpoint every STEPS optimizer steps; 0 (the "
                            "default): at the end of each epoch only")
    group.add_argument("--strategy", choices=("ddp", "fsdp"), default="ddp",
                       help="with several processes: replicate the model (ddp) or "
                            "shard it (fsdp, for models too large for one device)")


def _apply_options(parser, command: str) -> None:
    group = parser.add_argument_group("run")
    group.add_argument("--model", required=True, help="model directory (RUN/model)")
    group.add_argument("--output", required=True,
                       help="TSV file to write; - writes it to standard output")
    _add_options(parser, command)


def _add_pretrain(commands) -> None:
    """aam pretrain: its inputs beyond the table, and its options."""
    pretrain = commands.add_parser("pretrain", help="self-supervised encoder: UniFrac "
                                   "distances and masked nucleotides")
    inputs = _input_options(pretrain, training=True)
    inputs.add_argument(
        "--alpha-diversity", metavar="FILE.tsv", help="alpha diversity per sample "
        "(e.g. Shannon; alpha-diversity.tsv of `qiime tools export`) that the sample "
        "embedding learns to predict")
    inputs.add_argument(
        "--taxonomy", metavar="FILE.tsv", help="taxonomy per feature ('Feature ID' and "
        "'Taxon' columns; taxonomy.tsv of `qiime tools export`) that each ASV's vector "
        "learns to predict, phylum to genus")
    _run_options(pretrain)
    _add_options(pretrain, "pretrain")
    pretrain.set_defaults(run=cmd_pretrain)


def _add_tune(commands) -> None:
    """aam tune: the targets, the study file and the settings it writes."""
    tune = commands.add_parser("tune", help="search fit settings with Optuna, scored by "
                               "grouped cross-validation (needs optuna)")
    _input_options(tune, training=False)
    group = tune.add_argument_group("targets")
    group.add_argument("--metadata", required=True, help="sample metadata TSV")
    group.add_argument("--target", required=True, help="the metadata column to predict")
    group.add_argument("--kind", choices=("regressor", "classifier"), default="regressor",
                       help="tune fit-regressor or fit-classifier (default: regressor)")
    group.add_argument("--pretrained", help="pretrained model directory every trial "
                       "starts from")
    group = tune.add_argument_group("run")
    group.add_argument("--study", required=True, metavar="PATH.db",
                       help="SQLite file of the study; running again adds trials to it")
    group.add_argument("--output", required=True, metavar="SETTINGS.json",
                       help="settings file of the best trial, for fit-KIND --settings")
    _add_options(tune, "tune")
    tune.set_defaults(run=cmd_tune)


def _add_export_onnx(commands) -> None:
    """aam export-onnx: the model (as an argument or --model) and the file."""
    onnx = commands.add_parser("export-onnx", help="the prediction graph of a fitted "
                               "model (ASV encoder included) as an ONNX file")
    onnx.add_argument("model", metavar="MODEL_DIR", nargs="?", help="model directory "
                      "(RUN/model, or the data/ folder `qiime tools export` makes of "
                      "a .qza)")
    # as `aam predict` and `aam embed` name it: either spelling works
    onnx.add_argument("--model", dest="model_option", metavar="MODEL_DIR",
                      help="the same, as a flag")
    onnx.add_argument("--output", required=True, help="ONNX file to write")
    onnx.set_defaults(run=cmd_export_onnx)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aam", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `aam COMMAND --help` for a command's options.",
        allow_abbrev=False)
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_pretrain(commands)

    for kind in ("regressor", "classifier"):
        fit = commands.add_parser(f"fit-{kind}", help=f"fine-tune (or train) a {kind} "
                                  "of a metadata column")
        _input_options(fit, training=True)
        group = fit.add_argument_group("targets")
        group.add_argument("--metadata", required=True, help="sample metadata TSV")
        group.add_argument("--target", required=True, help="the metadata column to predict")
        group.add_argument("--parent", action="append", metavar="CHILD:PARENT",
                           help="conditioning hierarchy (repeatable)")
        group.add_argument("--category-weight", action="append", metavar="CATEGORY:WEIGHT",
                           help="loss weight of a category of --loss-weights (repeatable)")
        group.add_argument("--pretrained", help="pretrained model directory to start from "
                           "(the model's head options apply to it too)")
        _run_options(fit)
        _add_options(fit, f"fit-{kind}")
        fit.set_defaults(run=lambda args, kind=kind: cmd_fit(args, kind))

    predict = commands.add_parser("predict", help="predict with a fitted model")
    _input_options(predict, training=False)
    predict.add_argument("--metadata", help=_declared_help("conditioning", "predict"))
    _apply_options(predict, "predict")
    predict.set_defaults(run=cmd_predict)

    _add_tune(commands)

    embed = commands.add_parser("embed", help="sample embeddings of any model")
    _input_options(embed, training=False)
    embed.add_argument("--metadata", help=_declared_help("conditioning", "embed"))
    _apply_options(embed, "embed")
    embed.set_defaults(run=cmd_embed)

    _add_export_onnx(commands)
    for command in commands.choices.values():
        # a flag's prefix was taken for the one flag it starts: `--loss mse` in
        # fit-classifier, which has no --loss, was read as --loss-weights mse
        # ("no column 'mse'"), and `--epoch 2` escaped the checks of --epochs
        command.allow_abbrev = False
    return parser


def _unknown_flag_hint(parser, command: str, unknown: list) -> str:
    """Where a flag this command lacks belongs (fit-regressor's --loss given
    to fit-classifier), or the flags it starts (flags are never abbreviated)."""
    flags = [item.partition("=")[0] for item in unknown if item.startswith("--")]
    if not flags:
        return ""
    flag = flags[0]
    commands = _subparsers(parser)
    own = commands[command]._option_string_actions
    others = [name for name, sub in commands.items() if flag in sub._option_string_actions]
    if others:
        return f"; {flag} is a flag of aam {' and aam '.join(others)}, not of aam {command}"
    started = sorted(f for f in own if f.startswith(flag))
    return (f"; flags are spelled out in full: did you mean {' or '.join(started)}?"
            if started else "")


def main(argv=None) -> int:
    from .bundle import ModelFormatError
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # argparse's own words, and for tune where the fit options go
        hint = ("; aam tune reads the fit options from its --settings file (keys by "
                "option name, e.g. {\"n_threads\": 1})" if args.command == "tune" else
                _unknown_flag_hint(parser, args.command, unknown))
        parser.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")
    given_argv = sys.argv[1:] if argv is None else argv
    created = []
    try:
        with speaking("aam"):
            args = _with_settings_file(parser, args, argv)
            created = checks.before_command(args)
            checks.arguments(args, given_argv)
            for text in checks.flags_given_twice(_subparser(parser, args.command),
                                                 given_argv):
                print(f"aam {args.command}: warning: {text}", file=sys.stderr)
            # after the checks: an older flag refused with its newer one
            # is said once, as the error
            _warn_old_names(given_argv, args.command)
            return args.run(args)
    except (AAMInputError, ModelFormatError, ValueError, OSError) as error:
        checks.remove_if_empty(created)
        if args.debug:
            raise
        import os
        where = ""
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            where = f" (process {os.environ.get('RANK', '?')})"
        hint = _from_settings_file(args, given_argv, str(error))
        if not isinstance(error, (AAMInputError, ModelFormatError)):
            hint += " (--debug shows the traceback)"
        print(f"aam {args.command}{where}: error: {error}{hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return checks.interrupted(args)


if __name__ == "__main__":
    sys.exit(main())
