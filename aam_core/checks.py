"""Checks of the `aam` command that run before any work.

Each is a small function cli.py calls in one line, so that a wrong option,
a missing GPU or an unwritable output directory is reported at once, in the
command's own vocabulary (--output-dir, --device), instead of as a
traceback or after the first epoch.
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import shutil
import sys
import tempfile
from pathlib import Path

from . import tracking
from .bundle import WEIGHTS_FILE
from .errors import AAMInputError

try:
    import fcntl
except ImportError:  # not on Windows: runs there are not locked
    fcntl = None


def before_command(args) -> list:
    """Everything that can be checked from the options alone; the folders it
    created (for remove_if_empty, should the command then fail)."""
    one_process(args.command)
    if getattr(args, "device", None) == "cuda":
        check_cuda()
    # option ranges are checked where the flags are parsed (their declarations)
    for option in PATH_OPTIONS:
        if getattr(args, option, None) is not None and not getattr(args, option).strip():
            # Path('') is the current directory: the run would land there, and
            # an input would be read from it ("--table . is a directory")
            raise AAMInputError(f"{_flag(args, option)} is empty; give a path.")
    created = []
    try:
        _output_paths(args, created)
        tracking.check_available(args)  # a missing optional package, not a traceback
    except AAMInputError:
        # the folders just made for this run: --output-dir, made before a
        # --tensorboard that is a file was refused, was left behind
        remove_if_empty(created)
        raise
    return created


def _output_paths(args, created: list) -> None:
    """Make --output-dir and --tensorboard (adding each folder made to
    `created`) and prove --output writable. The TensorBoard event folder
    too: a file in its place would otherwise fail only when the tracker
    opens, as a bare OSError."""
    for option in ("output_dir", "tensorboard"):
        if getattr(args, option, None) is not None:
            path = Path(getattr(args, option)).absolute()
            created += [p for p in (path, *path.parents) if not p.exists()][::-1]
            writable_directory(getattr(args, option), "--" + option.replace("_", "-"))
    if getattr(args, "output", None) == "-":
        if args.command not in STDOUT_COMMANDS:  # a binary or settings file
            raise AAMInputError(f"--output - (standard output) takes the table of "
                                f"{' and '.join(STDOUT_COMMANDS)}; give {args.command} "
                                "a file name.")
    elif getattr(args, "output", None) is not None:
        not_an_artifact(args.output)
        writable_file(args.output, "--output")


# the flags that name a file or folder (outputs, then inputs)
PATH_OPTIONS = ("output_dir", "tensorboard", "output", "table", "sequences", "distances",
                "distance_ids", "metadata", "model", "model_option", "pretrained",
                "settings", "study")


def _flag(args, option: str) -> str:
    """How the command line names `option`. export-onnx takes its model as
    MODEL_DIR (model) or as --model (model_option); once one_model_directory
    has read either into args.model, args.model_flag says which."""
    if args.command == "export-onnx" and option == "model":
        return getattr(args, "model_flag", "MODEL_DIR")
    if args.command == "export-onnx" and option == "model_option":
        return "--model"
    return "--" + option.replace("_", "-")


# the commands whose --output is a table, which `-` writes to standard output
STDOUT_COMMANDS = ("predict", "embed")
# the commands that train across the processes torchrun starts; the others
# would each do the whole work and write the same --output
DISTRIBUTED_COMMANDS = ("pretrain", "fit-regressor", "fit-classifier")


def one_process(command: str) -> None:
    """Under torchrun (WORLD_SIZE above 1) only the training commands split
    their work: every process of `aam predict` computed the whole table and
    wrote it to the same --output (twice on standard output with `-`)."""
    size = os.environ.get("WORLD_SIZE", "1").strip()
    processes = int(size) if size.isdigit() else 1
    if processes > 1 and command not in DISTRIBUTED_COMMANDS:
        raise AAMInputError(
            f"aam {command} runs in one process, and torchrun started {processes}: "
            f"each would do the whole work and write the same output. Run aam "
            f"{command} without torchrun (only {', '.join(DISTRIBUTED_COMMANDS)} "
            "train across processes).")


def remove_if_empty(created: list) -> None:
    """A failed command leaves no empty --output-dir that it made itself."""
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:  # not empty (a checkpoint to resume from), or gone
            return


def check_cuda() -> None:
    import torch
    if not torch.cuda.is_available():
        raise AAMInputError("--device cuda: no CUDA GPU is visible on this machine "
                            "(or this torch has no CUDA support); use --device auto "
                            "or --device cpu.")


def writable_directory(path: str | os.PathLike, option: str) -> Path:
    """Create `path` if needed and prove a file can be written in it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise AAMInputError(f"{option} {path} is a file, not a directory; choose "
                            "another path.")
    try:
        path.mkdir(parents=True, exist_ok=True)
        _write_probe(path)
    except OSError as error:
        raise AAMInputError(f"{option} {path} is not writable ({error.strerror}); "
                            "choose a directory you can write to.") from error
    return path


def _write_probe(folder: Path) -> None:
    """Write (and remove) a file in `folder`: OSError where none can be."""
    with tempfile.TemporaryFile(dir=folder):
        pass


@contextlib.contextmanager
def run_lock(output: Path):
    """Hold --output-dir for one run: two runs writing one folder at once
    both ended with exit 0 and "Wrote OUTPUT/model", and the folder kept
    the model (and checkpoints) of whichever wrote last. Rank 0 alone takes
    it under torchrun (the others write nothing). The lock is on the folder
    itself, so nothing is added to it (a lock file kept a failed run's
    folder from being removed as empty); it ends with the process, a
    killed one's too."""
    if os.environ.get("RANK", "0").strip() not in ("", "0") or fcntl is None:
        yield
        return
    handle = os.open(output, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise AAMInputError(f"{output} is in use: another aam run is writing to it "
                                "now. Wait for that run to end, or choose another "
                                "--output-dir.") from None
        yield
    finally:
        os.close(handle)


def folder_place(path: Path, holds: str) -> None:
    """A file, or a link to nothing, where a run writes the folder of its
    `holds` failed only when it was first written, after training, in
    errno's words ("[Errno 17] File exists", "[Errno 20] Not a directory"):
    refused when the run starts."""
    path = Path(path)
    if path.is_dir() or not (path.exists() or path.is_symlink()):
        return
    kind = "a file" if path.exists() else "a link to nothing"
    raise AAMInputError(f"{path} is {kind}, not a folder: the run keeps its {holds} in a "
                        "folder of that name. Move or delete it, or write the run to "
                        "another --output-dir.")


def writable_folder(path: Path, holds: str) -> None:
    """An existing folder the run will write its `holds` into, proved
    writable before the training rather than at its first save."""
    path = Path(path)
    if not path.is_dir():
        return
    try:
        _write_probe(path)
    except OSError as error:
        raise AAMInputError(f"{path} is not writable ({error.strerror}), and the run keeps "
                            f"its {holds} there: make it writable, or write the run to "
                            "another --output-dir.") from error


def not_an_artifact(path: str) -> None:
    """The aam command writes plain files: one named .qza/.qzv would be a
    TSV (or JSON, ONNX) that QIIME 2 then fails to open as an artifact."""
    if Path(path).suffix.lower() in (".qza", ".qzv"):
        raise AAMInputError(
            f"--output {path} names a QIIME 2 artifact, but the aam command writes "
            "plain files (predictions and embeddings as TSV, tune's settings as JSON, "
            "export-onnx an ONNX file): give a name ending in .tsv, .json or .onnx; "
            "`qiime aam ...` writes artifacts.")


def writable_file(path: str | os.PathLike, option: str) -> None:
    """The file's folder must exist and take a new file."""
    path = Path(path)
    if path.is_dir():
        raise AAMInputError(f"{option} {path} is a directory; give a file name.")
    if path.exists() and not path.is_file():  # e.g. /dev/stdout
        return
    folder = path.parent
    if not folder.is_dir():
        raise AAMInputError(f"{option} {path}: the folder {folder} does not exist.")
    try:
        _write_probe(folder)
    except OSError as error:
        raise AAMInputError(f"{option} {path}: cannot write in {folder} "
                            f"({error.strerror}).") from error


def write_atomically(path, write) -> None:
    """write(temporary path), then rename it to `path`: a reader never sees
    half a file; a failed write (disk full) leaves nothing and says so."""
    path = Path(path)
    if path.exists() and not path.is_file():  # e.g. /dev/stdout: write through
        write(path)
        return
    partial = path.with_name(path.name + ".partial")
    try:
        write(partial)
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise OSError(f"Could not write {path}: {error.strerror or error}. Is the disk "
                      "full? Free some space, or write elsewhere.") from error


def save_or_remove(bundle, directory: Path) -> None:
    """Save a model into a fresh folder; a failed save (disk full) removes
    the folder rather than leave half a model behind."""
    try:
        bundle.save(directory)
    except OSError:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def interrupted(args) -> int:
    """Ctrl-C: say how to continue; the exit status of SIGINT."""
    message = f"aam {args.command}: interrupted."
    if getattr(args, "output_dir", None) is not None:
        message += _how_to_continue(Path(args.output_dir) / "checkpoints")
    if getattr(args, "study", None) is not None:
        message += (f" The finished trials are in {args.study}; the same command adds "
                    "more to them.")
    print(message, file=sys.stderr, flush=True)
    return 130


def _how_to_continue(folder: Path) -> str:
    """Before the first checkpoint there is nothing to continue from (the
    message once pointed at a checkpoints folder that did not exist)."""
    if any(folder.glob("**/last.json")):
        return (" Continue from the last checkpoint with the same command and --resume "
                f"(the checkpoints are in {folder}).")
    return (" It was stopped before its first checkpoint, so nothing was kept: run the "
            "same command again (with --resume too, it starts afresh).")


# -- options that cannot work together, or hold a wrong number of values ----------

def arguments(args, argv) -> None:
    """What argparse cannot see: list lengths, a column named twice, two
    flags for one setting, and the paths of model directories."""
    value_counts(args)
    distinct_columns(args)
    one_form_each(args, argv)
    if args.command == "export-onnx":
        one_model_directory(args)
    for option in ("pretrained", "model"):
        if getattr(args, option, None):
            model_directory(getattr(args, option), _flag(args, option))
    distances = getattr(args, "distances", None)
    if getattr(args, "distance_ids", None) and distances and \
            Path(distances).suffix.lower() != ".npy":
        # only a bare .npy array lacks its ids; a TSV or HDF5 matrix names them
        raise AAMInputError(f"--distance-ids only goes with a .npy --distances matrix; "
                            f"{distances} names its samples itself, so leave out "
                            "--distance-ids.")
    output_apart_from_inputs(args)
    run_folder_outside_models(args)


def run_folder_outside_models(args) -> None:
    """--output-dir must not be, or lie in, a model directory (the
    --pretrained input's or any other): the run's checkpoints/ and model/
    would be written into it, and it would no longer load or import."""
    output_dir = getattr(args, "output_dir", None)
    if output_dir is None:
        return
    path = Path(output_dir).absolute()
    for folder in (path, *path.parents):
        if (folder / "config.json").is_file() and (folder / WEIGHTS_FILE).is_file():
            where = "is" if folder == path else "lies inside"
            raise AAMInputError(f"--output-dir {output_dir} {where} the model directory "
                                f"{folder}: the run would write its checkpoints and model "
                                "into it, and that model would no longer load; choose a "
                                "folder outside it (e.g. next to it).")


# the options naming a file the command reads; model directories are read whole
_INPUT_FILES = ("table", "sequences", "metadata", "distances", "distance_ids",
                "alpha_diversity", "taxonomy", "settings", "study")
_MODEL_DIRECTORIES = ("model", "pretrained")


def output_apart_from_inputs(args) -> None:
    """--output must not be a file the command reads, nor lie in a model
    directory it reads: the write (atomic, by rename) would replace the
    input, e.g. the --table with a predictions TSV, or a model's
    config.json with ONNX bytes, and the input would be lost."""
    output = getattr(args, "output", None)
    if output is None or (Path(output).exists() and not Path(output).is_file()):
        return  # e.g. /dev/stdout, written through (write_atomically)
    for name in _INPUT_FILES + _MODEL_DIRECTORIES:
        value = getattr(args, name, None)
        flag = _flag(args, name)
        if value and _same_path(output, value):
            raise AAMInputError(f"--output {output} is also {flag}: writing there would "
                                "overwrite the input; choose another path.")
        if value and name in _MODEL_DIRECTORIES and _inside_model(output, value):
            raise AAMInputError(f"--output {output} lies inside the model directory "
                                f"{flag} {value}: writing there would change the model "
                                "(or overwrite a file of it); choose a path outside it.")


def _inside_model(path, model) -> bool:
    """Whether `path` lies in the model directory `model` (a folder holding
    config.json; a folder that is no model is said so when it loads)."""
    model = Path(model)
    return (model / "config.json").is_file() and \
        model.resolve() in Path(path).resolve().parents


def _same_path(first, second) -> bool:
    """One file by two names: the same path once resolved (symbolic links,
    '..'), or the same file on disk (a hard link)."""
    if Path(first).resolve() == Path(second).resolve():
        return True
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist (yet)
        return False


def value_counts(args) -> None:
    """argparse reads these lists as any number of values ('*')."""
    bounds = getattr(args, "output_bounds", None)
    if bounds is not None and len(bounds) != 2:
        raise AAMInputError(f"--output-bounds takes two values: LOWER UPPER ('none' for "
                            f"an open end), not {len(bounds)}; or use --lower-bound and "
                            "--upper-bound.")
    if getattr(args, "quantiles", None) == []:
        raise AAMInputError("--quantiles needs at least one value, e.g. --quantiles 0.1 "
                            "0.5 0.9; or leave it out for those.")


def distinct_columns(args) -> None:
    columns = getattr(args, "conditioning", None) or []
    for name in dict.fromkeys(c for c in columns if columns.count(c) > 1):
        raise AAMInputError(f"--conditioning names {name!r} twice; give each column "
                            "once.")


def one_form_each(args, argv) -> None:
    """Refuse an older flag (or spelling) given with the flag that replaced
    it: argparse would keep one of them silently."""
    from .settings import for_command
    options = {o.name: o for o in for_command(args.command)}
    for option in options.values():
        newer = [options[n] for n in option.now if n in options]
        if _given(option, args, argv) and (chosen := [
                n for n in newer if _given(n, args, argv)]):
            raise AAMInputError(
                f"{option.flag} and {chosen[0].flag} set the same thing; keep "
                f"{' and '.join(n.flag for n in newer)} ({option.flag} is the older "
                f"form) and leave out {option.flag}.")
        old = option.old_flag
        if old and flag_used(old, argv) and flag_used(option.flag, argv):
            raise AAMInputError(f"{old} and {option.flag} are one option given twice; "
                                f"keep {option.flag} ({old} is its older name).")


def _given(option, args, argv) -> bool:
    """On the command line, or set away from its default (--settings)."""
    value = getattr(args, option.name, None)
    return flag_used(option.flag, argv) or (value is not None and value != option.default)


def flags_given_twice(parser, argv) -> list:
    """A warning for each flag of one value (or one list) given twice with
    another value: argparse keeps the last (--table a.biom --table b.biom
    reads b.biom), which a script may mean, but never without a word."""
    warnings = []
    for action in parser._actions:
        if not action.option_strings or action.nargs == 0 and \
                not isinstance(action, argparse.BooleanOptionalAction) or \
                isinstance(action, argparse._AppendAction):
            continue
        given = _occurrences(action, list(map(str, argv)))
        if len(set(given)) > 1:
            warnings.append(_given_twice(given, action))
    return warnings


def _occurrences(action, argv: list) -> list:
    """What each use of the flag said: its value(s), or the flag itself
    for --x / --no-x."""
    shown = []
    for at, item in enumerate(argv):
        flag, _, inline = item.partition("=")
        if flag not in action.option_strings:
            continue
        if action.nargs == 0 or inline:
            shown.append(inline or flag)
            continue
        rest = argv[at + 1:at + 2] if action.nargs is None else itertools.takewhile(
            lambda value: not value.startswith("--"), argv[at + 1:])
        shown.append(" ".join(rest))
    return shown


def _given_twice(given: list, action) -> str:
    if action.nargs == 0:  # --freeze-encoder ... --no-freeze-encoder
        return f"{' and '.join(dict.fromkeys(given))} are both given: the last, " \
               f"{given[-1]}, counts."
    flag = action.option_strings[0]
    several = f"; {flag} takes all its values after one flag: {flag} A B" \
        if action.nargs in ("*", "+") else ""
    return f"{flag} is given {len(given)} times ({', then '.join(given)}): the last " \
           f"counts{several}."


def one_model_directory(args) -> None:
    """export-onnx names its model as MODEL_DIR or as --model (as predict and
    embed do): one of the two, then read as args.model."""
    given = [v for v in (args.model, args.model_option) if v is not None]
    if len(given) != 1:
        both = f", not both ({args.model} and {args.model_option})" if given else ""
        raise AAMInputError("Give the model directory once: aam export-onnx MODEL_DIR "
                            f"--output model.onnx (or --model MODEL_DIR){both}.")
    args.model_flag = "MODEL_DIR" if args.model is not None else "--model"
    args.model = given[0]


def flag_used(flag: str, argv) -> bool:
    """Whether the command line holds `flag` (also as --no-..., or flag=value)."""
    return any(a in (flag, "--no-" + flag[2:]) or a.startswith(flag + "=")
               for a in map(str, argv))


def model_directory(path, option: str) -> None:
    """A model is a folder holding config.json; say so before loading."""
    path = Path(path)
    if not path.exists():
        raise AAMInputError(f"{option} {path} does not exist; give a model directory "
                            "(RUN/model).")
    if not path.is_dir():
        hint = (" For a .qza, `qiime tools export` it and give the folder it makes."
                if path.suffix == ".qza" else "")
        raise AAMInputError(f"{option} {path} is a file, not a model directory (give "
                            f"the folder that holds config.json).{hint}")
