"""The settings dataclasses: their checks, and settings saved under older names."""
import json

import pandas as pd
import pytest

from aam_core import api
from aam_core.bundle import ModelBundle
from aam_core.config import (ConditioningConfig, ModelConfig, TrainConfig, current_names,
                             renamed)
from aam_core.errors import AAMInputError
from tests.core.test_fit import FAST, QUIET, conditioned, pools  # noqa: F401 (fixtures)


def test_the_heads_must_divide_the_width():
    with pytest.raises(AAMInputError, match="d_model=32 must divide by n_heads=3"):
        ModelConfig.preset("tiny", n_heads=3)
    assert ModelConfig.preset("tiny", n_heads=4).n_heads == 4


def test_kmer_size_is_capped_where_its_table_still_fits():
    assert ModelConfig.preset("tiny", kmer_size=8).kmer_size == 8
    with pytest.raises(AAMInputError, match="kmer_size must be at most 8, not 9"):
        ModelConfig.preset("tiny", kmer_size=9)


def test_older_names_are_read_as_the_current_ones():
    assert renamed(TrainConfig, {"seed": 3, "target_loss": "mse"}) == {
        "random_state": 3, "loss": "mse"}
    # given both, the current name wins
    assert renamed(TrainConfig, {"seed": 3, "random_state": 4}) == {"random_state": 4}
    config = current_names({"architecture": {"head_residual": True}, "data": {},
                            "training": {"seed": 1}, "conditioning": None, "kind": "x"})
    assert config["architecture"] == {"residual_head": True}
    assert config["training"] == {"random_state": 1} and config["kind"] == "x"
    assert ConditioningConfig.from_dict({"output_scaling": True}).conditional_output


def test_a_model_saved_under_the_older_setting_names_loads_the_same(conditioned, tmp_path):
    """seed, target_loss and output_scaling were the saved names of
    random_state, loss and conditional_output; such models still load."""
    table, frame, bundle = conditioned
    bundle.save(tmp_path / "model")
    path = tmp_path / "model" / "config.json"
    config = json.loads(path.read_text())
    training, spec = config["training"], config["conditioning"]
    training["seed"], training["target_loss"] = training.pop("random_state"), training.pop("loss")
    spec["output_scaling"] = spec.pop("conditional_output")
    config.pop("config_sha256")  # saved before configs had a digest
    path.write_text(json.dumps(config))
    loaded = ModelBundle.load(tmp_path / "model")
    assert loaded.config["training"]["random_state"] == FAST.random_state
    assert loaded.config["training"]["loss"] == FAST.loss
    assert loaded.config["conditioning"]["conditional_output"] is True
    assert "seed" not in loaded.config["training"]
    pd.testing.assert_series_equal(api.predict(bundle, table, conditioning=frame, **QUIET),
                                   api.predict(loaded, table, conditioning=frame, **QUIET))
    assert ModelConfig.from_dict({"head_residual": True}).residual_head


