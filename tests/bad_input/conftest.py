"""The bad-input suite: every row makes its input in code, sends it through
one interface (the Artifact API, q2cli, or the `aam` command) and expects a
clear refusal: an error whose message holds the expected fragment, never a
traceback, never exit 0."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import biom
import h5py
import numpy as np
import pandas as pd
import pytest
import qiime2
import skbio

from q2_aam import _examples
from tests import qiime_cli
from tests.conftest import overridden  # noqa: F401 (the tests import it from here)

BIN = Path(sys.executable).parent


# -- the three interfaces ------------------------------------------------------

def _flat(text: str) -> str:
    return " ".join(text.split())


def refused(output: str, code: int, fragment: str) -> None:
    """A command-line refusal: exit status not 0, no traceback, the fragment."""
    assert code != 0, f"exit 0 on bad input:\n{output}"
    assert "Traceback" not in output, output
    assert _flat(fragment) in _flat(output), output


def aam(capsys, *arguments) -> str:
    """The `aam` command in this process (its main(), as the script runs it);
    an exception escaping main() is a traceback, so the row fails."""
    from aam_core import cli
    try:
        code = cli.main([str(a) for a in arguments])
    except SystemExit as exit:  # argparse refuses a flag: usage, then exit 2
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.err + captured.out


def aam_process(*arguments, **options):
    return subprocess.run([str(BIN / "aam"), *map(str, arguments)], capture_output=True,
                          text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, **options)


def qiime(*arguments, process: bool = False):
    """q2cli (tests/qiime_cli.py: in this process unless `process`)."""
    done = qiime_cli.qiime(*arguments, process=process)
    return done.returncode, done.stdout + done.stderr


def artifact_api(call, fragment: str) -> None:
    """A Python refusal: a ValueError (ValidationError, AAMInputError...) or
    an OSError, never e.g. a KeyError or a RuntimeError, with the fragment."""
    with pytest.raises(Exception) as info:
        call()
    error = info.value
    from qiime2.plugin import ValidationError
    assert isinstance(error, (ValueError, OSError, ValidationError)), repr(error)
    assert _flat(fragment) in _flat(str(error)), str(error)


# -- inputs made in code ---------------------------------------------------------

# the usage examples' 16 samples, and an age for each (20, 23, ... 65)
EXAMPLE_IDS = [str(i) for i in _examples.table_factory().view(pd.DataFrame).index]
EXAMPLE_AGES = pd.Series([float(20 + 3 * n) for n in range(16)], index=EXAMPLE_IDS,
                         name="age")


def example_table() -> biom.Table:
    return _examples.table_factory().view(biom.Table)


def ages_file(folder: Path, **columns) -> str:
    """A metadata TSV of the example samples: 'age', then `columns`."""
    path = folder / "metadata.tsv"
    pd.DataFrame({"age": EXAMPLE_AGES, **columns}).rename_axis("sample-id").to_csv(
        path, sep="\t")
    return str(path)


def summarize_classes(predicted: list, truth: list, column: str):
    """summarize-predictions of these class labels (one per example sample)
    against a truth column of these values (numbers are read as numbers)."""
    ids = pd.Index([str(i) for i in _examples.sample_metadata_factory().ids])
    predictions = qiime2.Artifact.import_data(
        "SampleData[ClassifierPredictions]",
        pd.Series(predicted, index=ids.rename("id"), name="prediction"))
    metadata = qiime2.Metadata(pd.DataFrame({column: truth},
                                            index=ids.rename("sample-id")))
    from qiime2.plugins import aam
    return aam.visualizers.summarize_predictions(predictions=predictions,
                                                 truth=metadata.get_column(column))


@pytest.fixture(scope="session")
def workspace(tmp_path_factory):
    """The usage examples' table (16 samples, 10 ASVs whose ids are their DNA)
    as .qza and .biom, and their Bray-Curtis distances as .qza and .tsv."""
    folder = tmp_path_factory.mktemp("bad-input")
    table = _examples.table_factory()
    distances = _examples.distance_matrix_factory()
    table.save(str(folder / "table.qza"))
    distances.save(str(folder / "distances.qza"))
    with h5py.File(folder / "table.biom", "w") as handle:
        table.view(biom.Table).to_hdf5(handle, "bad-input tests")
    matrix = distances.view(skbio.DistanceMatrix)
    write_matrix(folder / "distances.tsv", matrix.data, list(matrix.ids))
    return folder


@pytest.fixture(scope="session")
def encoder(workspace, tmp_path_factory):
    """A tiny encoder pretrained by the `aam` command on the example table."""
    from aam_core import cli
    folder = tmp_path_factory.mktemp("tiny-encoder")
    code = cli.main([str(a) for a in (
        "pretrain", "--table", workspace / "table.biom", "--distances",
        workspace / "distances.tsv", "--preset", "tiny", "--epochs", 1, "--batch-size", 8,
        "--n-threads", 1, "--output-dir", folder / "run")])
    assert code == 0
    return folder / "run" / "model"


@pytest.fixture(scope="session")
def encoder_qza(encoder, tmp_path_factory):
    """The same encoder as a QIIME 2 artifact."""
    path = tmp_path_factory.mktemp("tiny-encoder-qza") / "encoder.qza"
    qiime2.Artifact.import_data("AAMModel[AAMEncoder]", str(encoder)).save(str(path))
    return path


def summary_cells(model, folder: Path) -> list:
    """The table cells of `aam summarize`'s page of a model artifact."""
    import re
    from qiime2.plugins import aam as plugin
    visualization, = plugin.visualizers.summarize(model=model)
    visualization.save(str(folder / "summary.qzv"))
    with zipfile.ZipFile(folder / "summary.qzv") as archive:
        page, = [archive.read(n).decode() for n in archive.namelist()
                 if n.endswith("data/index.html")]
    return re.findall(r"<td[^>]*>\s*([^<]+?)\s*</td>", page)


def write_matrix(path: Path, data: np.ndarray, ids: list) -> Path:
    pd.DataFrame(data, index=ids, columns=ids).to_csv(path, sep="\t")
    return path


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """An untrained tiny regressor saved as `aam` saves one (config.json with
    the digest of model.pt): good, until a row damages a copy."""
    import torch

    from aam_core.bundle import ModelBundle
    from aam_core.model.build import network_for
    from tests.plugin.conftest import fake_config
    torch.manual_seed(0)
    config = fake_config("regressor")
    bundle = ModelBundle(config, network_for(config).state_dict(),
                         pd.DataFrame({"epoch": [1], "train_loss": [1.0]}))
    folder = tmp_path_factory.mktemp("model") / "model"
    bundle.save(folder)
    return folder


@pytest.fixture(scope="session")
def model_qza(model_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("model-qza") / "model.qza"
    qiime2.Artifact.import_data("AAMModel[AAMRegressor]", str(model_dir)).save(str(path))
    return path


# -- damage ----------------------------------------------------------------------

def flip_bytes(folder: Path) -> None:
    """64 bytes in the middle of model.pt inverted."""
    path = folder / "model.pt"
    data = bytearray(path.read_bytes())
    start = len(data) // 2
    data[start:start + 64] = bytes(b ^ 0xFF for b in data[start:start + 64])
    path.write_bytes(bytes(data))


def truncate(folder: Path) -> None:
    path = folder / "model.pt"
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def edit_config(change):
    def damage(folder: Path) -> None:
        path = folder / "config.json"
        config = json.loads(path.read_text())
        change(config)
        path.write_text(json.dumps(config))
    return damage


def drop(block, key):
    return edit_config(lambda c: (c[block] if block else c).pop(key))


def setting(block, key, value):
    return edit_config(lambda c: (c[block] if block else c).__setitem__(key, value))


def not_json(folder: Path) -> None:
    (folder / "config.json").write_text('{"format_version": 1,')


def damaged_copy(source: Path, damage, destination: Path) -> Path:
    shutil.copytree(source, destination)
    damage(destination)
    return destination


def damaged_qza(source: Path, damage, destination: Path) -> Path:
    """A .qza whose data is damaged AND whose checksums.md5 was updated to
    match, so that QIIME 2's own checksums pass and only the model's
    verification stands between the damage and a prediction. It gets a new
    UUID: QIIME 2 caches extracted artifacts by UUID (/tmp/qiime2), and would
    otherwise read the intact original from its cache."""
    unpacked = destination.with_suffix(".unpacked")
    with zipfile.ZipFile(source) as archive:
        archive.extractall(unpacked)
    old, = unpacked.iterdir()
    root = old.with_name(str(uuid.uuid4()))
    old.rename(root)
    damage(root / "data")
    for path in root.rglob("*.yaml"):
        path.write_text(path.read_text().replace(old.name, root.name))
    lines = []
    for line in (root / "checksums.md5").read_text().splitlines():
        name = line.split("  ", 1)[1]
        lines.append(f"{hashlib.md5((root / name).read_bytes()).hexdigest()}  {name}")
    (root / "checksums.md5").write_text("\n".join(lines) + "\n")
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            archive.write(path, path.relative_to(unpacked))
    return destination


def no_partial_files(folder: Path) -> None:
    leftovers = [str(p) for p in Path(folder).rglob("*.partial")]
    assert not leftovers, leftovers
