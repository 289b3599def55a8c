"""Checkpoints of a training run, and resuming one exactly.

A checkpoint (DIR/last.pt, with DIR/last.json saying where it stands) holds
all that the rest of a run depends on: model, optimizer, scheduler and
loss-scaler states, the position (epoch, batches done), the epoch's partial
loss sums, the history so far, the best weights and the early-stopping
count. The random state of each step is derived from (seed, epoch, batch,
process) alone (Distributed.step_random), so the position stands for every
generator state: a run killed anywhere and resumed from its last checkpoint
ends with the same weights as a run never interrupted.

Model and optimizer are saved as full (unsharded) state dicts keyed by
parameter name (torch.distributed.checkpoint.state_dict), so a checkpoint
of a DDP or FSDP run loads into a single process, and back.
"""
from __future__ import annotations

import json
import os
import zlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import NoReturn

import numpy as np
import torch

from ..checks import folder_place, writable_folder
from ..errors import AAMInputError
from ..settings import BY_NAME
from ..spelling import spelled
from ..verify import file_digest
from .distributed import Distributed

FORMAT = 1
CHECKPOINT_FILE = "last.pt"
INFO_FILE = "last.json"
# settings that may change between the interrupted and the resumed run
_FREE_SETTINGS = ("device", "n_threads", "compile")


@dataclass
class Checkpoints:
    """Where and how often a run saves itself, and whether it resumes."""
    directory: Path
    every_steps: int = 0   # also every N optimizer steps; 0: at epoch ends only
    resume: bool = False
    identity: dict = field(default_factory=dict)  # e.g. the input files' digests
    # the command's settings as asked for, recorded in last.json: a finished
    # run's checkpoint is not restored, so its signature cannot be compared
    settings: dict = field(default_factory=dict)

    def __post_init__(self):
        # a file in the folder's place, or a folder the run may not write
        # in, failed only at the first save, after an epoch's work
        folder_place(Path(self.directory), "checkpoints")
        writable_folder(Path(self.directory), "checkpoints")

    def for_member(self, index: int) -> "Checkpoints":
        """Member `index` of an ensemble saves apart from the others, so that a
        resume finds each member's own state: the first where a single model
        saves (its last.json says what the run is), the others beside it in
        member_2/, member_3/..."""
        if index == 0:
            return self
        return replace(self, directory=Path(self.directory) / f"member_{index + 1}")

    def due(self, optimizer_steps: int) -> bool:
        return self.every_steps > 0 and optimizer_steps % self.every_steps == 0

    def info(self) -> dict | None:
        """The position of the last checkpoint, or None when there is none."""
        _settle(Path(self.directory))
        path = Path(self.directory) / INFO_FILE
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as error:
            raise damaged(path, f"not readable JSON: {error}") from error


@dataclass
class Progress:
    """The state of a run beyond its tensors' owners."""
    epoch: int = 1             # the epoch in progress
    step: int = 0              # batches of it done
    optimizer_steps: int = 0
    sums: dict = field(default_factory=dict)  # this process's weighted loss sums
    count: float = 0.0
    records: list = field(default_factory=list)
    best_value: float | None = None
    best_epoch: int = 0
    best_state: dict | None = None
    stale: int = 0
    stopped: bool = False      # early-stopped, or all epochs done
    finished: bool = False

    def next_epoch(self) -> None:
        self.epoch, self.step, self.sums, self.count = self.epoch + 1, 0, {}, 0.0


def fingerprint(train, data, model: torch.nn.Module, identity: dict) -> dict:
    """What must be equal for a checkpoint to continue this run."""
    settings = {k: v for k, v in train.to_dict().items() if k not in _FREE_SETTINGS}
    return json.loads(json.dumps({
        "training": settings, **identity,
        "train_rows": zlib.crc32(np.asarray(data.train_rows, np.int64).tobytes()),
        "val_rows": zlib.crc32(np.asarray(data.val_rows, np.int64).tobytes()),
        "parameters": sorted([name, list(p.shape)] for name, p in model.state_dict().items()),
    }, default=str))


def save(checkpoints: Checkpoints, progress: Progress, wrapped, optimizer, scheduler,
         scaler, signature: dict, dist: Distributed) -> None:
    """Every process calls this (FSDP gathers its shards); rank 0 writes."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict
    model_state, optimizer_state = get_state_dict(
        wrapped, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    state = asdict(progress)
    state["sums"], state["count"] = dist.sum(progress.sums), dist.sum(progress.count)
    if not dist.is_main:
        return
    state["records"] = [{k: _plain(v) for k, v in r.items()} for r in progress.records]
    state["best_value"] = _plain(progress.best_value)
    if progress.best_state is not None:
        state["best_state"] = {k: v.cpu() for k, v in progress.best_state.items()}
    payload = {"format": FORMAT, "signature": signature, "world_size": dist.world_size,
               "model": model_state, "optimizer": optimizer_state,
               "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
               "progress": state}
    directory = Path(checkpoints.directory)
    directory.mkdir(parents=True, exist_ok=True)
    info = {"epoch": progress.epoch, "step": progress.step,
            "optimizer_steps": progress.optimizer_steps, "finished": progress.finished,
            "stopped": progress.stopped, "world_size": dist.world_size,
            # which command's run this is, so --resume of another is refused
            "command": checkpoints.identity.get("command"),
            "settings": checkpoints.settings,
            "settled": settled(checkpoints, signature.get("training", {}))}
    checkpoint = _write_aside(directory / CHECKPOINT_FILE,
                              lambda path: torch.save(payload, path))
    info["sha256"] = file_digest(checkpoint)  # checked when the run resumes
    record = _write_aside(directory / INFO_FILE,
                          lambda path: path.write_text(json.dumps(info) + "\n"))
    # a kill between these two renames is finished by _settle
    os.replace(checkpoint, directory / CHECKPOINT_FILE)
    os.replace(record, directory / INFO_FILE)


def settled(checkpoints: Checkpoints, used: dict) -> dict:
    """What each setting asked for as 'auto' came to (the number of epochs,
    the readout), so that --resume with that value is the same run. `used`:
    the run's training settings."""
    return {name: used[name] for name, value in checkpoints.settings.items()
            if value == "auto" and used.get(name) not in (None, "auto")}


def _write_aside(path: Path, write) -> Path:
    """Write PATH.partial (renamed into place by the caller): a kill while
    writing leaves the old file; a failed write (disk full) leaves no
    partial file and says so."""
    partial = _partial(path)
    try:
        write(partial)
    except (OSError, RuntimeError) as error:  # torch's writer raises RuntimeError
        partial.unlink(missing_ok=True)
        reason = getattr(error, "strerror", None) or error
        kept = " (the last complete checkpoint is kept)" if path.exists() else ""
        raise OSError(f"Could not write the checkpoint {path}: {reason}. Is the disk "
                      "full? Free some space, then continue the run with "
                      f"--resume{kept}.") from error
    return partial


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def _settle(directory: Path) -> None:
    """A save killed between its two renames left the new last.pt beside the
    old last.json and the new one's .partial: finish that save. A .partial
    that does not describe last.pt is from a save killed earlier: dropped."""
    partial = _partial(directory / INFO_FILE)
    try:
        digest = json.loads(partial.read_text()).get("sha256")
        if digest and digest == file_digest(directory / CHECKPOINT_FILE):
            os.replace(partial, directory / INFO_FILE)
        else:
            partial.unlink()
    except (OSError, ValueError):  # none, or settled by another process
        return


def damaged(path: Path, why: str) -> AAMInputError:
    return AAMInputError(
        f"The checkpoint {path} is damaged ({why}), so the run cannot continue from "
        f"it. Delete the folder {path.parent} to start the run again from its "
        "beginning.")


def _load(path: Path, info: dict | None) -> dict:
    """The checkpoint's payload, after checking it is the file last.json
    describes (checkpoints written before digests were recorded: unchecked)."""
    expected = (info or {}).get("sha256")
    if expected and file_digest(path) != expected:
        raise damaged(path, f"its sha256 differs from the one in {INFO_FILE}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch reports a cut file as several kinds
        raise damaged(path, f"{type(error).__name__}: {error}") from error


def restore(checkpoints: Checkpoints, wrapped, optimizer, scheduler, scaler,
            signature: dict, dist: Distributed, log) -> Progress | None:
    """The Progress of the last checkpoint, with every state loaded; None
    when there is no checkpoint (a new run starts)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict
    path = Path(checkpoints.directory) / CHECKPOINT_FILE
    payload = None
    if dist.is_main and path.is_file():
        payload = _load(path, checkpoints.info())
    payload = dist.broadcast(payload)  # nodes need not share a file system
    if payload is None:
        log(f"No checkpoint in {checkpoints.directory}; starting a new run.")
        return None
    _check_compatible(payload, signature, path)
    if payload["world_size"] != dist.world_size:
        log(f"Warning: the checkpoint was written by {payload['world_size']} process(es), "
            f"this run has {dist.world_size}; training continues correctly but not "
            "bit for bit as the interrupted run would have.")
    # not strict: parameters that never had a gradient (e.g. an unused head)
    # have no optimizer state, in the checkpoint as in the interrupted run;
    # the signature already checked every parameter's name and shape
    set_state_dict(wrapped, optimizer, model_state_dict=payload["model"],
                   optim_state_dict=payload["optimizer"],
                   options=StateDictOptions(full_state_dict=True, strict=False))
    scheduler.load_state_dict(payload["scheduler"])
    scaler.load_state_dict(payload["scaler"])
    progress = Progress(**payload["progress"])
    if not dist.is_main:  # rank 0 carries the reduced partial sums
        progress.sums = {k: 0.0 for k in progress.sums}
        progress.count = 0.0
    log(f"Resumed from {path}: epoch {progress.epoch}, {progress.step} batch(es) "
        f"of it done, {progress.optimizer_steps} optimizer step(s).")
    return progress


def _check_compatible(payload: dict, signature: dict, path: Path) -> None:
    if payload.get("format") != FORMAT:
        raise AAMInputError(f"{path} is a checkpoint of format {payload.get('format')}; "
                            f"this aam_core reads format {FORMAT}.")
    saved = payload["signature"]
    signature = _comparable(saved, signature)
    if saved != signature:
        keys = sorted(set(saved) | set(signature))
        changed = [k for k in keys if saved.get(k) != signature.get(k)]
        details = []
        for key in changed:
            if key == "training":
                details += changes(saved.get(key, {}), signature.get(key, {}))
            elif key == "inputs":
                details += _changed_files(saved.get(key) or {}, signature.get(key) or {})
            elif "inputs" not in changed or key not in _FROM_INPUTS:
                details.append(_DESCRIBED.get(key, f"the {key.replace('_', ' ')}"))
        refuse_other_run(path, details)


# what the other parts of a checkpoint's signature stand for, in a refusal
_DESCRIBED = {"table": "the table's samples or features", "train_rows": "the training "
              "samples", "val_rows": "the validation samples", "parameters": "the "
              "model's layers", "command": "the command"}
# the parts a changed input file changes too: its own line says it all
_FROM_INPUTS = ("table", "train_rows", "val_rows", "alpha_diversity", "taxonomy")


def _comparable(record: dict, current: dict) -> dict:
    """`current` as `record` can be compared with: records written before
    the input files were recorded have no 'inputs'."""
    return current if "inputs" in record else {
        k: v for k, v in current.items() if k != "inputs"}


def changes(old: dict, new: dict) -> list:
    """'name old -> new' of each setting that differs; of the input files'
    digests ('inputs'), 'the --name file changed'."""
    out = []
    for k in sorted(set(old) | set(new)):
        if old.get(k) == new.get(k):
            continue
        if k == "inputs":
            out += _changed_files(old.get(k) or {}, new.get(k) or {})
        else:  # an option as the caller's interface spells it ('--epochs')
            name = spelled(k) if k in BY_NAME else k
            out.append(f"{name} {old.get(k)!r} -> {new.get(k)!r}")
    return out


def _changed_files(old: dict, new: dict) -> list:
    """Digests by option name -> 'the --name file changed' of each that differs."""
    return [f"the --{k.replace('_', '-')} file changed"
            for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def record_finished(checkpoints: Checkpoints, used: dict) -> None:
    """last.json of a run that wrote its model without a checkpoint (the
    ridge and propagation readouts train no network): finished, with the
    command and settings (and what 'auto' came to: `used`, the model's
    training settings), so that --resume returns its model, or refuses
    other settings, as for any finished run."""
    directory = Path(checkpoints.directory)
    if (directory / INFO_FILE).exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    info = {"finished": True, "stopped": True,
            "command": checkpoints.identity.get("command"),
            "settings": checkpoints.settings, "settled": settled(checkpoints, used)}
    record = _write_aside(directory / INFO_FILE,
                          lambda path: path.write_text(json.dumps(info, default=str) + "\n"))
    os.replace(record, directory / INFO_FILE)


def refuse_other_run(path, details: list) -> NoReturn:
    """The one refusal of a --resume into a run of other settings or data."""
    raise AAMInputError(
        f"The checkpoint {path} belongs to a run with other settings or data "
        f"({'; '.join(details)}). Resume with the same settings and inputs, or "
        "start the new run in another output directory.")


def check_finished_settings(checkpoints: Checkpoints, info: dict) -> None:
    """--resume of a finished run returns its model as it is: refused, as an
    unfinished run's resume is, when the settings asked for differ from the
    run's (e.g. more --epochs), which the model would silently not have.
    An interrupted run's too, before the fit: a readout that loads no
    checkpoint (ridge, propagation) would otherwise write over it.
    Runs from before last.json recorded its settings are not checked.
    `info`: the run's last.json (Checkpoints.info)."""
    recorded = info.get("settings")
    asked = json.loads(json.dumps(checkpoints.settings, default=str))
    for name, value in (info.get("settled") or {}).items():
        if recorded and recorded.get(name) == "auto" and asked.get(name) == value:
            asked[name] = "auto"  # what 'auto' came to: the same run
    if recorded:
        asked = _comparable(recorded, asked)
    if recorded and recorded != asked:
        # a run without a checkpoint (record_finished) has only its last.json
        path = Path(checkpoints.directory) / CHECKPOINT_FILE
        refuse_other_run(path if path.exists() else path.with_name(INFO_FILE),
                         changes(recorded, asked))


def _plain(value):
    """numpy scalars -> Python numbers, so the file loads with weights_only."""
    return value.item() if isinstance(value, np.generic) else value
