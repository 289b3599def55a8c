"""The `aam` command, faults a probe found: list options with a wrong number
of values, a column or a category named twice, unusable category weights,
metadata and tables that are not what they claim, model paths that are no
model directory, two flags for one setting, a settings file with a key
twice, and --resume into another command's run. Each is refused as one
line naming the flag, before anything is written."""
import json

import biom
import pytest

from .conftest import aam, overridden, refused

TINY = ["--preset", "tiny", "--batch-size", 8, "--n-threads", 1, "--epochs", 1,
        "--ensemble-size", 1]


def _metadata(workspace, folder):
    ids = biom.load_table(str(workspace / "table.biom")).ids()
    rows = [f"{s}\t{20 + i}\t{'FM'[i % 2]}\t{'ab'[i % 2]}" for i, s in enumerate(ids)]
    path = folder / "m.tsv"
    path.write_text("sample-id\tage\tsex\tstudy\n" + "\n".join(rows) + "\n")
    return path


def _file(folder, name, text):
    (folder / name).write_text(text)
    return folder / name


def comma_metadata(folder, workspace):
    text = _metadata(workspace, folder).read_text().replace("\t", ",")
    return ["--metadata", _file(folder, "m.csv", text)]


def text_table(folder, workspace):
    return ["--table", _file(folder, "t.biom", "hello\tworld\n")]


def settings(name, text):
    return lambda folder, workspace: ["--settings", _file(folder, name, text)]


def finished_run(command, kind, record_command):
    """A finished run directory of `command` (its model's kind `kind`);
    runs of older versions did not record their command in last.json."""
    def make(folder, workspace):
        run = folder / "done"
        (run / "checkpoints").mkdir(parents=True)
        (run / "model").mkdir()
        info = {"epoch": 2, "step": 0, "finished": True,
                **({"command": command} if record_command else {})}
        (run / "checkpoints" / "last.json").write_text(json.dumps(info))
        (run / "model" / "config.json").write_text(json.dumps({"kind": kind}))
        return ["--output-dir", run, "--resume"]
    return make


WEIGHTS = ["--loss-weights", "sex", "--category-weight"]
ROWS = {  # name: (command, extra arguments made in code, fragment of the message)
    "output-bounds-three": ("fit-regressor", lambda f, w: ["--output-bounds", 1, 2, 3],
                            "--output-bounds takes two values: LOWER UPPER ('none' for "
                            "an open end)"),
    "output-bounds-one": ("fit-regressor", lambda f, w: ["--output-bounds", 5],
                          "--output-bounds takes two values: LOWER UPPER ('none' for an "
                          "open end)"),
    "quantiles-none": ("fit-regressor", lambda f, w: ["--loss", "quantile", "--quantiles"],
                       "--quantiles needs at least one value"),
    "conditioning-twice": ("fit-regressor", lambda f, w: ["--conditioning", "sex", "sex"],
                           "--conditioning names 'sex' twice"),
    "category-weight-negative": ("fit-regressor", lambda f, w: [*WEIGHTS, "F:-1"],
                                 "--category-weight F:-1: the weight of 'F' must be a "
                                 "finite number >= 0"),
    "category-weight-infinite": ("fit-regressor", lambda f, w: [*WEIGHTS, "F:inf"],
                                 "--category-weight F:inf: the weight of 'F' must be a "
                                 "finite number >= 0"),
    "category-weight-unknown": ("fit-classifier", lambda f, w: [*WEIGHTS, "X:5"],
                                "the --loss-weights column 'sex' has no category 'X'; "
                                "its categories are ['F', 'M']"),
    "category-weight-twice": ("fit-regressor",
                              lambda f, w: [*WEIGHTS, "F:2", "--category-weight", "F:3"],
                              "--category-weight gives 'F' twice (F:2 and F:3); give "
                              "each category once"),
    "metadata-comma-separated": ("fit-regressor", comma_metadata,
                                 "is not tab-separated: its header line has commas"),
    "metadata-directory": ("fit-regressor", lambda f, w: ["--metadata", f],
                           "is a directory; give the metadata TSV file"),
    "metadata-empty": ("fit-regressor", lambda f, w: ["--metadata", _file(f, "e.tsv", "")],
                       "is empty"),
    "table-text-file": ("fit-regressor", text_table, "t.biom is not a BIOM table"),
    "pretrained-missing": ("fit-regressor", lambda f, w: ["--pretrained", f / "nothere"],
                           "nothere does not exist"),
    "distance-ids-with-tsv": ("fit-regressor", lambda f, w: [
        "--distances", w / "distances.tsv", "--distance-ids", _file(f, "ids", "a\n")],
        "--distance-ids only goes with a .npy --distances matrix"),
    "weight-by-and-loss-weights": ("fit-regressor", lambda f, w: [
        "--weight-by", "sex", "--loss-weights", "study"],
        "--weight-by and --loss-weights set the same thing; keep --loss-weights"),
    "regression-hidden-and-hidden-layers": ("fit-regressor", lambda f, w: [
        "--regression-hidden", 8, "--hidden-layers", 2],
        "--regression-hidden and --hidden-layers set the same thing; keep "
        "--hidden-layers and --hidden-width"),
    "settings-key-twice-json": ("fit-regressor", settings(
        "s.json", '{"learning_rate": 0.001, "learning_rate": 0.5}'),
        "s.json sets 'learning_rate' twice"),
    "settings-key-twice-yaml": ("fit-regressor", settings(
        "s.yaml", "learning_rate: 0.001\nlearning_rate: 0.5\n"),
        "s.yaml sets 'learning_rate' twice"),
    "resume-a-classifier-run": ("fit-regressor",
                                finished_run("fit-classifier", "classifier", True),
                                "holds a fit-classifier run, not fit-regressor; choose "
                                "another --output-dir"),
    "resume-an-older-regressor-run": ("pretrain",
                                      finished_run("fit-regressor", "regressor", False),
                                      "holds a fit-regressor run, not pretrain; choose "
                                      "another --output-dir"),
}


def _command(command, workspace, folder):
    table = ["--table", workspace / "table.biom"]
    run = ["--output-dir", folder / "run", *TINY]
    if command == "pretrain":
        return [command, *table, *run[:-2]]
    target = "age" if command == "fit-regressor" else "sex"
    return [command, *table, "--metadata", _metadata(workspace, folder),
            "--target", target, *run]


@pytest.mark.parametrize("case", sorted(ROWS))
def test_aam_refuses(case, workspace, tmp_path, capsys):
    command, make, fragment = ROWS[case]
    code, output = aam(capsys, *overridden(_command(command, workspace, tmp_path),
                                           make(tmp_path, workspace)))
    refused(output, code, fragment)
    assert "--debug" not in output  # a user's mistake, said as such
    assert len(output.strip().splitlines()) == 1, output  # one line, no warnings
    assert not (tmp_path / "run").exists()  # nothing written
    assert not (tmp_path / "done" / "model" / "model.pt").exists()


def test_embed_refuses_a_file_as_the_model(workspace, tmp_path, capsys):
    config = _file(tmp_path, "config.json", "{}")
    code, output = aam(capsys, "embed", "--model", config, "--table",
                       workspace / "table.biom", "--output", tmp_path / "e.tsv")
    refused(output, code, "is a file, not a model directory (give the folder that "
                          "holds config.json)")
    assert not (tmp_path / "e.tsv").exists()


def test_strategy_in_one_process_says_it_does_not_act(workspace, tmp_path, capsys):
    code, output = aam(capsys, "pretrain", "--table", workspace / "table.biom",
                       "--output-dir", tmp_path / "run", "--strategy", "fsdp", *TINY[:-2])
    assert code == 0, output
    assert "--strategy fsdp only acts with several processes" in output


def test_a_tsv_biom_table_is_still_read(tmp_path):
    from aam_core.data.io import read_table
    path = _file(tmp_path, "t.tsv", "# Constructed from biom file\n#OTU ID\tS1\tS2\t"
                 "taxonomy\nA\t1\t0\tk__B\nC\t2.0\t3\tk__B\n")
    assert read_table(str(path)).shape == (2, 2)
