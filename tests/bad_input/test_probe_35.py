"""Probe 35 (2026-12-02, the QIIME 2 surface): classify-samples whose every
class lies in one group (or one sample) said "The split leaves 30 training
and 0 test samples ... change --p-test-size", though no test size could
test a sample; a grouped test split of two one-sample groups, beside one
large group left to train on, said "Lower --p-test-size first", though a
lower one tests one sample and is refused; normalise_by a column of one
category for every training sample trained without a word (its
per-category normalisation is the global one), and samples without a value
in it were said as the category "None", "not seen in training"."""
import numpy as np
import pandas as pd
import pytest
import qiime2

from aam_core.data.targets import CategoryScaler
from q2_aam import _examples

from .conftest import artifact_api, qiime, refused

TINY = dict(preset="tiny", epochs=1, n_threads=1, ensemble_size=1)
IDS = [str(i) for i in _examples.table_factory().view(pd.DataFrame).index]  # 16 samples


def _column(values, name: str, numeric: bool = False):
    series = pd.Series(values, index=pd.Index(IDS, name="sample-id"), name=name)
    kind = qiime2.NumericMetadataColumn if numeric else qiime2.CategoricalMetadataColumn
    return kind(series)


def _tsv(folder, name: str, **columns) -> str:
    frame = pd.DataFrame(columns, index=pd.Index(IDS, name="sample-id"))
    path = folder / name
    frame.to_csv(path, sep="\t")
    return str(path)


HALVES = ["a"] * 8 + ["b"] * 8
AGES = [float(20 + 3 * i) for i in range(16)]
BIG_GROUP = ["big"] * 14 + ["g14", "g15"]  # the test split takes g14 and g15


# -- 1. split refusals that advised a test size that cannot help -------------------------

@pytest.mark.parametrize("classes, groups, fragment", [
    (HALVES, HALVES, "2 of the 2 classes lie in a single group (groups), so at most 0 "
                     "sample(s) could be tested, and the test needs 2: no test_size "
                     "changes that."),
    ([f"c{i}" for i in range(16)], None,
     "16 of the 16 classes lie in a single sample, so at most 0 sample(s) could be "
     "tested"),
])
def test_classes_that_cannot_reach_the_test_split_are_said(classes, groups, fragment):
    from qiime2.plugins import aam
    extra = {} if groups is None else {"groups": _column(groups, "subject")}
    artifact_api(lambda: aam.pipelines.classify_samples(
        table=_examples.table_factory(), metadata=_column(classes, "site"), **extra,
        **TINY), fragment)


def test_q2cli_says_no_test_size_tests_classes_of_one_group_each(tmp_path):
    table = tmp_path / "table.qza"
    _examples.table_factory().save(str(table))
    metadata = _tsv(tmp_path, "m.tsv", site=HALVES, subject=HALVES)
    code, output = qiime("aam", "classify-samples", "--i-table", table,
                         "--m-metadata-file", metadata, "--m-metadata-column", "site",
                         "--m-groups-file", metadata, "--m-groups-column", "subject",
                         "--p-test-size", "0.5", "--p-preset", "tiny", "--p-epochs", 1,
                         "--p-n-threads", 1, "--output-dir", tmp_path / "out")
    refused(output, code, "lie in a single group (--m-groups-file), so at most 0 "
                          "sample(s) could be tested, and the test needs 2: no "
                          "--p-test-size changes that.")
    assert not (tmp_path / "out").exists()


def test_a_test_split_of_two_samples_is_not_told_to_shrink():
    from qiime2.plugins import aam

    def call():
        return aam.pipelines.regress_samples(
            table=_examples.table_factory(), metadata=_column(AGES, "age", numeric=True),
            groups=_column(BIG_GROUP, "subject"), **TINY)
    artifact_api(call, "The test split holds 2 samples, the fewest it can, so a lower "
                       "test_size would not help.")


# -- 2. normalise_by a column of one category --------------------------------------------

def test_normalise_by_one_category_is_refused():
    from qiime2.plugins import aam
    artifact_api(lambda: aam.methods.fit_regressor(
        table=_examples.table_factory(), metadata=_column(AGES, "age", numeric=True),
        normalise_by=_column(["x"] * 16, "site"), **TINY),
        "normalise_by (column 'site') has one category ('x') for every training sample, "
        "so normalising per category would be the global normalisation")


def test_q2cli_refuses_normalise_by_one_category(tmp_path):
    table = tmp_path / "table.qza"
    _examples.table_factory().save(str(table))
    metadata = _tsv(tmp_path, "m.tsv", age=AGES, site=["x"] * 16)
    code, output = qiime("aam", "fit-regressor", "--i-table", table,
                         "--m-metadata-file", metadata, "--m-metadata-column", "age",
                         "--m-normalise-by-file", metadata,
                         "--m-normalise-by-column", "site", "--p-preset", "tiny",
                         "--p-epochs", 1, "--p-n-threads", 1, "--p-ensemble-size", 1,
                         "--o-model", tmp_path / "model.qza")
    refused(output, code, "--m-normalise-by-column site has one category ('x') for every "
                          "training sample")
    assert not (tmp_path / "model.qza").exists()


def test_samples_without_a_category_are_not_said_as_an_unseen_one():
    scaler = CategoryScaler.fit(np.array([1.0, 2.0, 5.0, 7.0, 3.0]),
                                np.array(["a", "a", "b", "b", None], dtype=object),
                                "zscore", "site")
    messages = []
    scaler.parameters(np.array(["a", None, None, "new"], dtype=object), messages.append)
    assert any("(new)" in m for m in messages), messages
    assert "2 sample(s) have no value in 'site'; they use the global target " \
           "normalisation." in messages, messages
    assert not any("None" in m for m in messages), messages
