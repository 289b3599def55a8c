"""Options named as the user typed them, in messages.

The same check runs behind three front ends: the Python API
(`max_length=300`), q2cli (`--p-max-length 300`) and the `aam` command
(`--max-length 300`). Each front end says which one it is (`speaking`), and
messages name options with `spelled`, so a user is never told to set a flag
that does not exist where they are.
"""
from __future__ import annotations

import contextlib
import contextvars
import os

INTERFACES = ("python", "q2cli", "aam")
# worker processes of a multi-process run inherit it through the environment
_ENVIRONMENT = "AAM_INTERFACE"
_INTERFACE = contextvars.ContextVar("interface", default="")
_NO_VALUE = object()


def interface() -> str:
    found = _INTERFACE.get() or os.environ.get(_ENVIRONMENT, "python")
    return found if found in INTERFACES else "python"


@contextlib.contextmanager
def speaking(name: str):
    """Messages raised inside name options as the front end `name` does."""
    token = _INTERFACE.set(name)
    try:
        yield
    finally:
        _INTERFACE.reset(token)


def spelled(name: str, value=_NO_VALUE) -> str:
    """The option `name` (its Python and QIIME 2 name), with `value` when
    given, as the current front end writes it."""
    where = interface()
    if where == "python":
        return name if value is _NO_VALUE else f"{name}={value!r}"
    dashed = name.replace("_", "-")
    flag = f"--p-{dashed}" if where == "q2cli" else f"--{dashed}"
    if value is _NO_VALUE or value is True:
        return flag
    if value is False:
        return flag.replace("--", "--no-", 1) if where == "aam" else \
            flag.replace("--p-", "--p-no-", 1)
    return f"{flag} {value}"


def spelled_input(name: str) -> str:
    """The input `name` (a table, a taxonomy...) as the current front end
    writes it: `taxonomy`, `--i-taxonomy` or `--taxonomy`."""
    where = interface()
    if where == "python":
        return name
    dashed = name.replace("_", "-")
    return f"--i-{dashed}" if where == "q2cli" else f"--{dashed}"


def spelled_pretrained() -> str:
    """The fitting actions' pretrained-model input: `pretrained_model` in the
    Artifact API (`pretrained` in aam_core.api), `--i-pretrained-model` in
    q2cli, `--pretrained` in the `aam` command."""
    return {"python": "pretrained_model (aam_core.api: pretrained)",
            "q2cli": "--i-pretrained-model", "aam": "--pretrained"}[interface()]


def spelled_column(name: str, column=_NO_VALUE) -> str:
    """A metadata-column input (normalise_by), with its column when given,
    as the current front end writes it: `normalise_by` (column 'study'),
    `--m-normalise-by-column study` or `--normalise-by study`."""
    where = interface()
    if where == "python":
        return name if column is _NO_VALUE else f"{name} (column {column!r})"
    dashed = name.replace("_", "-")
    flag = f"--m-{dashed}-column" if where == "q2cli" else f"--{dashed}"
    return flag if column is _NO_VALUE else f"{flag} {column}"


def spelled_metadata(name: str) -> str:
    """The metadata input `name` as the current front end writes it:
    `conditioning`, `--m-conditioning-file` or `--conditioning`."""
    where = interface()
    if where == "python":
        return name
    dashed = name.replace("_", "-")
    return f"--m-{dashed}-file" if where == "q2cli" else f"--{dashed}"


def environment() -> dict:
    """What a worker process needs to speak as this one does."""
    return {_ENVIRONMENT: interface()}
