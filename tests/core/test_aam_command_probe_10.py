"""Probe 10 (2026-12-01), the `aam` command: an alpha-diversity or taxonomy
file with a repeated id (one row won silently), --parent with fusion 'none'
(the hierarchy ignored), a fit into a pretrain run's folder (advised
--resume, which was then refused)."""
import pandas as pd
import pytest

from tests.conftest import write_example_files
from tests.core.test_aam_command_probe_5 import RUN, aam
from tests.core.test_aam_command_probe_6 import refused

PRETRAIN = ["--preset", "tiny", "--epochs", 1, "--batch-size", 8, "--n-threads", 1,
            "--device", "cpu"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe-10-aam")
    write_example_files(folder, 24)
    return folder


def test_a_repeated_sample_in_the_alpha_diversity_is_refused(files, tmp_path, capsys):
    ids = pd.read_csv(files / "md.tsv", sep="\t", index_col=0).index
    rows = [f"{i}\t{4 + k / 10}" for k, i in enumerate(ids)] + [f"{ids[0]}\t99"]
    (tmp_path / "alpha.tsv").write_text("id\tshannon\n" + "\n".join(rows) + "\n")
    code, output = aam(capsys, "pretrain", "--table", files / "table.biom",
                       "--alpha-diversity", tmp_path / "alpha.tsv", "--output-dir",
                       tmp_path / "run", *PRETRAIN)
    refused(output, code, f"has repeated ids (['{ids[0]}'] on more than one row)")


def test_a_repeated_feature_in_the_taxonomy_is_refused(files, tmp_path, capsys):
    import biom
    feature = biom.load_table(str(files / "table.biom")).ids("observation")[0]
    (tmp_path / "taxonomy.tsv").write_text(
        "Feature ID\tTaxon\n"
        f"{feature}\td__Bacteria; p__A\n{feature}\td__Bacteria; p__B\n")
    code, output = aam(capsys, "pretrain", "--table", files / "table.biom",
                       "--taxonomy", tmp_path / "taxonomy.tsv", "--output-dir",
                       tmp_path / "run", *PRETRAIN)
    refused(output, code, "The taxonomy")
    assert "has repeated ids" in output


def test_parent_with_fusion_none_is_refused(files, tmp_path, capsys):
    metadata = pd.read_csv(files / "md.tsv", sep="\t", index_col=0, dtype=str)
    metadata["region"] = ["north" if int(s) < 5000 else "south" for s in metadata["study"]]
    metadata.to_csv(tmp_path / "md.tsv", sep="\t")
    code, output = aam(capsys, "fit-regressor", "--table", files / "table.biom",
                       "--metadata", tmp_path / "md.tsv", "--target", "age",
                       "--conditioning", "region", "study", "--parent", "study:region",
                       "--fusion", "none", "--conditional-output",
                       "--output-dir", tmp_path / "run", *RUN)
    refused(output, code, "--parent adds each parent category's embedding to its "
            "child's for the fusion; --fusion none fuses nothing")


def test_a_fit_into_a_pretrain_folder_is_told_what_it_holds(files, tmp_path, capsys):
    code, output = aam(capsys, "pretrain", "--table", files / "table.biom",
                       "--output-dir", tmp_path / "run", *PRETRAIN)
    assert code == 0, output
    code, output = aam(capsys, "fit-regressor", "--table", files / "table.biom",
                       "--metadata", files / "md.tsv", "--target", "age",
                       "--output-dir", tmp_path / "run", *RUN)
    refused(output, code, f"{tmp_path / 'run'} holds a pretrain run, not fit-regressor; "
            "choose another --output-dir")
    assert "pass --resume" not in output
