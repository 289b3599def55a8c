"""The real `qiime` command (q2cli) for the tests, run in this process.

A new `qiime` process spends 4-8 s loading QIIME 2 and its plugins before it
reads its arguments; in this process they are loaded once, so a call costs
what the action costs. It is q2cli's own command object, called as the
`qiime` script calls it, with file descriptors 1 and 2 sent to files: the
same parsing, error handling and exit status, and what q2cli redirects
(action output, to its debug log) or child processes write is seen as from
a process. An exception that escapes it, which the real command would print
as a traceback, comes back as that traceback in stderr, so a test that
refuses tracebacks still sees it.

`process=True` runs the venv's `qiime` wrapper instead: the installed
executable itself.
"""
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

BIN = Path(sys.executable).parent
WRAPPER = BIN / "qiime"  # scripts/bootstrap.sh: q2cli on this interpreter


def qiime(*arguments, process: bool = False) -> subprocess.CompletedProcess:
    """`qiime arguments...`: returncode, stdout and stderr, as subprocess.run."""
    arguments = [str(a) for a in arguments]
    if process:
        command = [str(WRAPPER)] if WRAPPER.exists() else [sys.executable, "-m", "q2cli"]
        return subprocess.run(command + arguments, capture_output=True, text=True)
    root = _root_command()
    with _captured() as (out, err):
        try:
            root.main(args=arguments, prog_name="qiime")
            code = 0
        except SystemExit as exit:  # click ends every run with one
            code = exit.code if isinstance(exit.code, int) else 1
        except BaseException:  # noqa: B902 - a traceback, as the script would print
            traceback.print_exc()
            code = 1
    return subprocess.CompletedProcess(["qiime", *arguments], code, out.text, err.text)


class _Sink:
    text = ""


@contextlib.contextmanager
def _captured():
    """Descriptors 1 and 2 (and sys.stdout/sys.stderr on them) into two
    temporary files; their text when the block ends."""
    sinks, files = (_Sink(), _Sink()), [tempfile.TemporaryFile() for _ in range(2)]
    streams, saved = (sys.stdout, sys.stderr), [os.dup(fd) for fd in (1, 2)]
    for stream in streams:
        stream.flush()
    try:
        for fd, file in zip((1, 2), files):
            os.dup2(file.fileno(), fd)
        sys.stdout, sys.stderr = (io.TextIOWrapper(open(fd, "wb", closefd=False),
                                                   encoding="utf-8", write_through=True)
                                  for fd in (1, 2))
        yield sinks
    finally:
        sys.stdout.flush(), sys.stderr.flush()
        sys.stdout, sys.stderr = streams
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)
        for sink, file in zip(sinks, files):
            file.seek(0)
            sink.text = file.read().decode("utf-8", "replace")
            file.close()


def _root_command():
    # q2cli finds its cache under $CONDA_PREFIX when it is first imported;
    # the wrapper points that at the venv, and so does this process
    if WRAPPER.exists() and "q2cli.core.cache" not in sys.modules:
        os.environ["CONDA_PREFIX"] = str(BIN.parent)
    from q2cli.__main__ import qiime as root
    return root
