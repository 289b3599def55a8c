"""Probe 14 (2026-12-01): a mask ratio of 0 that silently turned the
nucleotide objective off, and a grouped test split that a big group took
past the size asked for."""
import pandas as pd

from aam_core.data.split import holdout_split
from tests.core.test_aam_command_probe_5 import RUN, aam
from tests.core.test_aam_command_probe_6 import refused
from tests.core.test_aam_command_probe_11 import files  # noqa: F401 (a fixture)


def test_a_mask_ratio_of_zero_is_refused(files, tmp_path, capsys):
    """It masked nothing: the nucleotide loss was 0 every epoch, exit 0."""
    code, output = aam(capsys, "pretrain", "--table", files / "table.biom",
                       "--mask-ratio", 0, "--output-dir", tmp_path / "run", *RUN)
    refused(output, code, "argument --mask-ratio: must be above 0, not 0.0")


def test_one_big_group_does_not_take_the_test_split():
    """40 samples: a group of 34 and six of one. test_size 0.2 asks for
    about 8: the split took the big group (35 tested, 5 trained) or refused
    with advice to change test_size; six singletons are the closer set."""
    ids = [f"s{i}" for i in range(40)]
    targets = pd.Series(range(40), index=ids, dtype=float)
    groups = pd.Series(["A"] * 34 + [f"g{i}" for i in range(6)], index=ids)
    for seed in range(5):
        train, test = holdout_split(targets, 0.2, seed, groups)
        assert (len(train), len(test)) == (34, 6)
        assert set(ids[:34]) <= set(train)
    # groups of equal size: the size asked for, as before
    even = pd.Series([f"g{i // 4}" for i in range(40)], index=ids)
    assert len(holdout_split(targets, 0.2, 0, even)[1]) == 8
