"""Probe 7 (2026-12-01), the `aam` command: --checkpoint-every below 0, an
empty --output-dir, --unifrac-weight without distances, nan counts, a
target too large for 32-bit numbers, damaged checkpoints on --resume, a
resume into another table's run, a hand-edited config.json, a log that
claimed intervals it then refused. Each row failed before its fix (exit 0,
a wrong cause, internal names or a traceback)."""
import json
import shutil

import pandas as pd
import pytest

from tests.conftest import REPO, write_example_table

from tests.core.test_aam_command_probe_5 import RUN, aam
from tests.core.test_aam_command_probe_6 import refused

EXAMPLE = REPO / "examples" / "oral-age-mini"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """24 example samples (real BIOM), their metadata, a run stopped after its
    last checkpoint (its model removed), and a finished run's model."""
    folder = tmp_path_factory.mktemp("probe-7-aam")
    ids = write_example_table(folder, 24)
    metadata = pd.read_csv(EXAMPLE / "metadata.tsv", sep="\t", index_col=0, dtype=str)
    metadata.loc[ids, ["age", "group"]].to_csv(folder / "md.tsv", sep="\t")
    return folder


@pytest.fixture(scope="module")
def stopped(files):
    """A fit-regressor run as if killed after its last checkpoint."""
    from aam_core import cli
    run = files / "stopped"
    assert cli.main([str(a) for a in _fit_arguments(files, run)]) == 0
    shutil.copytree(run / "model", files / "model")
    shutil.rmtree(run / "model")
    return run


def _fit_arguments(files, run, table="table.biom", metadata="md.tsv"):
    return ["fit-regressor", "--table", files / table, "--metadata", files / metadata,
            "--target", "age", "--output-dir", run, *RUN]


def fit(capsys, files, run, *more, **names):
    return aam(capsys, *_fit_arguments(files, run, **names), *more)


def _copy(run, tmp_path):
    return shutil.copytree(run, tmp_path / "run")


@pytest.mark.parametrize("flags, fragment", [
    (["--checkpoint-every", -1], "argument --checkpoint-every: must be at least 0, not -1"),
    (["--output-dir", ""], "--output-dir is empty; give a path."),
])
def test_run_options_out_of_range(capsys, files, tmp_path, flags, fragment):
    code, output = fit(capsys, files, tmp_path / "run", *flags)
    refused(output, code, fragment)
    assert not (tmp_path / "run").exists()


def test_pretrain_refuses_a_unifrac_weight_without_distances(capsys, files, tmp_path):
    code, output = aam(capsys, "pretrain", "--table", files / "table.biom", "--output-dir",
                       tmp_path / "run", "--unifrac-weight", 5, "--preset", "tiny",
                       "--epochs", 1, "--n-threads", 1)
    refused(output, code, "--unifrac-weight 5.0 weighs the distance objective, but no "
                          "distance matrix was given")


def test_a_nan_count_is_named_not_dropped_as_empty(capsys, files, tmp_path):
    import biom
    import h5py
    table = biom.load_table(str(files / "table.biom"))
    data = table.matrix_data.tocsr().astype(float)
    data.data[0] = float("nan")  # the first ASV's first sample that has it
    sample = table.ids()[data.indices[0]]
    broken = biom.Table(data, table.ids("observation"), table.ids())
    with h5py.File(tmp_path / "nan.biom", "w") as handle:
        broken.to_hdf5(handle, "probe 7")
    code, output = aam(capsys, "pretrain", "--table", tmp_path / "nan.biom", "--output-dir",
                       tmp_path / "run", "--preset", "tiny", "--epochs", 1)
    refused(output, code, "The table holds 1 count(s) that are not numbers (nan or inf), "
                          f"e.g. nan in sample '{sample}'")


def test_a_target_beyond_32_bit_numbers_is_refused_before_training(capsys, files,
                                                                   tmp_path):
    metadata = pd.read_csv(files / "md.tsv", sep="\t", index_col=0)
    metadata.iloc[0, 0] = 1e308
    metadata.to_csv(tmp_path / "huge.tsv", sep="\t")
    code, output = aam(capsys, *_fit_arguments(files, tmp_path / "run"), "--metadata",
                       tmp_path / "huge.tsv")
    refused(output, code, "The target column 'age' holds values beyond +-1e+30")
    assert "epoch 1" not in output


def _flip(path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(b ^ 0x40 for b in data[middle:middle + 64])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage, fragment", [
    (lambda c: c.joinpath("last.pt").write_bytes(c.joinpath("last.pt").read_bytes()[:999]),
     "last.pt is damaged (its sha256 differs from the one in last.json)"),
    (lambda c: _flip(c / "last.pt"),
     "last.pt is damaged (its sha256 differs from the one in last.json)"),
    (lambda c: (c / "last.json").write_text('{"epoch": 1,'),
     "last.json is damaged (not readable JSON"),
])
def test_a_damaged_checkpoint_is_refused_by_name(capsys, files, stopped, tmp_path, damage,
                                                fragment):
    run = _copy(stopped, tmp_path)
    damage(run / "checkpoints")
    code, output = fit(capsys, files, run, "--resume")
    refused(output, code, fragment)
    assert "Delete the folder" in output and not (run / "model").exists()


def test_an_intact_checkpoint_resumes_to_the_same_model(capsys, files, stopped, tmp_path):
    run = _copy(stopped, tmp_path)
    code, output = fit(capsys, files, run, "--resume")
    assert code == 0, output
    assert (run / "model" / "model.pt").read_bytes() == \
        (files / "model" / "model.pt").read_bytes()


def test_a_save_killed_between_its_renames_is_finished(files, stopped, tmp_path):
    """last.pt already new, last.json still old: the new one waits as
    last.json.partial and describes last.pt; the next start completes it."""
    from aam_core.train.checkpoint import Checkpoints
    run = _copy(stopped, tmp_path) / "checkpoints"
    info = json.loads((run / "last.json").read_text())
    (run / "last.json.partial").write_text(json.dumps({**info, "epoch": 7}))
    (run / "last.json").write_text(json.dumps({**info, "sha256": "0" * 64}))
    assert Checkpoints(run).info()["epoch"] == 7
    assert not (run / "last.json.partial").exists()
    (run / "last.json.partial").write_text(json.dumps({**info, "sha256": "1" * 64}))
    assert Checkpoints(run).info()["epoch"] == 7  # a partial of another last.pt: dropped
    assert not (run / "last.json.partial").exists()


def test_a_resume_into_another_tables_run_names_the_file_only(capsys, files, stopped,
                                                              tmp_path):
    run = _copy(stopped, tmp_path)
    write_example_table(tmp_path, 20)
    code, output = aam(capsys, *_fit_arguments(tmp_path, run, metadata=files / "md.tsv"),
                       "--resume")
    refused(output, code, "belongs to a run with other settings or data (the --table file "
                          "changed).")
    assert "train_rows" not in output


def test_a_hand_edited_config_is_refused(capsys, files, stopped, tmp_path):
    model = shutil.copytree(files / "model", tmp_path / "model")
    config = json.loads((model / "config.json").read_text())
    config["data"]["max_asvs"] = 1
    (model / "config.json").write_text(json.dumps(config))
    code, output = aam(capsys, "predict", "--table", files / "table.biom", "--model", model,
                       "--output", tmp_path / "p.tsv", "--n-threads", 1)
    refused(output, code, "was edited or damaged: its settings no longer match the sha256")


def test_the_log_claims_no_intervals_it_then_refuses(capsys, files):
    """24 samples, one member, 10% validation: 3 out-of-fold predictions."""
    code, output = aam(capsys, *_fit_arguments(files, files / "intervals"))
    assert code == 0, output
    assert "No intervals: one at 80% needs at least 4 out-of-fold predictions" in output
    assert "Intervals calibrated" not in output
