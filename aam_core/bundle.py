"""The trained-model bundle: what a model directory holds, in memory.

This module imports neither torch nor qiime2 at import time, so the QIIME 2
plugin can register transformers for it without paying for torch at plugin
load. A model directory holds:

    config.json   format_version, kind, architecture, data settings, training
                  settings, resolved seed and device, vocabulary, target
                  normalisation, class labels, library versions
    model.pt      the state_dict (loaded with weights_only=True on CPU)
    history.tsv   one row per epoch: losses and metrics, train and validation
"""
from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import verify
from .config import current_names
from .errors import AAMInputError, kind_of
from .verify import CONFIG_DIGEST_KEY, DIGEST_KEY, ModelFormatError

FORMAT_VERSION = 1
KINDS = ("encoder", "regressor", "classifier")
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.pt"
HISTORY_FILE = "history.tsv"

# key -> accepted JSON types; every key is required (null allowed where None
# is listed) so a model directory always says everything about itself.
_CONFIG_SCHEMA: dict[str, tuple[type, ...]] = {
    "format_version": (int,),
    "kind": (str,),
    "architecture": (dict,),
    "data": (dict,),
    "training": (dict,),
    "seed": (int,),
    "device": (str,),
    "vocabulary": (dict,),
    "target": (dict, type(None)),
    "class_labels": (list, type(None)),
    "conditioning": (dict, type(None)),
    "versions": (dict,),
}


def validate_config(config: Any) -> None:
    """Raise ModelFormatError naming the first problem in a config dict."""
    if not isinstance(config, dict):
        raise ModelFormatError("config.json must hold a JSON object.")
    missing = [k for k in _CONFIG_SCHEMA if k not in config]
    if missing:
        raise ModelFormatError(
            f"config.json lacks the key(s) {missing}; it was not written by "
            "aam_core or it was damaged.")
    version = config["format_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFormatError("config.json: format_version must be an integer.")
    if version > FORMAT_VERSION:
        raise ModelFormatError(
            f"This model was written in format version {version}, newer than "
            f"the version this aam_core reads ({FORMAT_VERSION}). Upgrade "
            "q2-aam/aam_core to use it.")
    if version < 1:
        raise ModelFormatError(f"config.json: format_version {version} is invalid.")
    for key, types in _CONFIG_SCHEMA.items():
        if not isinstance(config[key], types):
            names = " or ".join("null" if t is type(None) else t.__name__
                                for t in types)
            raise ModelFormatError(
                f"config.json: '{key}' must be {names}, "
                f"not {type(config[key]).__name__}.")
    if config["kind"] not in KINDS:
        raise ModelFormatError(
            f"config.json: kind must be one of {KINDS}, not {config['kind']!r}.")
    if config["kind"] == "regressor" and config["target"] is None:
        raise ModelFormatError("config.json: a regressor needs its 'target' block.")
    if config["kind"] == "classifier" and not config["class_labels"]:
        raise ModelFormatError("config.json: a classifier needs 'class_labels'.")
    verify.check_nested(config)


def validate_history(text: str, where: str = HISTORY_FILE) -> pd.DataFrame:
    """The history, a TSV whose first column is 'epoch' and whose cells are
    numbers: a damaged or edited row passed import and then failed in
    summarize with pandas' words (invalid literal for int())."""
    header = text.split("\n", 1)[0].split("\t")
    if header[0] != "epoch":
        raise ModelFormatError(
            "history.tsv must be tab-separated with 'epoch' as first column.")
    try:
        history = pd.read_csv(io.StringIO(text), sep="\t")
    except (ValueError, pd.errors.ParserError) as error:
        raise ModelFormatError(f"{where} is not a readable table: {error}. "
                               f"{_HISTORY_FIX}") from None
    for column in history.columns:
        values = pd.to_numeric(history[column], errors="coerce")
        bad = history[column][values.isna() & history[column].notna()]
        if len(bad) or (column == "epoch" and values.isna().any()):
            cell = f"{bad.iloc[0]!r} on line {bad.index[0] + 2}" if len(bad) else "empty cells"
            raise ModelFormatError(f"{where}: column '{column}' holds {cell}, where a "
                                   f"number belongs. {_HISTORY_FIX}")
    return history


# history.tsv is not covered by config.json's digests, so say how to mend it
_HISTORY_FIX = ("The file was damaged or edited: use an intact copy of the model "
                "(re-export or re-download it), or retrain it.")


@dataclass
class ModelBundle:
    """A trained model: its config, its weights and its training history."""
    config: dict
    state_dict: dict = field(repr=False)
    history: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"epoch": []}))

    @property
    def kind(self) -> str:
        return self.config["kind"]

    def save(self, directory: str | Path) -> None:
        """Write the three files; config.json (written last) records the
        sha256 of model.pt, so a damaged copy is refused at load."""
        import torch  # deferred: keeps this module torch-free at import
        directory = _save_folder(self, directory)
        validate_config(self.config)
        directory.mkdir(parents=True, exist_ok=True)
        weights = directory / WEIGHTS_FILE
        try:
            torch.save(self.state_dict, weights)
            config = {**self.config, DIGEST_KEY: verify.file_digest(weights)}
            config[CONFIG_DIGEST_KEY] = verify.config_digest(config)
            self.history.to_csv(directory / HISTORY_FILE, sep="\t", index=False)
            (directory / CONFIG_FILE).write_text(
                json.dumps(config, indent=2, sort_keys=True) + "\n")
        except (OSError, RuntimeError) as error:  # torch's writer raises RuntimeError
            for name in (WEIGHTS_FILE, HISTORY_FILE, CONFIG_FILE):
                (directory / name).unlink(missing_ok=True)
            reason = getattr(error, "strerror", None) or error
            raise OSError(f"Could not write the model to {directory}: {reason}. Is the "
                          "disk full? Free some space, or write elsewhere.") from error

    @classmethod
    def load(cls, directory: str | Path, name: str | None = None,
             notice=None) -> "ModelBundle":
        """Read and verify a model directory: the config's schema, the
        weights' digest (a notice when an older model has none) and their
        shapes. `name`: how errors call the model (default: its folder)."""
        import torch
        directory = _model_folder(directory, name)
        name = name or verify.model_name(directory)
        config = read_config(directory, name)
        weights = directory / WEIGHTS_FILE
        if not weights.is_file():
            raise ModelFormatError(f"{_capital(name)} has no {WEIGHTS_FILE}; copy the "
                                   "whole model directory.")
        verify.check_digest(config, weights, name, notice)
        verify.config_digest_notice(config, name, notice)
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises many types for bad files
            raise ModelFormatError(f"The {WEIGHTS_FILE} of {name} is not a readable "
                                   f"state_dict: {error}") from error
        if not isinstance(state, dict):
            raise ModelFormatError(f"The {WEIGHTS_FILE} of {name} holds no state_dict.")
        verify.check_shapes(config, state, name)
        for key in (DIGEST_KEY, CONFIG_DIGEST_KEY):  # true of the files, not of
            config.pop(key, None)                     # the bundle in memory
        history_path = directory / HISTORY_FILE
        if not history_path.is_file():
            raise ModelFormatError(f"{_capital(name)} has no {HISTORY_FILE}; copy the "
                                   "whole model directory.")
        history = validate_history(history_path.read_text(), f"The {HISTORY_FILE} of {name}")
        return cls(config=config, state_dict=state, history=history)


def _save_folder(bundle, directory) -> Path:
    """Where save writes: a folder (new, or one to overwrite), refused
    when the arguments are swapped or the path is a file."""
    if not isinstance(bundle, ModelBundle):
        raise AAMInputError(f"save(bundle, directory): the model comes first, then the "
                            f"folder to write it to; {kind_of(bundle)} is where the model "
                            "belongs.")
    if not isinstance(directory, (str, os.PathLike)):
        raise AAMInputError(f"save's directory must be a path (a str or a Path), not "
                            f"{kind_of(directory)}.")
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise AAMInputError(f"{directory} is a file: a model is saved as a folder "
                            f"({CONFIG_FILE}, {WEIGHTS_FILE}, {HISTORY_FILE}). Give the "
                            "path of a new folder, or move the file away.")
    return directory


def _model_folder(directory, name) -> Path:
    """The model folder load reads, refused by name when it is no path,
    names nothing, or is a file (a .qza: how to get its folder)."""
    if not isinstance(directory, (str, os.PathLike)):
        already = " (a ModelBundle is loaded already)" if isinstance(
            directory, ModelBundle) else ""
        raise ModelFormatError(f"load takes the path of a model directory (a str or a "
                               f"Path), not {kind_of(directory)}{already}.")
    if not str(directory).strip():  # Path('') is the current folder
        raise ModelFormatError("load was given an empty path: give the path of a model "
                               "directory.")
    path = Path(directory)
    name = name or verify.model_name(path)
    if not path.exists():
        raise ModelFormatError(f"{_capital(name)} does not exist: give the path of a model "
                               "directory (as save, the aam command or qiime tools export "
                               "wrote it).")
    if path.is_file():
        how = (f" It is a QIIME 2 artifact: qiime tools export --input-path {path} "
               "--output-path model-dir gives its model directory; load that."
               if path.suffix == ".qza" else "")
        raise ModelFormatError(f"{_capital(name)} is a file, not a model directory "
                               f"(one holding {CONFIG_FILE}, {WEIGHTS_FILE} and "
                               f"{HISTORY_FILE}).{how}")
    return path


def read_config(directory: str | Path, name: str | None = None) -> dict:
    path = Path(directory) / CONFIG_FILE
    name = name or verify.model_name(directory)
    if not path.is_file():
        # a run folder of the `aam` command holds its model in model/
        inside = Path(directory) / "model" / CONFIG_FILE
        hint = (f" It holds one in {Path(directory) / 'model'}: give that folder (a run "
                "folder keeps its model there)." if inside.is_file() else "")
        raise ModelFormatError(f"{_capital(name)} has no {CONFIG_FILE}; is it a model "
                               f"directory?{hint}")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelFormatError(f"The {CONFIG_FILE} of {name} is not valid JSON: "
                               f"{error}") from error
    try:
        validate_config(config)
    except ModelFormatError as error:
        raise ModelFormatError(f"{_capital(name)}: {error}") from error
    verify.check_config_digest(config, name)
    return current_names(config)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
