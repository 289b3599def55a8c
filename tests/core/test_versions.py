"""The README's table of tested versions is what `make test` runs: in each
of the two test environments (.venv, Debian's QIIME 2; .venv-newest, the
newest stack from scripts/newest-stack.txt), the installed versions are those
of its row."""
import platform
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.conftest import REPO

COLUMNS = ["Python", "QIIME 2", "numpy", "pandas", "scipy", "scikit-bio",
           "biom-format", "h5py", "torch"]


def readme_rows() -> dict:
    rows = {}
    for line in (REPO / "README.md").read_text().splitlines():
        match = re.match(r"\| `(\.venv(?:-newest)?)`", line)
        if match:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[match.group(1)] = dict(zip(COLUMNS, cells[1:]))
    return rows


def installed(name: str) -> str:
    if name == "Python":
        return platform.python_version()
    if name == "QIIME 2":
        try:
            return metadata.version("qiime2")
        except metadata.PackageNotFoundError:
            return "none"
    if name == "h5py":  # Debian registers it under another distribution name
        import h5py
        return h5py.__version__
    return metadata.version(name)


def same(name: str, readme: str, have: str) -> bool:
    readme = readme.split()[0]  # "2022.11.1 (q2cli, ...)" -> "2022.11.1"
    if name == "torch":  # +cpu where /opt/wheels has the CPU build
        return readme.split("+")[0] == have.split("+")[0]
    return readme == have


def environment():
    prefix = Path(sys.prefix).resolve()
    for name in (".venv", ".venv-newest"):
        if prefix == (REPO / name).resolve():
            return name
    return None


def test_readme_has_both_rows():
    assert set(readme_rows()) == {".venv", ".venv-newest"}


def test_the_running_environment_matches_its_readme_row():
    name = environment()
    if name is None:
        pytest.skip(f"{sys.prefix} is neither of the two test environments of make test")
    row = readme_rows()[name]
    wrong = {column: (row[column], installed(column)) for column in COLUMNS
             if not same(column, row[column], installed(column))}
    assert not wrong, f"README row {name} (README, installed): {wrong}"


def test_newest_stack_file_matches_the_readme():
    pins = dict(line.split("==", 1) for line in
                (REPO / "scripts" / "newest-stack.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    pins = {re.sub(r"[-_.]+", "-", k).lower(): v for k, v in pins.items()}
    row = readme_rows()[".venv-newest"]
    for column in COLUMNS[2:]:
        assert same(column, row[column], pins[column]), column
