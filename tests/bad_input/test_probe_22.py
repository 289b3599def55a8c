"""Probe 22 (2026-12-01): the README's recipe on a user's own data (md5
feature ids with their sequences, uneven depths, hand-made metadata,
new studies) on the three interfaces: a quoted header in the metadata
file, and nested cross-validation over few groups."""
import pandas as pd
import qiime2
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import aam, artifact_api

TINY = dict(preset="tiny", epochs=1, batch_size=8, n_threads=1, ensemble_size=1)


def _metadata_with_quoted_header(path):
    """The example metadata as a spreadsheet may save it: every header cell
    quoted, a '#q2:types' row declaring 'site' categorical and 'age' too
    (as a user does who means ages as classes)."""
    frame = _examples.sample_metadata_factory().to_dataframe()
    lines = ['"sample-id"\t"age"\t"site"\t"label"',
             "#q2:types\tcategorical\tcategorical\tcategorical"]
    lines += [f"{i}\t{r.age}\t{r.site}\t{r.label}" for i, r in frame.iterrows()]
    path.write_text("\n".join(lines) + "\n")
    return path


# -- 1. a quoted column name lost its '#q2:types' declaration (the aam command) ------

def test_a_quoted_header_keeps_its_declared_type(workspace, capsys, tmp_path):
    """The header cell '"age"' is the column age for QIIME 2 and for pandas,
    but the '#q2:types' row was matched to the raw cell, quotes and all: the
    declaration was lost and `aam fit-regressor` fitted a column the file
    declares categorical (QIIME 2 refuses it as a regressor's target),
    exit 0."""
    metadata = _metadata_with_quoted_header(tmp_path / "metadata.tsv")
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", metadata, "--target", "age", "--preset", "tiny",
                       "--epochs", 1, "--ensemble-size", 1, "--n-threads", 1,
                       "--output-dir", tmp_path / "fit")
    assert code != 0, output
    assert "Traceback" not in output, output
    assert "The target column 'age' is declared categorical (the file's '#q2:types' " \
           "row), and a regressor needs a numeric one" in output, output
    assert not (tmp_path / "fit" / "model").exists()


def test_a_quoted_header_reads_as_qiime2_reads_it(tmp_path):
    from aam_core.data.io import read_metadata
    path = _metadata_with_quoted_header(tmp_path / "metadata.tsv")
    frame = read_metadata(str(path))
    assert list(frame.columns) == ["age", "site", "label"]
    assert frame.attrs["q2:types"] == {"age": "categorical", "site": "categorical",
                                       "label": "categorical"}
    assert {c: p.type for c, p in qiime2.Metadata.load(str(path)).columns.items()} == \
        {"age": "categorical", "site": "categorical", "label": "categorical"}


# -- 2. nested cross-validation whose folds train on one group ---------------------

def _groups(labels):
    ids = _examples.sample_metadata_factory().ids
    return qiime2.Metadata(pd.DataFrame({"family": labels}, index=pd.Index(
        [str(i) for i in ids], name="id"))).get_column("family")


def _ncv(groups, cv):
    ages = _examples.sample_metadata_factory().get_column("age")
    return lambda: plugin.pipelines.regress_samples_ncv(
        table=_examples.table_factory(), metadata=ages, groups=groups, cv=cv, **TINY)


def test_ncv_over_two_groups_names_the_fold_not_a_test_split():
    """--p-cv 2 over two groups: each fold's model trains on one group, so
    its validation split failed with 'a test split, where there is one,
    holds the others ... give samples of at least two groups' from inside
    the first fold's fit (after its pretraining, where one was asked), a
    test split the action does not have, on samples that were of two
    groups."""
    groups = _groups(["a"] * 8 + ["b"] * 8)
    artifact_api(_ncv(groups, 2),
                 "Fold 1 of cv=2 is predicted by a model fitted on the other folds' 8 "
                 "samples, which cannot be split for its validation:")
    artifact_api(_ncv(groups, 2), "Give samples of more groups.")


def test_ncv_with_fewer_folds_than_groups_says_raise_cv():
    """Three groups dealt into two folds: one fold's model trains on one
    group. Raising cv to the number of groups is the fix."""
    groups = _groups(["a"] * 6 + ["b"] * 5 + ["c"] * 5)
    artifact_api(_ncv(groups, 2),
                 "Raise cv to 3 (the number of groups), so that each fold holds one "
                 "group and its model fits on the others")


def _metadata_as_r_writes_it(path):
    """R's write.table (quote = TRUE, the default) quotes every cell, the
    '#q2:types' directive's too."""
    frame = _examples.sample_metadata_factory().to_dataframe()
    lines = ['"sample-id"\t"age"\t"site"', '"#q2:types"\t"numeric"\t"categorical"']
    lines += [f'"{i}"\t"{r.age}"\t"{r.site}"' for i, r in frame.iterrows()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_quoted_types_directive_is_a_directive(workspace, capsys, tmp_path):
    """'"#q2:types"' (quoted) is QIIME 2's directive; the aam command read
    it as a sample named '#q2:types' whose age is 'numeric', and refused
    the column: 'must be numeric for a regressor, but holds e.g.
    ['numeric']', the wrong cause."""
    from aam_core.data.io import read_metadata
    metadata = _metadata_as_r_writes_it(tmp_path / "metadata.tsv")
    frame = read_metadata(str(metadata))
    assert "#q2:types" not in frame.index
    assert frame.attrs["q2:types"] == {"age": "numeric", "site": "categorical"}
    assert {c: p.type for c, p in qiime2.Metadata.load(str(metadata)).columns.items()} == \
        {"age": "numeric", "site": "categorical"}
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", metadata, "--target", "age", "--preset", "tiny",
                       "--epochs", 1, "--ensemble-size", 1, "--n-threads", 1,
                       "--output-dir", tmp_path / "fit")
    assert code == 0, output


# -- 3. truth metadata whose ids differ only by case ---------------------------------

def _predictions_and_upper_case_truth():
    ids = [str(i) for i in _examples.sample_metadata_factory().ids]
    predictions = qiime2.Artifact.import_data(
        "SampleData[RegressorPredictions]",
        pd.Series(range(len(ids)), index=pd.Index(ids, name="id"), dtype=float,
                  name="prediction"))
    truth = qiime2.Metadata(pd.DataFrame({"age": range(len(ids))}, index=pd.Index(
        [i.lower() for i in ids], name="sample-id"))).get_column("age")
    return predictions, truth


def test_summaries_say_the_ids_differ_only_by_case():
    """summarize-predictions and error-analysis listed the predicted samples
    'not in the truth metadata' without the hint fit-regressor gives for
    the same metadata: they differ only by case."""
    predictions, truth = _predictions_and_upper_case_truth()
    hint = "differ only by case or spaces (e.g. 'S00' here, 's00' there)"
    artifact_api(lambda: plugin.visualizers.summarize_predictions(
        predictions=predictions, truth=truth), hint)
    artifact_api(lambda: plugin.visualizers.error_analysis(
        predictions=predictions, truth=truth), hint)


# -- borderline, mended after: the id column under any header ------------------------

def test_the_aam_command_reads_the_id_headers_qiime2_reads(workspace, capsys, tmp_path):
    """The first column was taken as the sample ids whatever its header;
    QIIME 2 refuses a file whose first header is not an id header (often
    a file whose id column is missing, so a data column became the ids)."""
    import pytest
    from aam_core.data.io import read_metadata
    from aam_core.errors import AAMInputError
    frame = _examples.sample_metadata_factory().to_dataframe()
    for header in ("sample-id", "#SampleID", "Sample ID", "ID", "sample_name"):
        frame.rename_axis(header).to_csv(tmp_path / "ok.tsv", sep="\t")
        assert list(read_metadata(str(tmp_path / "ok.tsv")).index) == list(frame.index)
        qiime2.Metadata.load(str(tmp_path / "ok.tsv"))
    frame.rename_axis("subject").to_csv(tmp_path / "bad.tsv", sep="\t")
    with pytest.raises(Exception):
        qiime2.Metadata.load(str(tmp_path / "bad.tsv"))
    with pytest.raises(AAMInputError, match="the first column is headed 'subject', which "
                       "QIIME 2 does not read as the sample id column"):
        read_metadata(str(tmp_path / "bad.tsv"))
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", tmp_path / "bad.tsv", "--target", "age",
                       "--preset", "tiny", "--epochs", 1, "--n-threads", 1,
                       "--output-dir", tmp_path / "fit")
    assert code != 0 and "Traceback" not in output, output
    assert "under the header 'sample-id'" in output, output
