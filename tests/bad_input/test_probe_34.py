"""Probe 34 (2026-12-02): the Python prediction functions handed device= to
torch unchecked ('tpu': a RuntimeError listing twenty device types; None: a
TypeError; 'cuda:0' without CUDA: an AssertionError); the `aam` command kept
the last of a flag given twice without a word (--table a.biom --table
b.biom read b.biom; --freeze-encoder --no-freeze-encoder; --conditioning a
--conditioning b conditioned on b alone): now it says so; an empty path for an input flag
or for api.load was read as the current folder ("The model . has no
config.json", "--table . is a directory"); refusals of sequences with gaps,
letters that are not DNA or no letters, and of a .npy matrix whose
--distance-ids count differs, said what was wrong but not what to do;
distance_block(None) said "an array names no samples"."""
import biom
import numpy as np
import pytest

from aam_core import api
from aam_core.bundle import ModelBundle
from q2_aam import _examples

from .conftest import aam, artifact_api, refused

QUIET = lambda message: None  # noqa: E731


def _table() -> biom.Table:
    return _examples.table_factory().view(biom.Table)


def _sequences(change) -> dict:
    """The table's own DNA (its ids), the first one changed by `change`."""
    ids = list(_table().ids("observation"))
    return {i: (change(i) if n == 0 else i) for n, i in enumerate(ids)}


# -- 1. device= of the prediction functions --------------------------------------------

CHOICES = "device must be one of 'auto', 'cpu', 'cuda', not "


@pytest.mark.parametrize("function, device", [
    (api.predict, "tpu"), (api.predict, None), (api.predict, "cuda:0"),
    (api.predict, "CPU"), (api.predict, "mps"), (api.embed, "tpu"),
])
def test_a_device_torch_does_not_know_is_refused_by_name(model_dir, function, device):
    bundle = ModelBundle.load(model_dir)
    artifact_api(lambda: function(bundle, _table(), device=device, log=QUIET),
                 CHOICES + repr(device))


# -- 2. the `aam` command: a flag given twice is said ----------------------------------

FIT = ("fit-regressor", "--metadata", "m.tsv", "--target", "age")


@pytest.mark.parametrize("twice, warning", [
    (("--epochs", 1, "--epochs", 2), "--epochs is given 2 times (1, then 2): the last "
                                     "counts."),
    (("--table", "b.biom"), "--table is given 2 times ({table}, then b.biom)"),
    (("--freeze-encoder", "--no-freeze-encoder"),
     "--freeze-encoder and --no-freeze-encoder are both given: the last, "
     "--no-freeze-encoder, counts."),
    (("--conditioning", "a", "--conditioning", "b", "c"),
     "--conditioning is given 2 times (a, then b c): the last counts; --conditioning "
     "takes all its values after one flag: --conditioning A B."),
])
def test_a_flag_given_twice_with_another_value_is_said(
        capsys, workspace, tmp_path, monkeypatch, twice, warning):
    monkeypatch.chdir(tmp_path)  # m.tsv is missing: refused before any work
    table = workspace / "table.biom"
    code, output = aam(capsys, *FIT, "--table", table, "--output-dir", tmp_path / "run",
                       *twice)
    refused(output, code, "does not exist")  # m.tsv (or b.biom)
    assert f"aam fit-regressor: warning: {warning.format(table=table)}" in output
    assert not (tmp_path / "run").exists()


# -- 3. an empty path ----------------------------------------------------------------

@pytest.mark.parametrize("arguments, fragment", [
    (("predict", "--model", "", "--table", "{table}", "--output", "p.tsv"),
     "--model is empty; give a path."),
    (("predict", "--model", "{model}", "--table", " ", "--output", "p.tsv"),
     "--table is empty; give a path."),
    (("export-onnx", "", "--output", "m.onnx"), "MODEL_DIR is empty; give a path."),
    (("export-onnx", "--model", "", "--output", "m.onnx"), "--model is empty; give a path."),
    (FIT + ("--table", "{table}", "--output-dir", "{run}", "--sequences", ""),
     "--sequences is empty; give a path."),
])
def test_the_aam_command_refuses_an_empty_path(
        capsys, workspace, model_dir, tmp_path, monkeypatch, arguments, fragment):
    monkeypatch.chdir(tmp_path)
    paths = {"model": model_dir, "table": workspace / "table.biom", "run": tmp_path / "run"}
    code, output = aam(capsys, *(str(a).format(**paths) for a in arguments))
    refused(output, code, fragment)
    assert not (tmp_path / "run").exists()  # the folder made for the run is removed


def test_api_load_refuses_an_empty_path():
    artifact_api(lambda: api.load(""), "load was given an empty path: give the path of "
                                       "a model directory.")


# -- 4. refusals that now say what to do ------------------------------------------------

@pytest.mark.parametrize("change, fragment", [
    (lambda s: s[:5] + "-" + s[5:], "Gaps ('-', '.') mean aligned sequences: give the "
                                    "unaligned representative sequences"),
    (lambda s: "MKLVQEEPRS", "Correct those records, or give the representative "
                             "sequences that belong to this table."),
    (lambda s: "", "Give each feature its sequence, or filter those features out of "
                   "the table."),
])
def test_a_sequence_that_is_no_dna_is_refused_with_what_to_do(model_dir, change, fragment):
    bundle = ModelBundle.load(model_dir)
    artifact_api(lambda: api.predict(bundle, _table(), _sequences(change), log=QUIET),
                 fragment)


def test_distance_ids_of_another_count_and_no_matrix_say_what_to_give(
        capsys, workspace, tmp_path):
    np.save(tmp_path / "d.npy", np.zeros((16, 16)))
    (tmp_path / "ids.txt").write_text("a\nb\n")
    code, output = aam(capsys, "pretrain", "--table", workspace / "table.biom",
                       "--distances", tmp_path / "d.npy", "--distance-ids",
                       tmp_path / "ids.txt", "--output-dir", tmp_path / "run",
                       "--preset", "tiny", "--n-threads", 1)
    refused(output, code, "has 16 rows but 2 sample ids: give one sample id per row, in "
                          "the matrix's row order.")
    artifact_api(lambda: api.distance_block(None, ["a"]),
                 "distances= must be a skbio.DistanceMatrix, not None: give the matrix "
                 "itself")
