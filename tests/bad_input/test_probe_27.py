"""Probe 27 (2026-12-02): pretrain's nucleotide_epochs (at or beyond the
epochs, with its only other objective weighted 0), fit-regressor's 'exp'
activation with the ridge readout (readout 'auto' over targets of 0,
targets below 0 told to fine-tune), intervals of a model of non-negative
values, the summary's training settings, and conditioning metadata of other
samples at fitting."""
import pandas as pd
import pytest
import qiime2
from aam_core.bundle import ModelBundle
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import aam, artifact_api, qiime, refused

TINY = dict(preset="tiny", batch_size=8, n_threads=1)


def _ids():
    return [str(i) for i in _examples.sample_metadata_factory().ids]


def _target(values, name="y"):
    frame = pd.DataFrame({name: values}, index=pd.Index(_ids(), name="sample-id"))
    return qiime2.Metadata(frame).get_column(name)


# -- 1. nucleotide_epochs that never freezes anything -------------------------------------

@pytest.mark.parametrize("epochs, after", [(2, 2), (1, 5)])
def test_nucleotide_epochs_not_below_epochs_is_refused(workspace, tmp_path, capsys,
                                                       epochs, after):
    """It trained the nucleotide encoder every epoch, exit 0, without a word."""
    code, output = aam(capsys, "pretrain", "--table", workspace / "table.biom",
                       "--distances", workspace / "distances.tsv", "--preset", "tiny",
                       "--epochs", epochs, "--nucleotide-epochs", after, "--batch-size", 8,
                       "--n-threads", 1, "--output-dir", tmp_path / "run")
    refused(output, code, f"--nucleotide-epochs {after} freezes the nucleotide encoder "
            f"after that many epochs, but --epochs {epochs} ends the run first, so it "
            "would be ignored: set it below --epochs, set it to 0")


def test_q2cli_names_nucleotide_epochs_in_its_flags(workspace, tmp_path):
    code, output = qiime("aam", "pretrain", "--i-table", workspace / "table.qza",
                         "--i-distance-matrix", workspace / "distances.qza",
                         "--p-preset", "tiny", "--p-epochs", 2, "--p-nucleotide-epochs", 5,
                         "--p-n-threads", 1, "--o-model", tmp_path / "encoder.qza")
    refused(output, code, "--p-nucleotide-epochs 5 freezes the nucleotide encoder after "
            "that many epochs, but --p-epochs 2 ends the run first")


# -- 2. an input given with its weight at 0 is not "give a distance matrix" ---------------

@pytest.mark.parametrize("inputs, options, fragment", [
    ("distance_matrix", dict(unifrac_weight=0.0, nucleotide_epochs=1, epochs=3),
     "no other objective trains the sample encoder in the rest; the distance matrix given "
     "is not used with unifrac_weight 0"),
    ("alpha_diversity", dict(alpha_weight=0.0, nucleotide_epochs=1, epochs=3),
     "no other objective trains the sample encoder in the rest; the alpha diversity given "
     "is not used with alpha_weight 0"),
    ("distance_matrix", dict(unifrac_weight=0.0, nucleotide_weight=0.0),
     "Nothing to pretrain on; the distance matrix given is not used with unifrac_weight 0"),
])
def test_an_input_weighted_0_is_named(inputs, options, fragment):
    given = {"distance_matrix": _examples.distance_matrix_factory,
             "alpha_diversity": _examples.alpha_diversity_factory}[inputs]()
    artifact_api(lambda: plugin.methods.pretrain(
        table=_examples.table_factory(), **{inputs: given}, **TINY, **options), fragment)


def test_two_processes_hear_it_before_they_start(monkeypatch):
    """With n_devices 2 the refusal came from the processes, after 15 s."""
    def launched(*args, **kwargs):
        raise AssertionError("processes started")
    monkeypatch.setattr("q2_aam._pretrain.on_devices", launched)
    artifact_api(lambda: plugin.methods.pretrain(
        table=_examples.table_factory(), distance_matrix=_examples.distance_matrix_factory(),
        unifrac_weight=0.0, nucleotide_epochs=1, epochs=3, n_devices=2,
        **{**TINY, "n_threads": 2}), "no other objective trains the sample encoder")


# -- 3. 'exp' with the ridge readout: targets of 0 and below 0 -----------------------------

def test_auto_fine_tunes_targets_of_0_under_exp(encoder_qza):
    """readout 'auto' chose ridge and was refused: 'use --p-readout fine_tune',
    which fits them (its 'exp' predicts down to 0)."""
    model, = plugin.methods.fit_regressor(
        table=_examples.table_factory(), metadata=_target([0.0] * 3 + [5.0] * 13),
        pretrained_model=qiime2.Artifact.load(str(encoder_qza)), output_activation="exp",
        ensemble_size=1, validation_fraction=0.0, **TINY)
    assert model.view(ModelBundle).config["training"]["readout"] == "fine_tune"


def test_targets_below_0_are_not_told_to_fine_tune(encoder_qza):
    """Ridge said 'use readout=fine_tune', which refuses them too."""
    with pytest.raises(Exception) as info:
        plugin.methods.fit_regressor(
            table=_examples.table_factory(), metadata=_target([-1.0] * 2 + [5.0] * 14),
            pretrained_model=qiime2.Artifact.load(str(encoder_qza)), readout="ridge",
            output_activation="exp", **TINY)
    message = " ".join(str(info.value).split())
    assert "2 of the 16 targets lie below the floor of output_activation='exp' (0)" \
        in message, message
    assert "fine_tune" not in message, message


# -- 4. the interval of a model of non-negative values ------------------------------------

def test_the_interval_of_an_exp_model_stops_at_0(encoder_qza):
    """A lower bound of -5.65 for a model whose predictions stay above 0
    (the conformal margin subtracted from a small prediction), exit 0."""
    model, = plugin.methods.fit_regressor(
        table=_examples.table_factory(), metadata=_target([0.01] * 12 + [100.0] * 4),
        pretrained_model=qiime2.Artifact.load(str(encoder_qza)), readout="ridge",
        output_activation="exp", **TINY)
    _, lower, upper = plugin.methods.predict_regression_interval(
        table=_examples.table_factory(), model=model, n_threads=1)
    assert (lower.view(pd.Series) >= 0).all(), lower.view(pd.Series)
    assert (lower.view(pd.Series) == 0).any()  # the margin reached past 0
    assert (upper.view(pd.Series) > 0).all()


# -- 5. the summary lists the settings that applied -----------------------------------------

@pytest.mark.parametrize("kind, training, epochs_run, listed", [
    ("regressor", {"nucleotide_epochs": 0, "readout": "ridge"}, 1, {"readout"}),
    ("encoder", {"nucleotide_epochs": 1, "readout": "auto"}, 3, {"nucleotide_epochs"}),
    ("encoder", {"nucleotide_epochs": 5, "readout": "auto"}, 2, set()),
])
def test_nucleotide_epochs_and_readout_are_listed_where_they_applied(kind, training,
                                                                     epochs_run, listed):
    """A ridge regressor listed 'nucleotide_epochs 0', an encoder 'readout auto'."""
    from q2_aam._model_facts import applied_training
    from tests.plugin.conftest import fake_config
    history = pd.DataFrame({"epoch": range(1, epochs_run + 1),
                            "train_loss": [1.0] * epochs_run})
    assert set(applied_training(fake_config(kind, training=training), history)) == listed


# -- 6. conditioning metadata of other samples at fitting ----------------------------------

def test_conditioning_of_none_of_the_samples_is_named_so():
    """It was 'The conditioning column 'site' has no value among the training
    samples (their cells are empty)': the cells held values, of other ids."""
    frame = pd.DataFrame({"site": ["a", "b"] * 8},
                         index=pd.Index([f"Z{i}" for i in range(16)], name="sample-id"))
    artifact_api(lambda: plugin.methods.fit_regressor(
        table=_examples.table_factory(), metadata=_target(list(range(16))),
        conditioning=qiime2.Metadata(frame), epochs=1, ensemble_size=1, **TINY),
        "None of the 16 samples is in the conditioning metadata (conditioning) (ids "
        "there: e.g. Z0, Z1, Z2")
