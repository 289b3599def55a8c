"""What a user sees of a run: the per-epoch line (pace, time left, patience),
the caching lines at prediction, and the facts config.json records for
summarize (samples per member, dropped samples, ASVs, time)."""
import numpy as np
import pandas as pd

from aam_core import api
from aam_core.config import TrainConfig
from aam_core.data.table import CountTable
from aam_core.train.loop import format_pace
from tests.conftest import random_dna


def test_pace_line_by_hand():
    records = [{"epoch": 1, "seconds": 2.0}, {"epoch": 2, "seconds": 4.0}]
    line = format_pace(records, 10, 123.45, (1, 5))
    # 6 s so far; 8 epochs left at the mean of 3 s each
    assert line == "123.5 samples/s  elapsed 6s  ETA 24s  no improvement 1/5"
    assert "no improvement" not in format_pace(records, 10, 1.0, None)
    long = [{"epoch": 1, "seconds": 125.0}]
    assert "elapsed 2m05s  ETA 1h02m" in format_pace(long, 31, 1.0, None)


def _data(rng):
    """26 samples over 12 ASVs: one sample without reads, one without age."""
    counts = rng.integers(0, 20, size=(26, 12)).astype(float)
    counts[0] = 0
    ids = [f"s{i}" for i in range(26)]
    table = CountTable.from_dense(counts, ids, random_dna(rng, 12, 30))
    age = pd.Series(rng.uniform(1, 80, 26), index=ids, name="age")
    age.iloc[1] = np.nan
    return table, age


def test_epoch_lines_caching_lines_and_recorded_run():
    table, age = _data(np.random.default_rng(0))
    lines = []
    train = TrainConfig(epochs=2, batch_size=8, nucleotide_weight=0.0, random_state=0,
                        ensemble_size=2, validation_fraction=0.25)
    bundle = api.fit_regressor(table, age, model="tiny", train=train, log=lines.append)
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert len(epochs) == 4  # 2 members x 2 epochs
    for line in epochs:
        assert "samples/s" in line and "elapsed " in line and "ETA " in line
        assert "no improvement " in line and "/10" in line  # patience 10
    assert epochs[1].split("ETA ")[1].startswith("0s")  # the last epoch
    run = bundle.config["training"]["run"]
    assert run["dropped_samples"] == {"no reads or below the rarefaction depth": 1,
                                      "no target value (or not in the metadata)": 1}
    assert run["asvs"] == 12 and run["seconds"] > 0
    assert len(run["train_samples"]) == 2
    for n_train, n_val in zip(run["train_samples"], run["validation_samples"]):
        assert n_train + n_val == 24 and n_val >= 2
    lines.clear()
    # prediction refuses the sample without reads (it would drop it): left out
    api.predict(bundle, table.take_samples(np.arange(1, 26)), log=lines.append,
                device="cpu")
    assert any(line.startswith("Encoding 12 distinct ASV sequences once for each of "
                               "2 ensemble members") for line in lines)
    assert any(line.startswith("ASV vectors cached in ") for line in lines)
