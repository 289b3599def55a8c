"""Damaged and inconsistent models: refused with a clear message at import
(validation level=max), by `qiime tools validate` and at every load, never
predicting garbage. One row per (damage, interface)."""

import pytest
import qiime2

from .conftest import (aam, aam_process, artifact_api, damaged_copy, damaged_qza, drop,
                       edit_config, flip_bytes, not_json, qiime, refused, setting,
                       truncate)

DAMAGED = "damaged or were replaced"
EDITED = "was edited or damaged: its settings no longer match the sha256"


def undigested(damage):
    def apply(folder):
        damage(folder)
        without_digest(folder)
    return apply

DAMAGES = {  # name: (damage, fragment of the expected message)
    "flipped-64-bytes": (flip_bytes, DAMAGED),
    "truncated-to-half": (truncate, DAMAGED),
    "no-architecture.sample_layers": (drop("architecture", "sample_layers"),
                                      "lacks architecture.sample_layers"),
    "no-data.max_length": (drop("data", "max_length"), "lacks data.max_length"),
    "no-data.max_asvs": (drop("data", "max_asvs"), "lacks data.max_asvs"),
    "target-block-null": (setting(None, "target", None), "needs its 'target' block"),
    "no-target.method": (drop("target", "method"), "lacks target.method"),
    "no-kind": (drop(None, "kind"), "lacks the key(s) ['kind']"),
    "unknown-kind": (setting(None, "kind", "forest"), "kind must be one of"),
    "sample_layers-text": (setting("architecture", "sample_layers", "2"),
                           "architecture.sample_layers must be an integer"),
    # a model saved before digests: only the weights' shapes can tell
    "wider-than-its-weights": (undigested(setting("architecture", "d_model", 64)),
                               "do not fit the architecture"),
    "deeper-than-its-weights": (undigested(setting("architecture", "sample_layers", 2)),
                                "do not fit the architecture"),
    "edited-target-shift": (setting("target", "shift", 1000.0), EDITED),
    "edited-max-asvs": (setting("data", "max_asvs", 1), EDITED),
    "config-not-json": (not_json, "not valid JSON"),
    "digest-not-hex": (setting(None, "weights_sha256", "abc"), "sha256 hex digest"),
    "target-scale-0": (setting("target", "scale", 0),
                       "needs a finite shift and a scale above 0"),
    "target-scale-negative": (setting("target", "scale", -12.0),
                              "needs a finite shift and a scale above 0"),
    "target-method-unknown": (setting("target", "method", "bogus"),
                              "target.method 'bogus' is not a normalisation"),
    "class-labels-repeated": (setting(None, "class_labels", ["F", "F"]),
                              "class_labels repeat a label"),
    # edits the digest can no longer tell (removed with them): the schema can
    "class-labels-on-a-regressor": (undigested(setting(None, "class_labels", ["F", "M"])),
                                    "of kind 'regressor' has no class_labels"),
    "reads-longer-than-its-positions": (undigested(setting("data", "max_length", 4096)),
                                        "exceeds the architecture's max_length"),
}
ALL = sorted(DAMAGES)
# the subset sent through the slower interfaces (a q2cli call is seconds)
WEIGHTS_AND_SCHEMA = ["flipped-64-bytes", "truncated-to-half", "no-data.max_asvs",
                      "wider-than-its-weights"]

ROWS = ([("artifact-api-import", d) for d in ALL]
        + [("aam-predict", d) for d in ALL]
        + [("artifact-api-predict", d) for d in WEIGHTS_AND_SCHEMA]
        + [("q2cli-import", d) for d in ("flipped-64-bytes", "truncated-to-half")]
        + [("q2cli-validate", d) for d in WEIGHTS_AND_SCHEMA]
        + [("q2cli-predict", d) for d in ("flipped-64-bytes", "truncated-to-half")])


@pytest.mark.parametrize("interface, damage", ROWS, ids=[f"{i}:{d}" for i, d in ROWS])
def test_damaged_model_is_refused(interface, damage, model_dir, model_qza, workspace,
                                  tmp_path, capsys):
    change, fragment = DAMAGES[damage]
    if interface == "artifact-api-import":
        folder = damaged_copy(model_dir, change, tmp_path / "model")
        artifact_api(lambda: qiime2.Artifact.import_data(
            "AAMModel[AAMRegressor]", str(folder)), fragment)
    elif interface == "aam-predict":
        folder = damaged_copy(model_dir, change, tmp_path / "model")
        code, output = aam(capsys, "predict", "--model", folder, "--table",
                           workspace / "table.biom", "--output", tmp_path / "p.tsv")
        refused(output, code, fragment)
        assert str(folder) in output  # names the model the user gave
        assert not (tmp_path / "p.tsv").exists()
    elif interface == "artifact-api-predict":
        from qiime2.plugins import aam as plugin
        path = damaged_qza(model_qza, change, tmp_path / "model.qza")
        table = qiime2.Artifact.load(str(workspace / "table.qza"))
        artifact_api(lambda: plugin.methods.predict_regression(
            table=table, model=qiime2.Artifact.load(str(path))), fragment)
    elif interface == "q2cli-import":
        folder = damaged_copy(model_dir, change, tmp_path / "model")
        code, output = qiime("tools", "import", "--type", "AAMModel[AAMRegressor]",
                             "--input-path", folder, "--output-path", tmp_path / "m.qza")
        refused(output, code, fragment)
        assert not (tmp_path / "m.qza").exists()
    elif interface == "q2cli-validate":
        path = damaged_qza(model_qza, change, tmp_path / "model.qza")
        code, output = qiime("tools", "validate", path)
        refused(output, code, fragment)
        assert "model.qza" in output
    elif interface == "q2cli-predict":
        path = damaged_qza(model_qza, change, tmp_path / "model.qza")
        code, output = qiime("aam", "predict-regression", "--i-table",
                             workspace / "table.qza", "--i-model", path,
                             "--o-predictions", tmp_path / "p.qza")
        refused(output, code, fragment)
        assert not (tmp_path / "p.qza").exists()


# -- models saved before digests: still usable, with a notice --------------------

def without_digest(folder):
    """As saved before digests were recorded: neither the weights' nor the
    config's."""
    edit_config(lambda c: (c.pop("weights_sha256"), c.pop("config_sha256")))(folder)


def test_a_model_without_digest_still_predicts_with_a_notice(model_dir, workspace,
                                                             tmp_path, capsys):
    folder = damaged_copy(model_dir, without_digest, tmp_path / "old-model")
    code, output = aam(capsys, "predict", "--model", folder, "--table",
                       workspace / "table.biom", "--output", tmp_path / "p.tsv")
    assert code == 0, output
    assert "without a digest" in output
    assert (tmp_path / "p.tsv").read_text().count("\n") == 17  # header + 16 samples


def test_a_model_without_digest_still_validates(model_dir, tmp_path):
    folder = damaged_copy(model_dir, without_digest, tmp_path / "old-model")
    qiime2.Artifact.import_data("AAMModel[AAMRegressor]", str(folder)).validate("max")


@pytest.mark.parametrize("damage", ["flipped-64-bytes", "truncated-to-half"])
def test_a_damaged_model_without_digest_fails_its_crc(damage, model_dir, workspace,
                                                      tmp_path, capsys):
    """torch's zip container carries a CRC-32 per record: what can still be
    checked of an older model."""
    folder = damaged_copy(model_dir, without_digest, tmp_path / "old-model")
    DAMAGES[damage][0](folder)
    code, output = aam(capsys, "predict", "--model", folder, "--table",
                       workspace / "table.biom", "--output", tmp_path / "p.tsv")
    refused(output, code, "damaged")


def test_the_good_model_passes_everything(model_dir, model_qza, workspace, tmp_path):
    """The suite's control: the undamaged model validates and predicts."""
    code, output = qiime("tools", "validate", model_qza)
    assert code == 0 and "appears to be valid at level=max" in output, output
    done = aam_process("predict", "--model", model_dir, "--table",
                       workspace / "table.biom", "--output", tmp_path / "p.tsv")
    assert done.returncode == 0, done.stderr
    assert "Notice" not in done.stderr


def test_a_config_without_its_digest_loads_with_a_notice(model_dir, workspace, tmp_path,
                                                         capsys):
    """Removing config_sha256 (after an edit) passed without a word."""
    folder = damaged_copy(model_dir, edit_config(lambda c: c.pop("config_sha256")),
                          tmp_path / "no-config-digest")
    code, output = aam(capsys, "predict", "--model", folder, "--table",
                       workspace / "table.biom", "--output", tmp_path / "p.tsv")
    assert code == 0, output
    assert "has no digest of its config.json" in output
