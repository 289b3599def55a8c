"""Training throughput and memory of pretraining steps.

For each configuration a fresh process (so peak memory is its own) runs
pretraining steps (UniFrac pairs + masked nucleotides, AdamW, clipping) on
the example data and reports samples/s (median of several timed runs,
start-up and warm-up excluded), peak resident memory, the FLOPs of a step
(torch's FlopCounterMode, plus the attention products it has no formula for
on CPU, counted by hand: benchmarks/flops.py) and the achieved FLOP/s of the
nucleotide encoder beside a plain fp32 matmul on the same machine.

    python -m benchmarks.throughput            # table + benchmarks/results/throughput.json
    python -m benchmarks.throughput --quick    # fewer steps, for a smoke run
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.reports import pretraining_step, unweighted_unifrac

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "oral-age-mini"
RESULTS = REPO / "benchmarks" / "results"

# The earlier PyTorch implementation of AAM, measured side by side with q2-aam
# in one window on this 2-core machine (issue 17): installed from
# its repository, full oral-age table (2,028 samples), 1 epoch on two nested
# subsets so that start-up cancels. (The figures used here before, 5.0 and
# 0.8 samples/s, were not measured side by side and flattered it.)
REFERENCE = {"small": {"samples_per_s": 3.17, "peak_gb": 7.4, "batch_size": 32},
             "base": {"samples_per_s": 0.548, "peak_gb": 9.9, "batch_size": 8}}

CONFIGS = [
    {"preset": "tiny", "batch_size": 32, "unique": True},
    {"preset": "tiny", "batch_size": 32, "unique": False},
    {"preset": "small", "batch_size": 32, "unique": True},
    {"preset": "small", "batch_size": 32, "unique": False},
    {"preset": "base", "batch_size": 8, "unique": True},
    {"preset": "base", "batch_size": 8, "unique": False},
]


def load_example():
    import biom
    table = biom.load_table(str(EXAMPLE / "table.biom"))
    return table, unweighted_unifrac(table, EXAMPLE / "tree.nwk")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def matmul_flops_per_s(size: int = 1024, repeats: int = 20) -> float:
    import torch
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size ** 3 * repeats / (time.perf_counter() - started)


def worker(spec: dict) -> dict:
    """Runs in its own process: times pretraining steps of one configuration."""
    import numpy as np
    import torch
    from aam_core import api
    from aam_core.config import DataConfig, ModelConfig, TrainConfig
    from aam_core.data.batching import BatchBuilder, batch_rows
    from aam_core.model import AAM
    from aam_core.train.objective import Objective, as_tensor
    from torch.utils.flop_counter import FlopCounterMode

    from benchmarks.flops import attention_flops, counted_attention, step_flops

    torch.manual_seed(0)
    table, distances = load_example()
    prepared = api.prepare(table, None, DataConfig(), log=lambda m: None)
    data = prepared.data  # max_length resolved from the sequences
    block = api.distance_block(distances, prepared.table.sample_ids)
    builder = BatchBuilder(prepared.table.counts, prepared.tokens, data,
                           unique_asvs=spec["unique"])
    model = AAM(ModelConfig.preset(spec["preset"], max_length=data.max_length))
    train = TrainConfig(batch_size=spec["batch_size"])
    objective = Objective(train, distances=as_tensor(block))
    optimizer = torch.optim.AdamW(model.parameters(), lr=train.learning_rate)
    generator = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    rss_before = peak_rss_mb()

    def step(rows):
        return pretraining_step(model, objective, optimizer, builder, rows, rng,
                                generator, train.grad_clip)

    batches = batch_rows(prepared.table.n_samples, spec["batch_size"], rng, drop_last=True)
    for rows in batches[:2]:
        step(rows)  # warm-up: allocator, kernels
    rates = []
    for _ in range(spec["repeats"]):
        started, samples = time.perf_counter(), 0
        for rows in batches[: spec["steps"]]:
            samples += step(rows).size
        rates.append(samples / (time.perf_counter() - started))

    # FLOPs of one training step and of the nucleotide encoder alone
    batch = builder.build(batches[0], rng)
    with FlopCounterMode(display=False) as counter:
        total, _, _ = objective(model, batch, generator)
        total.backward()
    step = step_flops(counter, model.config, batch)
    encoder = model.nucleotide_encoder
    with FlopCounterMode(display=False) as counter:
        vectors, logits = encoder(batch.tokens, True)
        (vectors.sum() + logits.sum()).backward()
    counted = counter.get_total_flops()
    # the encoder alone: its own attention, not the sample encoder's
    encoder_flops = counted + (0 if counted_attention(counter) else attention_flops(
        *batch.tokens.shape, model.config.d_model, model.config.nucleotide_layers))
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        vectors, logits = encoder(batch.tokens, True)
        (vectors.sum() + logits.sum()).backward()
        timings.append(time.perf_counter() - started)
    return {**spec,
            "samples_per_s": statistics.median(rates),
            "samples_per_s_runs": rates,
            "peak_rss_mb": peak_rss_mb(),
            "rss_before_training_mb": rss_before,
            "step_gflops_per_sample": step["total"] / batch.size / 1e9,
            "step_attention_share": step["attention_added"] / step["total"],
            "encoder_gflops_counted_by_torch": counted / 1e9,
            "unique_asvs_per_batch": int(batch.tokens.shape[0]),
            "asv_slots_per_batch": int(batch.asv_mask.sum()),
            "encoder_gflop_per_s": encoder_flops / statistics.median(timings) / 1e9,
            "torch_threads": torch.get_num_threads()}


def run_in_subprocess(spec: dict) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.throughput",
                          "--worker", json.dumps(spec)],
                         cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def markdown(results: list[dict], matmul: float) -> str:
    lines = ["| preset | batch | unique-ASV batching | samples/s (median) | peak RSS (GB) "
             "| GFLOP/sample | encoder GFLOP/s | % of matmul | vs earlier AAM |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        ref = REFERENCE.get(r["preset"])
        versus = (f"{r['samples_per_s'] / ref['samples_per_s']:.1f}x speed, "
                  f"{r['peak_rss_mb'] / 1024 / ref['peak_gb']:.2f}x memory"
                  if ref and ref["batch_size"] == r["batch_size"] else "")
        lines.append(
            f"| {r['preset']} | {r['batch_size']} | {'on' if r['unique'] else 'off'} "
            f"| {r['samples_per_s']:.1f} | {r['peak_rss_mb'] / 1024:.2f} "
            f"| {r['step_gflops_per_sample']:.2f} | {r['encoder_gflop_per_s']:.1f} "
            f"| {100 * r['encoder_gflop_per_s'] * 1e9 / matmul:.0f}% | {versus} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="few steps, one repeat")
    parser.add_argument("--presets", default="tiny,small,base")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    steps, repeats = (2, 1) if args.quick else (4, 3)
    matmul = statistics.median(matmul_flops_per_s() for _ in range(3))
    results = []
    for config in CONFIGS:
        if config["preset"] not in args.presets.split(","):
            continue
        result = run_in_subprocess({**config, "steps": steps, "repeats": repeats})
        results.append(result)
        print(f"{config}: {result['samples_per_s']:.1f} samples/s, "
              f"{result['peak_rss_mb']:.0f} MB", file=sys.stderr, flush=True)
    ratios = {}
    for preset in {r["preset"] for r in results}:
        on = [r for r in results if r["preset"] == preset and r["unique"]]
        off = [r for r in results if r["preset"] == preset and not r["unique"]]
        if on and off:
            ratios[preset] = on[0]["samples_per_s"] / off[0]["samples_per_s"]
    table = markdown(results, matmul)
    print(table)
    print(f"\nfp32 matmul 1024^3: {matmul / 1e9:.1f} GFLOP/s; unique-ASV speed-up: "
          + ", ".join(f"{p} {v:.1f}x" for p, v in sorted(ratios.items())))
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or
              platform.machine(), "cpus": len(__import__("os").sched_getaffinity(0)),
              "matmul_gflop_per_s": matmul / 1e9, "unique_speedup": ratios,
              "reference_earlier_aam": REFERENCE, "results": results}
    (RESULTS / "throughput.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "throughput.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
