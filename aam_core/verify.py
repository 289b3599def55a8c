"""Models are verified, not trusted: a damaged model is refused, never used.

A model directory's config.json records the sha256 digest of its model.pt,
so a damaged or swapped weights file is refused at validation and at every
load instead of predicting garbage. The whole config schema is checked,
nested blocks included, so a hand-edited config never falls back silently
to defaults; and the weights' names and shapes are checked against the
network the config describes.

torch is imported inside the functions that need it: bundle.py (and with it
the QIIME 2 plugin at load) stays torch-free.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from pathlib import Path

from .config import TrainConfig
from .option import choices_of

DIGEST_KEY = "weights_sha256"
# the sha256 of config.json's own settings: an edit that keeps the schema
# (a target shift, max_asvs) would otherwise change every prediction unseen
CONFIG_DIGEST_KEY = "config_sha256"

# Nested fields every saved model has held since format_version 1; fields
# added later (e.g. architecture.kmer_size) keep their defaults when absent,
# so older models still load.
_BOOL, _INT, _NUM = (bool,), (int,), (int, float)
REQUIRED_FIELDS = {
    "architecture": {"d_model": _INT, "n_heads": _INT, "nucleotide_layers": _INT,
                     "sample_layers": _INT, "ff_mult": _INT, "dropout": _NUM,
                     "max_length": _INT, "regression_hidden": (list,)},
    "data": {"max_length": _INT, "truncate": _BOOL, "max_asvs": _INT},
    "vocabulary": {},
    "training": {},
}
TARGET_FIELDS = {"method": (str,), "shift": _NUM, "scale": _NUM}
CONDITIONING_FIELDS = {"columns": (list,), "vocabularies": (dict,)}


class ModelFormatError(ValueError):
    """A model directory or config that cannot be used, with the reason."""


def _type_names(types) -> str:
    names = {bool: "true/false", int: "an integer", float: "a number",
             list: "a list", dict: "an object", str: "a string"}
    return " or ".join(dict.fromkeys(names[t] for t in types))


def _check_fields(block: dict, where: str, required: dict) -> None:
    missing = [name for name in required if name not in block]
    if missing:
        fields = ", ".join(f"{where}.{m}" for m in missing)
        raise ModelFormatError(
            f"config.json lacks {fields}; the file was edited or damaged (a saved "
            "model always has it). Restore the original config.json, or retrain "
            "the model.")
    for name, types in required.items():
        value = block[name]
        wrong_bool = isinstance(value, bool) and bool not in types
        if wrong_bool or not isinstance(value, types):
            raise ModelFormatError(f"config.json: {where}.{name} must be "
                                   f"{_type_names(types)}, not {value!r}.")
        if types is _INT and value < 1:
            raise ModelFormatError(f"config.json: {where}.{name} must be at least 1, "
                                   f"not {value}.")


def check_nested(config: dict) -> None:
    """Raise ValueError naming the first missing or mistyped nested field.
    `config` has passed bundle.validate_config's top-level checks."""
    for block, required in REQUIRED_FIELDS.items():
        _check_fields(config[block], block, required)
    if config["kind"] == "regressor":
        _check_fields(config["target"], "target", TARGET_FIELDS)
        if config["target"].get("by"):
            _check_fields(config["target"], "target", {"categories": (dict,)})
        _check_target(config["target"])
    labels = config["class_labels"]
    if labels is not None and len(set(map(str, labels))) != len(labels):
        raise ModelFormatError(f"config.json: class_labels repeat a label ({labels}); "
                               "the file was edited or damaged.")
    if labels is not None and config["kind"] != "classifier":
        raise ModelFormatError(f"config.json: a model of kind {config['kind']!r} has no "
                               f"class_labels, yet they hold {labels}; the file was edited "
                               "or damaged.")
    _check_lengths(config)
    if config["conditioning"] is not None:
        _check_fields(config["conditioning"], "conditioning", CONDITIONING_FIELDS)
    for key in (DIGEST_KEY, CONFIG_DIGEST_KEY):
        digest = config.get(key)
        if digest is not None and not (isinstance(digest, str)
                                       and re.fullmatch(r"[0-9a-f]{64}", digest)):
            raise ModelFormatError(f"config.json: {key} must be a sha256 hex "
                                   f"digest, not {digest!r}.")


def _check_lengths(config: dict) -> None:
    """Reads are cut at data.max_length and placed on the architecture's
    max_length positions: a longer cut would read past them at prediction."""
    reads, positions = config["data"]["max_length"], config["architecture"]["max_length"]
    if reads > positions:
        raise ModelFormatError(
            f"config.json: data.max_length ({reads}) exceeds the architecture's max_length "
            f"({positions}), the positions the model has weights for; the file was edited "
            "or damaged.")


def _check_target(target: dict) -> None:
    """The normalisation a regressor undoes at prediction: a known method,
    finite shifts and scales above 0 (overall and per category)."""
    if target["method"] not in choices_of(TrainConfig, "normalisation"):
        raise ModelFormatError(f"config.json: target.method {target['method']!r} is "
                               "not a normalisation this aam_core knows.")
    pairs = [(target["shift"], target["scale"])] + [
        tuple(v) if isinstance(v, (list, tuple)) and len(v) == 2 else (None, None)
        for v in (target.get("categories") or {}).values()]
    for shift, scale in pairs:
        if not (_finite(shift) and _finite(scale) and scale > 0):
            raise ModelFormatError(
                f"config.json: the target's normalisation (shift {shift!r}, scale "
                f"{scale!r}) needs a finite shift and a scale above 0; the file was "
                "edited or damaged. Restore the original config.json, or retrain.")
    _check_quantiles(target.get("quantiles"))
    if target.get("calibration") is not None:
        _check_calibration(target["calibration"], bool(target.get("quantiles")))


def _check_quantiles(quantiles) -> None:
    """A quantile regressor's outputs, lowest first: predictions read the
    point from the middle one and the interval from the outer ones."""
    if quantiles is None:
        return
    if not (isinstance(quantiles, list) and quantiles
            and all(_finite(q) and 0 < q < 1 for q in quantiles)
            and quantiles == sorted(set(quantiles))):
        raise ModelFormatError(
            f"config.json: target.quantiles must be increasing numbers between 0 and 1, "
            f"not {quantiles!r}; the file was edited or damaged. Restore the original "
            "config.json, or retrain.")


def _check_calibration(calibration, quantile: bool) -> None:
    """The interval margin found at fitting. With the digest removed an
    edit went unseen: a point model's margin below 0 gave intervals of width
    0, nan gave nan bounds, a string a numpy error, and a level of 1 or more
    made intervals.fewest() loop forever. A quantile model's margin may lie
    below 0 (its raw interval was too wide); a point model's is an absolute
    error."""
    fields = calibration if isinstance(calibration, dict) else {}
    level, margin, n = (fields.get(k) for k in ("level", "margin", "n"))
    # a level of 0: a model of one quantile, whose intervals are refused
    if not (_finite(level) and 0 <= level < 1 and _finite(margin)
            and (quantile or margin >= 0)
            and isinstance(n, int) and not isinstance(n, bool) and n >= 0):
        shown = {k: fields.get(k) for k in ("level", "margin", "n")} if fields else calibration
        floor = "a finite margin" if quantile else "a finite margin of 0 or more"
        raise ModelFormatError(
            f"config.json: target.calibration ({shown!r}) needs a level from 0 to below 1, "
            f"{floor} and a count n of 0 or more; the file was edited or damaged. "
            "Restore the original config.json, or retrain.")


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


# -- the weights file ------------------------------------------------------------

def file_digest(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def config_digest(config: dict) -> str:
    """The sha256 of the settings as config.json holds them (keys sorted,
    read back as JSON reads them), the digest itself left out."""
    settings = {k: v for k, v in config.items() if k != CONFIG_DIGEST_KEY}
    text = json.dumps(json.loads(json.dumps(settings)), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def check_config_digest(config: dict, name: str) -> None:
    """Raise ModelFormatError when config.json was changed after the model
    was saved; a model saved before this digest existed passes."""
    expected = config.get(CONFIG_DIGEST_KEY)
    if expected is not None and config_digest(config) != expected:
        raise ModelFormatError(
            f"The config.json of {name} was edited or damaged: its settings no "
            "longer match the sha256 recorded when the model was saved. Use an intact "
            "copy of the model (re-export or re-download it), or retrain it.")


def config_digest_notice(config: dict, name: str, notice=None) -> None:
    """A model saved before config.json carried its own digest loads, with
    a notice: an edit of it (or the digest's removal) cannot be detected."""
    if config.get(CONFIG_DIGEST_KEY) is None:
        (notice or _stderr)(
            f"Notice: {name} has no digest of its config.json (saved by an older "
            "q2-aam, or the digest was removed), so an edit of its settings cannot be "
            "detected. Save it again with this version to add one.")


def check_digest(config: dict, weights: Path, name: str, notice=None) -> None:
    """Raise ValueError when model.pt is not the file the config was saved
    with; a model saved before digests were recorded passes, with a notice."""
    expected = config.get(DIGEST_KEY)
    if expected is None:
        check_zip(weights, name)
        (notice or _stderr)(
            f"Notice: {name} was saved without a digest of its weights (by an older "
            "q2-aam), so only their CRC-32s were checked. Save it again with this "
            "version to add a digest.")
        return
    found = file_digest(weights)
    if found != expected:
        raise ModelFormatError(
            f"The weights of {name} (model.pt) are damaged or were replaced: their "
            f"sha256 is {found[:12]}..., config.json records {expected[:12]}... "
            "Use an intact copy of the model (re-export or re-download it), or "
            "retrain it.")


def check_zip(weights: Path, name: str) -> None:
    """The CRC-32 of every record of torch's zip container: what can still be
    verified of a model saved without a digest."""
    import zipfile
    with open(weights, "rb") as handle:
        if handle.read(2) != b"PK":  # torch's legacy pickle format has no CRCs
            return
    try:
        with zipfile.ZipFile(weights) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise ModelFormatError(f"The weights of {name} (model.pt) are damaged or "
                               f"truncated: {error}. Use an intact copy of the "
                               "model.") from error
    if bad is not None:
        raise ModelFormatError(f"The weights of {name} (model.pt) are damaged: the "
                               f"record {bad} fails its CRC-32 check. Use an intact copy "
                               "of the model.")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check_shapes(config: dict, state_dict: dict, name: str) -> None:
    """Raise ValueError unless the weights are those of the network that
    `config` describes: same names (newer optional ones aside), same shapes."""
    from .model.build import _optional_weight, network_for

    # built on the CPU, not the meta device: meta's weight initialisation
    # imports torch._dynamo (2-6 s of every action's start-up), while the
    # CPU build of even the base preset's 5 members takes ~0.3 s
    try:
        expected = {k: tuple(v.shape) for k, v in network_for(config).state_dict().items()}
    except (TypeError, ValueError, KeyError, AssertionError, RuntimeError) as error:
        raise ModelFormatError(f"config.json of {name} describes no network this "
                               f"aam_core can build: {error}") from error
    found = {k: tuple(getattr(v, "shape", ())) for k, v in state_dict.items()}
    missing = [k for k in expected if k not in found and not _optional_weight(k)]
    unexpected = [k for k in found if k not in expected]
    wrong = [f"{k} {found[k]} (config: {expected[k]})" for k in expected
             if k in found and found[k] != expected[k]]
    if missing or unexpected or wrong:
        details = "; ".join(part for part in (
            f"missing {', '.join(missing[:3])}" if missing else "",
            f"unexpected {', '.join(unexpected[:3])}" if unexpected else "",
            f"shapes {', '.join(wrong[:3])}" if wrong else "") if part)
        raise ModelFormatError(f"The weights of {name} (model.pt) do not fit the "
                               f"architecture in its config.json ({details}). The "
                               "config was edited or belongs to another model; "
                               "restore the original.")


# -- naming the model as the user knows it ------------------------------------------

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def model_name(directory: str | Path) -> str:
    """'the model <directory>', or, inside an extracted QIIME 2 artifact
    (a temporary <uuid>/data folder), 'the model artifact <uuid>'."""
    parts = Path(directory).parts
    for part in reversed(parts):
        if _UUID.fullmatch(part):
            return f"the model artifact {part}"
    return f"the model {directory}"
