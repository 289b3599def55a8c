"""Faults of the machine under a running `aam` command, in a real process:
a full disk (a file-size limit: writes fail as on a full disk) and Ctrl-C."""
import os
import resource
import signal
import subprocess

import pytest

from .conftest import BIN, no_traceback_or_partial, refused

TINY = ["--preset", "tiny", "--batch-size", "8", "--n-threads", "1"]


def pretrain(workspace, run, epochs):
    return [str(BIN / "aam"), "pretrain", "--table", str(workspace / "table.biom"),
            "--distances", str(workspace / "distances.tsv"), "--output-dir", str(run),
            "--epochs", str(epochs), *TINY]


def file_size_limit(limit: int):
    def apply():  # in the child: each write beyond `limit` bytes fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.parametrize("limit", [64 * 1024, 1024 * 1024])
def test_a_full_disk_is_one_line_and_leaves_no_partial_file(limit, workspace, tmp_path):
    """64 KiB: the first checkpoint fails; 1 MiB: a later write (the model
    or a later checkpoint) fails. Either way: a clear error, no .partial."""
    run = tmp_path / "run"
    done = subprocess.run(pretrain(workspace, run, 3), capture_output=True, text=True,
                          preexec_fn=file_size_limit(limit),
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    if done.returncode == 0:  # everything fitted under the limit: not this test's case
        pytest.skip(f"the run wrote nothing larger than {limit} bytes")
    refused(done.stderr, done.returncode, "Is the disk full?")
    no_traceback_or_partial(run)


def test_ctrl_c_says_how_to_resume(workspace, tmp_path):
    run = tmp_path / "run"
    process = subprocess.Popen(pretrain(workspace, run, 500), stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    for line in process.stderr:  # wait for training to be under way
        if line.startswith("epoch 2/"):
            break
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read()
    assert process.wait(timeout=120) == 130, rest
    assert "Traceback" not in rest, rest
    assert "--resume" in rest, rest
    no_traceback_or_partial(run)
