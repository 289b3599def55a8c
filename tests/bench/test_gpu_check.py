"""benchmarks.gpu_check without a GPU: every path skipped with exit 0, its
pure helpers by hand, and the script's own code run on CPU (dry run)."""
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from benchmarks import gpu_check
from benchmarks.flops import (attention_flops, batch_attention_flops, counted_attention,
                              step_flops)
from tests.conftest import SHARED_DATA


def fake_torch(cuda_version, available):
    return SimpleNamespace(__version__="x", version=SimpleNamespace(cuda=cuda_version),
                           cuda=SimpleNamespace(is_available=lambda: available))


def test_reasons_for_no_cuda():
    assert "no CUDA support" in gpu_check.cuda_unavailable_reason(fake_torch(None, False))
    assert "no CUDA GPU is visible" in gpu_check.cuda_unavailable_reason(
        fake_torch("12.4", False))
    assert gpu_check.cuda_unavailable_reason(fake_torch("12.4", True)) is None


def test_without_cuda_every_path_is_skipped_and_the_exit_is_0(monkeypatch, capsys,
                                                              tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main(["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    report = json.loads(out[: out.index("\n}\n") + 2])
    assert report["status"] == "skipped"
    rows = {(r["preset"], r["path"]): r["status"] for r in report["results"]}
    assert rows == {(p, path): "skipped" for p in ("small", "base")
                    for path in ("fp32", "bf16", "fp16", "compile", "batch_cap")}
    assert "| small | fp16 | skipped |" in out  # the Markdown table follows
    assert not list(tmp_path.iterdir())  # nothing measured, nothing written


def test_verdict_uses_each_paths_tolerance():
    assert gpu_check.verdict("fp32", 1e-4, 0.01) == "ok"
    assert gpu_check.verdict("fp32", 0.01, 0.01) == "differs from CPU"  # fp32 is tight
    assert gpu_check.verdict("bf16", 0.01, 0.01) == "ok"
    assert gpu_check.verdict("bf16", float("nan"), 0.01) == "differs from CPU"
    assert gpu_check.verdict("fp16", None, 0.01) == "differs from CPU"
    # the capped run trains on other batches: only its first-batch loss counts
    assert gpu_check.verdict("batch_cap", 0.01, 0.9) == "ok"


def test_utilisation_and_peaks():
    assert gpu_check.relative_difference(1.1, 1.0) == pytest.approx(0.1)
    assert gpu_check.utilisation(2e9, 100.0, 1e12) == pytest.approx(0.2)
    assert gpu_check.utilisation(2e9, 100.0, None) is None
    assert gpu_check.nominal_peak("NVIDIA H200", "bf16") == 989e12
    assert gpu_check.nominal_peak("Some GPU", "bf16") is None
    assert gpu_check.path_dtype("compile") == "bf16"
    assert gpu_check.path_dtype("fp16") == "fp16"


def test_attention_flops_by_hand():
    # 2 sequences of 3 positions, width 4, 1 layer: QK^T and AV are 2*2*9*4 = 144 each
    assert attention_flops(2, 3, 4, 1, backward=False) == 288
    assert attention_flops(2, 3, 4, 2, backward=True) == 288 * 2 * 3


def test_step_flops_adds_attention_the_cpu_counter_misses():
    from torch.utils.flop_counter import FlopCounterMode
    from aam_core.config import DataConfig, ModelConfig
    from aam_core.data.batching import BatchBuilder
    from aam_core.data.tokens import tokenize
    from aam_core.model import AAM
    from tests.conftest import random_dna
    import scipy.sparse as sp
    rng = np.random.default_rng(0)
    dna = random_dna(rng, 12, 40)
    counts = sp.csr_matrix(rng.integers(0, 5, size=(6, 12)).astype(float) + 1)
    builder = BatchBuilder(counts, tokenize(dna, max_length=150), DataConfig(
        rarefaction_depth=0))
    batch = builder.build(np.arange(6), None)
    torch.manual_seed(0)
    model = AAM(ModelConfig.preset("tiny"))
    with FlopCounterMode(display=False) as counter:
        vectors, _ = model.nucleotide_encoder(batch.tokens)
        out = model(batch)
        (out["embedding"].sum() + vectors.sum()).backward()
    flops = step_flops(counter, model.config, batch)
    assert not counted_attention(counter)  # the CPU flash kernel has no formula
    expected = batch_attention_flops(model.config, batch)
    assert flops["attention_added"] == expected > 0
    assert flops["total"] == flops["counted"] + expected


@pytest.mark.skipif(not (SHARED_DATA / "table.biom").exists(), reason="no oral-age data")
def test_cpu_dry_run_runs_the_scripts_code_and_matches_itself(tmp_path, capsys):
    code = gpu_check.main(["--cpu-dry-run", "--samples", "40", "--batch-size", "8",
                           "--epochs", "1", "--presets", "tiny", "--paths", "fp32,bf16",
                           "--out", str(tmp_path), "--name", "dry"])
    report = json.loads((tmp_path / "dry.json").read_text())
    assert code == 0 and report["status"] == "ok"
    for row in report["results"]:
        # the CPU is reproducible from the seed: the same run gives the same
        # losses, to float32 rounding (an epoch's last, smaller batch may take
        # another CPU kernel the second time: ~1e-8 apart)
        assert row["first_loss_rel_diff"] == 0 and row["epoch_loss_rel_diff"] < 1e-6
        assert row["gflop_per_sample"] > 0 and row["samples_per_s"] > 0
    assert (tmp_path / "dry.md").read_text().count("| tiny |") == 2
