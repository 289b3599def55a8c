"""The `aam` command: bad FASTA, impossible options, a missing GPU, an
unwritable output: refused before work, as one line naming the option,
never a traceback. (Huge distances no longer end in a non-finite loss: the
distance loss divides them by their largest value; a non-finite loss is
refused in tests/core/test_api.py.)"""
import biom
import pytest

from .conftest import aam, refused

TINY = ["--preset", "tiny", "--batch-size", 8, "--n-threads", 1, "--epochs", 1]


def duplicate_ids(folder, dna):
    text = "".join(f">{name}\n{seq}\n" for name, seq in zip(["a", "b", "a"], dna))
    return _fasta(folder, text)


def empty_id(folder, dna):
    return _fasta(folder, f">\n{dna[0]}\n")


def sequence_before_header(folder, dna):
    return _fasta(folder, f"{dna[0]}\n>a\n{dna[1]}\n")


def _fasta(folder, text):
    (folder / "s.fasta").write_text(text)
    return ["--sequences", folder / "s.fasta"]


def output_is_a_file(folder, dna):
    (folder / "taken").write_text("")
    return ["--output-dir", folder / "taken"]


def output_under_a_file(folder, dna):
    (folder / "taken").write_text("")
    return ["--output-dir", folder / "taken" / "run"]


ROWS = {  # name: (extra arguments made in code, fragment of the expected message)
    "fasta-duplicate-ids": (duplicate_ids, "holds the id 'a' more than once"),
    "fasta-empty-id": (empty_id, "a '>' line without an id"),
    "fasta-sequence-before-header": (sequence_before_header, "is not FASTA"),
    "epochs-0": (lambda f, d: ["--epochs", 0], "argument --epochs: must be at least 1, not 0"),
    "batch-size-0": (lambda f, d: ["--batch-size", 0], "argument --batch-size: must be at least 2, not 0"),
    "learning-rate-overflows": (lambda f, d: ["--learning-rate", 1e38],
                                "argument --learning-rate: must be at most 1, not 1e+38"),
    "output-dir-is-a-file": (output_is_a_file, "is a file, not a directory"),
    "output-dir-under-a-file": (output_under_a_file, "is not writable"),
}


@pytest.mark.parametrize("case", sorted(ROWS))
def test_aam_pretrain_refuses(case, workspace, tmp_path, capsys):
    make, fragment = ROWS[case]
    table = biom.load_table(str(workspace / "table.biom"))
    dna = list(table.ids(axis="observation"))
    code, output = aam(capsys, "pretrain", "--table", workspace / "table.biom",
                       "--output-dir", tmp_path / "run", *TINY, *make(tmp_path, dna))
    refused(output, code, fragment)
    assert "epoch 1/" not in output  # found before training starts


def test_cuda_without_a_gpu_is_refused(workspace, tmp_path, capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible here")
    code, output = aam(capsys, "pretrain", "--table", workspace / "table.biom",
                       "--output-dir", tmp_path / "run", "--device", "cuda", *TINY)
    refused(output, code, "--device cuda: no CUDA GPU")


@pytest.mark.parametrize("case, fragment", [
    ("missing-folder", "does not exist"), ("a-directory", "is a directory"),
    ("cuda", "--device cuda: no CUDA GPU")])
def test_aam_predict_refuses_before_reading(case, fragment, workspace, tmp_path, capsys):
    import torch
    if case == "cuda" and torch.cuda.is_available():
        pytest.skip("a GPU is visible here")
    output = {"missing-folder": tmp_path / "no" / "p.tsv", "a-directory": tmp_path,
              "cuda": tmp_path / "p.tsv"}[case]
    extra = ["--device", "cuda"] if case == "cuda" else []
    code, text = aam(capsys, "predict", "--model", tmp_path / "none", "--table",
                     workspace / "table.biom", "--output", output, *extra)
    refused(text, code, fragment)


def _conditioned_metadata(workspace, folder):
    ids = biom.load_table(str(workspace / "table.biom")).ids()
    rows = [f"{s}\t{20 + i}\t{'ab'[i % 2]}\t{'cdef'[i % 4]}" for i, s in enumerate(ids)]
    (folder / "m.tsv").write_text("sample-id\tage\tcountry\tcity\n" + "\n".join(rows) + "\n")
    return folder / "m.tsv"


@pytest.mark.parametrize("extra, fragment", [
    (["--parent", "city"], "--parent takes CHILD:PARENT (e.g. --parent city:country), "
                           "not 'city'"),
    (["--category-weight", "a:heavy"], "--category-weight takes CATEGORY:WEIGHT"),
    (["--parent", "city:planet"], "The hierarchy city:planet (child:parent) names a column "
                                  "the model is not conditioned on"),
    (["--parent", "city:country", "--parent", "country:city"],
     "has a loop: country -> city -> country"),
    (["--parent", "city:city"], "'city' cannot be its own parent")])
def test_aam_conditioning_hierarchy_is_checked(extra, fragment, workspace, tmp_path, capsys):
    code, output = aam(capsys, "fit-regressor", "--table", workspace / "table.biom",
                       "--metadata", _conditioned_metadata(workspace, tmp_path),
                       "--target", "age", "--conditioning", "country", "city",
                       "--output-dir", tmp_path / "run", *TINY, *extra)
    refused(output, code, fragment)
    assert "Traceback" not in output and "--debug" not in output
