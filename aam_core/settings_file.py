"""Option values in a file: what `aam tune` writes and `--settings` reads.

The file is one JSON (or YAML) mapping of option name -> value, in the
vocabulary of the command that reads it (`aam fit-regressor --help`, with
underscores or dashes), e.g.

    {"learning_rate": 0.0007, "hidden_layers": 2, "epochs": 30}

plus, optionally, "about": anything (`aam tune` records its study there),
which is read by people, not by the commands, but for the command `aam
tune` wrote it for ("command": "fit-regressor"), which must be the reader.
Every value is checked against its option's declaration (settings.py) as a
flag would be: an unknown name or a value of the wrong kind or out of range
is an error naming the file.
No torch here.
"""
from __future__ import annotations

import difflib
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from . import checks
from .errors import AAMInputError
from .option import KIND_WORDS, is_number, of_kind
from .settings import for_command

ABOUT = "about"
_YAML = (".yaml", ".yml")


def read(path, command: str) -> dict:
    """{option name: value} of the file, checked for `command`."""
    path = Path(path)
    if path.is_dir():
        raise AAMInputError(f"--settings {path} is a directory; give a JSON or YAML file "
                            "of settings (aam tune writes one: best_settings.json).")
    if not path.is_file():
        raise AAMInputError(f"--settings {path} does not exist (or is not a file).")
    values = _parse(path)
    if values is None:
        raise AAMInputError(f"--settings {path} is empty; write option values by name in "
                            'it, e.g. {"epochs": 30}, or leave out --settings.')
    if not isinstance(values, dict):
        what = {list: "a list", str: "a string", int: "a number", float: "a number",
                bool: "true or false"}.get(type(values), type(values).__name__)
        raise AAMInputError(f"--settings {path} must hold a mapping of option names to "
                            f'values, e.g. {{"epochs": 30}}, not {what}.')
    _for_command(values.get(ABOUT), command, path)
    values = {k: v for k, v in values.items() if k != ABOUT}
    return check(values, command, f"--settings {path}")


def _for_command(about, command: str, path: Path) -> None:
    """A file `aam tune` wrote for one command, given to another: a
    classifier's best settings are options of a regressor too, and would
    be taken without a word."""
    written_for = about.get("command") if isinstance(about, dict) else None
    if written_for and written_for != command:
        raise AAMInputError(f"--settings {path} holds the settings aam tune found for "
                            f"aam {written_for}, not aam {command}: give it to aam "
                            f"{written_for}, or tune for {command} (aam tune --kind "
                            f"{command.removeprefix('fit-')}).")


def _parse(path: Path):
    if path.suffix in _YAML:
        yaml = _yaml()
        load, errors, format = _yaml_loader(yaml, path), (yaml.YAMLError,), "YAML"
    else:
        def load(text):
            return json.loads(text, object_pairs_hook=lambda pairs: _unique(pairs, path))
        errors, format = (ValueError,), "JSON"
    from .data.io import packed
    try:  # a gzip of it failed in Python's codec words
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise AAMInputError(f"--settings {path} {packed(path) or 'is not UTF-8 text'}; "
                            f"give the {format} file of option values.") from error
    if not text.strip():
        return None  # an empty file: said as such by read()
    try:
        return load(text)
    except AAMInputError:
        raise  # a repeated key (an AAMInputError is a ValueError)
    except errors as error:
        raise AAMInputError(f"--settings {path} is not valid {format}: "
                            f"{' '.join(str(error).split())}") from error


def _unique(pairs, path: Path) -> dict:
    """A mapping whose keys are all different: JSON and YAML readers keep a
    repeated key's last value silently, hiding the other."""
    mapping = {}
    for key, value in pairs:
        if key in mapping:
            raise AAMInputError(f"--settings {path} sets {key!r} twice; keep one of them.")
        mapping[key] = value
    return mapping


def _yaml_loader(yaml, path: Path):
    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            # the keys as written; a merge key ('<<') may override on purpose
            _unique([(k.value, None) for k, _ in node.value if isinstance(
                k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge"], path)
            return super().construct_mapping(node, deep=deep)
    return lambda text: yaml.load(text, Loader=Loader)


def write(path, values: dict, command: str, about: dict | None = None) -> None:
    """Write checked option values (JSON, or YAML for a .yaml/.yml name), atomically."""
    values = check(values, command, str(path))
    content = {**values, **({ABOUT: about} if about else {})}
    if Path(path).suffix in _YAML:
        text = _yaml().safe_dump(content, sort_keys=False)
    else:
        text = json.dumps(content, indent=2) + "\n"
    checks.write_atomically(path, lambda partial: Path(partial).write_text(text))


def check(values: dict, command: str, source: str) -> dict:
    """The values by option name, each of the kind and in the range its
    option declares for `command`."""
    options = {o.name: o for o in for_command(command) if o.name != "settings"}
    older = {o.old_name: o.name for o in options.values() if o.old_name}
    checked, keys = {}, {}
    for key, value in values.items():
        name = str(key).replace("-", "_")
        if name in older:  # as the flags, the older spellings still work, said so
            print(f"aam {command}: warning: {source}: {key!r} is now "
                  f"{older[name]!r}; the old name still works for now.", file=sys.stderr)
        name = older.get(name, name)
        if name in keys:
            raise AAMInputError(f"{source}: {keys[name]!r} and {key!r} both set {name}; "
                                "keep one of them.")
        keys[name] = key
        if name not in options:
            raise AAMInputError(f"{source}: {key!r} is not an option of aam {command}."
                                f"{_hint(name, options)} See aam {command} --help.")
        checked[name] = _value(options[name], value, source)
    return checked


# what a settings file cannot hold, and where it goes instead
_ELSEWHERE = {
    "n_devices": "the aam command runs several processes under torchrun "
                 "--nproc_per_node N (n_devices is the QIIME 2 actions')",
    "resume": "--resume is a flag of the command line, not a setting",
    "output_dir": "--output-dir is a flag of the command line, not a setting",
}
# the command's inputs: flags of the command line too, never settings
_ELSEWHERE.update({name: f"--{name.replace('_', '-')} is an input, a flag of the command "
                   "line, not a setting" for name in (
                       "table", "metadata", "target", "groups", "distances", "sequences",
                       "pretrained", "taxonomy", "conditioning")})


def _hint(name: str, options) -> str:
    if name in _ELSEWHERE:
        return f" {_ELSEWHERE[name][0].upper()}{_ELSEWHERE[name][1:]}."
    close = difflib.get_close_matches(name, options, n=3)
    return f" Did you mean {', '.join(close)}?" if close else ""


def _value(option, value, source: str):
    """The value as the command's flag would give it, or a clear error."""
    kind = "str" if option.kind.endswith("column") else option.kind
    if isinstance(value, np.generic):  # a numpy number in a dict of settings
        value = value.item()
    if kind == "metadata" and isinstance(value, str):
        value = [value]
    if kind == "float" and is_number(value, int):
        value = float(value)
    if not of_kind(kind, value, listed=list):
        shown = "null" if value is None else repr(value)  # the file's word for None
        open_end = (" (leave it out for no bound)" if value is None and
                    option.name in ("lower_bound", "upper_bound") else "")
        raise AAMInputError(f"{source}: {option.name} must be {KIND_WORDS[kind]}, not "
                            f"{shown}{open_end}.{_number_as_text(kind, value)}")
    problem = option.problem(value)
    if problem:
        raise AAMInputError(f"{source}: {option.name} {problem}.")
    return value


def _number_as_text(kind: str, value) -> str:
    """A hint for a number given as text. PyYAML follows YAML 1.1, where
    an exponent needs a dot and a sign: it reads 1e-3 as the text '1e-3'."""
    if kind not in ("int", "float") or not isinstance(value, str):
        return ""
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return ""
    if not number.is_finite() or (kind == "int" and number != number.to_integral_value()):
        return ""
    mantissa, _, exponent = value.strip().lower().partition("e")
    if not exponent or ("." in mantissa and exponent[0] in "+-"):  # quoted, then
        return f" Write it without quotes: {value.strip()}."
    spellings = [] if kind == "int" else [
        f"{mantissa if '.' in mantissa else mantissa + '.0'}e{int(exponent):+d}"]
    if abs(number.adjusted()) < 12:  # a plain decimal of reasonable length
        spellings.append(format(number.normalize(), "f"))
    return (f" YAML reads {value.strip()} as text; write " + " or ".join(spellings) + "."
            if spellings else "")


def _yaml():
    try:
        import yaml
    except ImportError as error:
        raise AAMInputError("A YAML settings file needs PyYAML (pip install pyyaml); "
                            "or write it as JSON.") from error
    return yaml
