"""Borderline cases left by probes 14-15, now fixed: export-onnx names its
model as every other command does, a restart schedule of more cycles than
optimizer steps, and the ridge readout's refusal of a switched-off flag."""
import importlib.util
import json
import re

import pandas as pd
import pytest

from aam_core import api
from aam_core.config import TrainConfig
from aam_core.errors import AAMInputError
from tests.core.test_aam_command_probe_5 import FIXED, RUN, aam, needs_optuna, tune
from tests.core.test_aam_command_probe_6 import refused
from tests.core.test_aam_command_probe_11 import files, model  # noqa: F401 (fixtures)


@pytest.mark.parametrize("given, message", [
    ([], "Give the model directory once: aam export-onnx MODEL_DIR --output model.onnx "
         "(or --model MODEL_DIR)."),
    (["a", "--model", "b"], "(or --model MODEL_DIR), not both (a and b)."),
    (["--model", "nowhere"], "--model nowhere does not exist; give a model directory"),
    (["nowhere"], "MODEL_DIR nowhere does not exist; give a model directory"),
])
def test_export_onnx_takes_its_model_as_an_argument_or_as_model(given, message, tmp_path,
                                                                capsys):
    code, output = aam(capsys, "export-onnx", *given, "--output", tmp_path / "m.onnx")
    refused(output, code, message)


@pytest.mark.skipif(importlib.util.find_spec("onnx") is None, reason="needs onnx")
def test_export_onnx_with_the_model_flag_writes_the_graph(model, tmp_path, capsys):
    code, output = aam(capsys, "export-onnx", "--model", model, "--output",
                       tmp_path / "m.onnx")
    assert code == 0, output
    assert (tmp_path / "m.onnx").stat().st_size > 0


def test_more_restart_cycles_than_optimizer_steps_are_refused(files, tmp_path, capsys):
    """The rate stayed at its peak the whole run, without a word."""
    run = tmp_path / "run"
    code, output = aam(capsys, "fit-regressor", "--table", files / "table.biom",
                       "--metadata", files / "md.tsv", "--target", "age", "--output-dir",
                       run, *RUN, "--scheduler", "cosine_restarts", "--lr-cycles", 40)
    refused(output, code, "--lr-cycles is 40, but the run makes only")
    assert "Lower --lr-cycles to at most" in output
    assert not run.exists()


def test_the_library_says_the_same_in_its_names(files):
    import biom
    import pandas as pd
    table = biom.load_table(str(files / "table.biom"))
    target = pd.read_csv(files / "md.tsv", sep="\t", index_col=0)["age"]
    train = TrainConfig(epochs=1, batch_size=8, scheduler="cosine_restarts", lr_cycles=40)
    with pytest.raises(AAMInputError, match="lr_cycles is 40, but the run makes only"):
        api.fit_regressor(table, target, model="tiny", train=train, log=lambda m: None)


# -- probe 16 (2026-12-01): the aam command's metadata, tune, the library -------

def _with_lines(files, tmp_path, before: str = "", after_header: str = ""):
    lines = (files / "md.tsv").read_text().splitlines()
    path = tmp_path / "md.tsv"
    path.write_text(before + lines[0] + "\n" + after_header + "\n".join(lines[1:]) + "\n")
    return path


def test_comment_lines_before_the_header_are_skipped_as_qiime2_skips_them(files, tmp_path,
                                                                        capsys):
    """They were read as the header, then as samples: 'holds the sample id(s)
    ['M', 'F'] on more than one row', or 'Expected 1 fields'."""
    metadata = _with_lines(files, tmp_path, before="# made by hand\n\n#another note\n",
                           after_header="# a comment among the samples\n")
    code, output = aam(capsys, "fit-regressor", "--table", files / "table.biom",
                       "--metadata", metadata, "--target", "age", "--output-dir",
                       tmp_path / "run", *RUN)
    assert code == 0, output


@pytest.mark.parametrize("line, message", [
    ("#q2:types\tnumeric\tcategorcal\tcategorical\n",
     "the column 'group' has the type 'categorcal' in its '#q2:types' line; QIIME 2 "
     "knows 'categorical' and 'numeric'"),
    ("#q2:missing\tINSDC:missing\t\t\n",
     "has the directive '#q2:missing', which the aam command does not read"),
])
def test_directives_qiime2_would_refuse_are_refused(line, message, files, tmp_path, capsys):
    """A misspelt type was dropped, and the column read as it was not declared."""
    metadata = _with_lines(files, tmp_path, after_header=line)
    code, output = aam(capsys, "fit-regressor", "--table", files / "table.biom",
                       "--metadata", metadata, "--target", "age", "--output-dir",
                       tmp_path / "run", *RUN)
    refused(output, code, message)


def test_a_types_line_among_the_samples_is_refused(files, tmp_path, capsys):
    lines = (files / "md.tsv").read_text().splitlines()
    metadata = tmp_path / "md.tsv"
    metadata.write_text("\n".join(lines[:3] + ["#q2:types\tnumeric\t\t"] + lines[3:]) + "\n")
    code, output = aam(capsys, "fit-regressor", "--table", files / "table.biom",
                       "--metadata", metadata, "--target", "age", "--output-dir",
                       tmp_path / "run", *RUN)
    refused(output, code, "the '#q2:types' line must come once, right after the header "
            "line (as QIIME 2 requires)")


@pytest.mark.parametrize("encoding, message", [
    ("utf-16", "is UTF-16 text (as spreadsheets save 'Unicode text'); QIIME 2 metadata "
               "is UTF-8"),
    ("latin-1", "is not UTF-8 text (byte"),
])
def test_metadata_in_another_encoding_is_named_as_such(encoding, message, files, tmp_path,
                                                       capsys):
    metadata = tmp_path / "md.tsv"
    text = (files / "md.tsv").read_text().replace("age", "\u00e2ge", 1)
    metadata.write_bytes(text.encode(encoding))
    code, output = aam(capsys, "fit-regressor", "--table", files / "table.biom",
                       "--metadata", metadata, "--target", "\u00e2ge", "--output-dir",
                       tmp_path / "run", *RUN)
    refused(output, code, message)


def test_validation_fraction_0_keeps_the_last_epoch(files, tmp_path, capsys):
    """It kept the epoch of lowest training loss, where the help says the last."""
    run = tmp_path / "run"
    code, output = aam(capsys, "fit-regressor", "--table", files / "table.biom",
                       "--metadata", files / "md.tsv", "--target", "age", "--output-dir",
                       run, *RUN[:2], "--epochs", 4, *RUN[4:], "--validation-fraction", 0,
                       "--asv-dropout", 0.5)
    assert code == 0, output
    assert "Kept the last epoch, 4 (no validation samples to choose another)." in output
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["training"]["best_epoch"] == 4


@needs_optuna
def test_tune_says_which_fold_lacks_a_class_and_leaves_no_study(files, tmp_path, capsys):
    """'needs at least two classes' of a column that has two, and an empty
    study file left behind."""
    metadata = pd.read_csv(files / "md.tsv", sep="\t", index_col=0, dtype=str)
    metadata["kind"] = ["rare" if i < 2 else "common" for i in range(len(metadata))]
    metadata.to_csv(tmp_path / "md.tsv", sep="\t")
    (tmp_path / "fixed.json").write_text(json.dumps(FIXED))
    study = tmp_path / "s.db"
    code, output = aam(capsys, "tune", "--table", files / "table.biom", "--metadata",
                       tmp_path / "md.tsv", "--target", "kind", "--kind", "classifier",
                       "--settings", tmp_path / "fixed.json", "--trials", 1, "--folds", 2,
                       "--study", study, "--output", tmp_path / "best.json")
    refused(output, code, "With --folds 2, the training samples of fold")
    assert "are all of class 'common'" in output
    assert not study.exists()


@needs_optuna
def test_tune_refuses_conditioning_settings_it_would_ignore(files, tmp_path, capsys):
    code, output = tune(capsys, files, tmp_path, {**FIXED, "fusion": "film"},
                        tmp_path / "s.db")
    refused(output, code, "aam tune fits without conditioning, so the fixed setting(s) "
            "fusion would be ignored")
    assert not (tmp_path / "best.json").exists()


def test_the_librarys_prediction_names_a_misspelt_option(model):
    from aam_core.bundle import ModelBundle
    bundle = ModelBundle.load(model)
    # the option is checked before the table is read
    with pytest.raises(AAMInputError, match=re.escape(
            "Unknown option(s) n_thread (did you mean n_threads?): prediction and "
            "embedding take batch_size, device, n_threads.")):
        api.predict(bundle, None, n_thread=1)


def test_quantiles_of_a_classifier_say_it_is_one(files, tmp_path):
    import biom
    table = biom.load_table(str(files / "table.biom"))
    labels = pd.read_csv(files / "md.tsv", sep="\t", index_col=0, dtype=str)["study"]
    train = TrainConfig(epochs=1, batch_size=8, ensemble_size=1)
    bundle = api.fit_classifier(table, labels, model="tiny", train=train,
                                log=lambda m: None)
    with pytest.raises(AAMInputError, match="This is a classifier model; it needs a "
                                            "regressor"):
        api.predict_quantiles(bundle, table)


def test_the_library_reads_empty_labels_as_no_value_and_names_a_plain_target(files):
    import biom
    table = biom.load_table(str(files / "table.biom"))
    labels = pd.read_csv(files / "md.tsv", sep="\t", index_col=0, dtype=str)["study"]
    labels.iloc[:3] = ["", " ", ""]
    messages = []
    train = TrainConfig(epochs=1, batch_size=8, ensemble_size=1)
    bundle = api.fit_classifier(table, labels, model="tiny", train=train,
                                log=messages.append)
    assert "" not in bundle.config["class_labels"]
    assert any("Dropped 3 sample(s) that have no target value" in m for m in messages)
    with pytest.raises(AAMInputError, match="The target column 'target' must be numeric"):
        api.fit_regressor(table, pd.Series(["a"] * len(labels), index=labels.index),
                          model="tiny", train=train, log=lambda m: None)


def test_longer_reads_than_a_pretrained_encoder_get_advice_that_works(files, tmp_path,
                                                                     capsys):
    """It said to raise --max-length, which is then refused beside --pretrained."""
    import biom
    encoder = tmp_path / "encoder"
    table = biom.load_table(str(files / "table.biom"))
    assert aam(capsys, "pretrain", "--table", files / "table.biom", "--output-dir", encoder,
               "--preset", "tiny", "--epochs", 1, "--n-threads", 1)[0] == 0  # 100-nt reads
    longer = table.update_ids({f: f + "ACGT" * 10 for f in table.ids("observation")},
                              axis="observation", inplace=False)
    with biom.util.biom_open(str(tmp_path / "long.biom"), "w") as handle:
        longer.to_hdf5(handle, "test")
    code, output = aam(capsys, "fit-regressor", "--table", tmp_path / "long.biom",
                       "--metadata", files / "md.tsv", "--target", "age", "--output-dir",
                       tmp_path / "run", *RUN, "--pretrained", encoder / "model")
    refused(output, code, "The pretrained model reads sequences of up to 100 nt: set "
            "--truncate to cut them to 100 nt, or pretrain a model on these reads")
