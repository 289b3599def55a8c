"""Faults of the machine under a running `aam` command, in a real process:
a full disk (a file-size limit: writes fail as on a full disk) and Ctrl-C."""
import os
import resource
import signal
import subprocess

import pytest

from .conftest import BIN, no_partial_files, refused

# max_length 150: the disk sizes below are measured for its position embedding
TINY = ["--preset", "tiny", "--batch-size", "8", "--n-threads", "1", "--max-length", "150"]


def pretrain(workspace, run, epochs):
    return [str(BIN / "aam"), "pretrain", "--table", str(workspace / "table.biom"),
            "--distances", str(workspace / "distances.tsv"), "--output-dir", str(run),
            "--epochs", str(epochs), *TINY]


def file_size_limit(limit: int):
    def apply():  # in the child: each write beyond `limit` bytes fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.fixture
def small_disk(tmp_path):
    """mount(size) -> a folder on a tmpfs of that size (needs root)."""
    mounted = []

    def mount(size: str):
        folder = tmp_path / f"disk-{size}"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                               str(folder)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)
        return folder
    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=True)


# a tiny run writes a 0.6 MB checkpoint (twice over while it replaces one)
# and a 0.14 MB model
DISKS = {  # name: (epochs, file-size limit or tmpfs size, where it fails)
    "file-size-limit-64k": (1, 64 * 1024, "the first checkpoint"),
    "tmpfs-700k": (1, "700k", "the model, after the checkpoint"),
    "tmpfs-1m": (3, "1m", "the second checkpoint"),
}


@pytest.mark.parametrize("disk", sorted(DISKS))
def test_a_full_disk_is_one_line_and_leaves_no_partial_file(disk, workspace, tmp_path,
                                                            small_disk):
    epochs, size, _ = DISKS[disk]
    options = {"env": {**os.environ, "OMP_NUM_THREADS": "1"}, "timeout": 300}
    if isinstance(size, int):
        run = tmp_path / "run"
        options["preexec_fn"] = file_size_limit(size)
    else:
        run = small_disk(size) / "run"
    done = subprocess.run(pretrain(workspace, run, epochs), capture_output=True,
                          text=True, **options)
    refused(done.stderr, done.returncode, "Is the disk full?")
    no_partial_files(run)
    assert not (run / "model").exists()  # never half a model


def test_ctrl_c_says_how_to_resume(workspace, tmp_path):
    run = tmp_path / "run"
    # a shell's background job inherits SIGINT ignored: restore the default,
    # as in a terminal, so that Python turns it into KeyboardInterrupt
    process = subprocess.Popen(pretrain(workspace, run, 500), stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                               preexec_fn=lambda: signal.signal(signal.SIGINT,
                                                                signal.SIG_DFL))
    for line in process.stderr:  # wait for training to be under way
        if line.startswith("epoch 2/"):
            break
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read()
    assert process.wait(timeout=120) == 130, rest
    assert "Traceback" not in rest, rest
    assert "--resume" in rest, rest
    no_partial_files(run)
