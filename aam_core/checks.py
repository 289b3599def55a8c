"""Checks of the `aam` command that run before any work.

Each is a small function cli.py calls in one line, so that a wrong option,
a missing GPU or an unwritable output directory is reported at once, in the
command's own vocabulary (--output-dir, --device), instead of as a
traceback or after the first epoch.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from . import tracking
from .errors import AAMInputError


def before_command(args) -> list:
    """Everything that can be checked from the options alone; the folders it
    created (for remove_if_empty, should the command then fail)."""
    if getattr(args, "device", None) == "cuda":
        check_cuda()
    # option ranges are checked where the flags are parsed (their declarations)
    created = []
    # the TensorBoard event folder too: a file in its place would otherwise
    # fail only when the tracker opens, as a bare OSError
    for option in ("output_dir", "tensorboard"):
        if getattr(args, option, None) is not None:
            path = Path(getattr(args, option)).absolute()
            created += [p for p in (path, *path.parents) if not p.exists()][::-1]
            writable_directory(getattr(args, option), "--" + option.replace("_", "-"))
    if getattr(args, "output", None) is not None:
        writable_file(args.output, "--output")
    tracking.check_available(args)  # a missing optional package, not a traceback
    return created


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
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise AAMInputError(f"{option} {path} is not writable ({error.strerror}); "
                            "choose a directory you can write to.") from error
    return path


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
        with tempfile.TemporaryFile(dir=folder):
            pass
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
        folder = Path(args.output_dir) / "checkpoints"
        message += (" Continue from the last checkpoint with the same command and "
                    f"--resume (the checkpoints are in {folder}).")
    if getattr(args, "study", None) is not None:
        message += (f" The finished trials are in {args.study}; the same command adds "
                    "more to them.")
    print(message, file=sys.stderr, flush=True)
    return 130
