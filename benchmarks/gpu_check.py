"""One script that runs every CUDA path of the training loop on real data.

No GPU has run this code yet (issue 17). On one CUDA GPU, in a few minutes,
for the small and base presets, it pretrains (UniFrac pairs + masked
nucleotides) on a subset of ../shared/data/oral-age through the real loop
(aam_core.train.loop.fit) along each path:

    fp32        precision='fp32'
    bf16        bf16 autocast (precision='bf16', the CUDA default)
    fp16        fp16 autocast with the GradScaler (precision='fp16')
    compile     torch.compile of the model on CUDA (bf16)
    batch_cap   the memory-aware batch cap (train/batch_size.py): a batch
                that does not fit under a lowered per-process memory limit
                must be split into micro-batches with accumulated gradients

and checks each against the CPU: the loss of the untrained model on one
batch (same weights, same masks; tight for fp32, looser for half
precision), and the mean training loss of the first epoch against the same
epoch on the CPU. It reports samples/s (second epoch, after warm-up and
compilation) and model FLOP utilisation: FLOPs of a step (torch's counter,
plus attention counted by hand where the counter has no formula:
benchmarks/flops.py) x samples/s, over a dense matmul measured on the same
GPU in the same dtype, and over the vendor's nominal peak when the GPU is
one we know.

    python -m benchmarks.gpu_check                  # JSON + Markdown, benchmarks/results/
    python -m benchmarks.gpu_check --samples 256    # quicker
    python -m benchmarks.gpu_check --cpu-dry-run    # the same code on CPU (tiny preset)

Without CUDA it says so, marks every path skipped and exits 0.
Multi-GPU (NCCL) is not covered: it needs two GPUs (tests/core/test_distributed
covers the same code on gloo).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "oral-age"
RESULTS = REPO / "benchmarks" / "results"

PATHS = ("fp32", "bf16", "fp16", "compile", "batch_cap")
PRESETS = ("small", "base")
# training settings of each path (TrainConfig fields)
PATH_SETTINGS = {
    "fp32": {"precision": "fp32"},
    "bf16": {"precision": "bf16"},
    "fp16": {"precision": "fp16"},
    "compile": {"precision": "bf16", "compile": True},
    "batch_cap": {"precision": "bf16", "auto_batch_size": True},
}
# relative difference allowed from the CPU fp32 result: (first-batch loss of
# the untrained model, mean loss of the first training epoch)
TOLERANCE = {"fp32": (1e-3, 0.05), "bf16": (0.03, 0.08), "fp16": (0.01, 0.08),
             "compile": (0.03, 0.08), "batch_cap": (0.03, None)}
# (the capped run trains on other batches than the CPU: its epoch is not compared)
# dense peak FLOP/s from the vendors' data sheets (SXM parts, no sparsity)
NOMINAL_PEAK = {
    "H200": {"fp32": 67e12, "bf16": 989e12, "fp16": 989e12},
    "H100": {"fp32": 67e12, "bf16": 989e12, "fp16": 989e12},
    "A100": {"fp32": 19.5e12, "bf16": 312e12, "fp16": 312e12},
    "L4": {"fp32": 30.3e12, "bf16": 121e12, "fp16": 121e12},
}


# -- pure helpers (tested on CPU) ------------------------------------------------

def cuda_unavailable_reason(torch) -> str | None:
    """Why no CUDA path can run here, or None when one GPU is usable."""
    if torch.version.cuda is None:
        return f"this torch build ({torch.__version__}) has no CUDA support"
    if not torch.cuda.is_available():
        return "no CUDA GPU is visible (torch.cuda.is_available() is False)"
    return None


def skipped_results(reason: str, presets=PRESETS, paths=PATHS) -> list[dict]:
    return [{"preset": p, "path": path, "status": "skipped", "reason": reason}
            for p in presets for path in paths]


def relative_difference(value: float, reference: float) -> float:
    return abs(value - reference) / max(abs(reference), 1e-12)


def verdict(path: str, first_loss_diff: float | None, epoch_loss_diff: float | None) -> str:
    """'ok' when both differences from the CPU are within the path's tolerance."""
    limits = TOLERANCE[path]
    for diff, limit in zip((first_loss_diff, epoch_loss_diff), limits):
        if limit is None:
            continue
        if diff is None or not diff == diff or diff > limit:  # None or NaN fails too
            return "differs from CPU"
    return "ok"


def nominal_peak(device_name: str, dtype: str) -> float | None:
    for name, peaks in NOMINAL_PEAK.items():
        if name in device_name:
            return peaks.get(dtype)
    return None


def path_dtype(path: str) -> str:
    return PATH_SETTINGS[path].get("precision", "fp32")


def utilisation(flops_per_sample: float, samples_per_s: float,
                peak_flop_per_s: float | None) -> float | None:
    if not peak_flop_per_s or not samples_per_s:
        return None
    return flops_per_sample * samples_per_s / peak_flop_per_s


def markdown(report: dict) -> str:
    def fmt(value, spec):
        return "" if value is None else format(value, spec)
    lines = [f"GPU check, {report['date']}, {report['machine']}: {report['device']}", "",
             "| preset | path | status | samples/s | GFLOP/sample | MFU (measured matmul) "
             "| MFU (nominal) | first-batch loss vs CPU | epoch-1 loss vs CPU | note |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        lines.append(
            f"| {r['preset']} | {r['path']} | {r['status']} "
            f"| {fmt(r.get('samples_per_s'), '.1f')} "
            f"| {fmt(r.get('gflop_per_sample'), '.2f')} "
            f"| {fmt(r.get('mfu_measured'), '.1%')} | {fmt(r.get('mfu_nominal'), '.1%')} "
            f"| {fmt(r.get('first_loss_rel_diff'), '.2e')} "
            f"| {fmt(r.get('epoch_loss_rel_diff'), '.2e')} "
            f"| {r.get('reason') or r.get('note') or ''} |")
    return "\n".join(lines) + "\n"


def report_header(device: str) -> dict:
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.node()}, {platform.machine()}, "
                       f"{len(os.sched_getaffinity(0))} CPU cores",
            "device": device}


# -- the runs --------------------------------------------------------------------

def load_data(n_samples: int, seed: int = 0):
    """A random subset of the oral-age table and its unweighted UniFrac."""
    import biom
    import numpy as np
    from benchmarks.reports import unweighted_unifrac
    table = biom.load_table(str(DATA / "table.biom"))
    ids = list(table.ids())
    chosen = sorted(np.random.default_rng(seed).choice(
        len(ids), min(n_samples, len(ids)), replace=False))
    table = table.filter([ids[i] for i in chosen], inplace=False).remove_empty(
        axis="observation")
    return table, unweighted_unifrac(table, DATA / "tree.nwk")


class Bench:
    """The prepared data shared by every run."""

    def __init__(self, table, distances, batch_size: int, epochs: int):
        import numpy as np
        from aam_core import api
        from aam_core.config import PRETRAIN_TRAIN_DEFAULTS, DataConfig
        from aam_core.data.batching import BatchBuilder
        from aam_core.pretrain import settled_nucleotide_epochs
        from aam_core.train.objective import as_tensor
        prepared = api.prepare(table, None, DataConfig(), log=lambda m: None)
        self.data = prepared.data  # max_length resolved from the sequences
        self.tokens = prepared.tokens
        self.builder = BatchBuilder(prepared.table.counts, prepared.tokens, self.data)
        self.distances = as_tensor(api.distance_block(distances, prepared.table.sample_ids))
        n = prepared.table.n_samples
        order = np.random.default_rng(0).permutation(n)
        n_val = max(2, n // 16)
        self.train_rows, self.val_rows = np.sort(order[n_val:]), np.sort(order[:n_val])
        # nucleotide_epochs 'auto' settled as pretrain settles it (with distances)
        self.train = settled_nucleotide_epochs(
            replace(PRETRAIN_TRAIN_DEFAULTS, epochs=epochs, batch_size=batch_size,
                    patience=epochs + 1, n_threads=0, auto_batch_size=False), True)

    def training_data(self):
        from aam_core.train.loop import TrainingData
        return TrainingData(self.builder, self.train_rows, self.val_rows)

    def model(self, preset: str, device):
        import torch
        from aam_core.config import ModelConfig
        from aam_core.model import AAM
        torch.manual_seed(0)
        config = ModelConfig.preset(preset, max_length=self.data.max_length)
        return AAM(config).to(device)

    def objective(self, train, device):
        from aam_core.train.objective import Objective
        distances = self.distances
        if device.type == "cuda" and distances is not None and hasattr(distances, "to"):
            distances = distances.to(device)
        return Objective(train, distances=distances)

    def first_batch_loss(self, preset: str, train, device) -> float:
        """Loss of the untrained model on the first training batch (no update)."""
        import numpy as np
        import torch
        from aam_core.train.device import autocast
        model = self.model(preset, device).eval()  # eval: dropout off, same everywhere
        batch = self.builder.build(self.train_rows[:train.batch_size],
                                   np.random.default_rng(0), augment=False).to(device)
        with torch.no_grad(), autocast(device, train.precision):
            total, _, _ = self.objective(train, device)(
                model, batch, torch.Generator().manual_seed(0))
        return float(total)

    def flops_per_sample(self, preset: str, train, device) -> float:
        import numpy as np
        import torch
        from torch.utils.flop_counter import FlopCounterMode
        from aam_core.train.device import autocast
        from benchmarks.flops import step_flops
        model = self.model(preset, device)
        batch = self.builder.build(self.train_rows[:train.batch_size],
                                   np.random.default_rng(0)).to(device)
        with FlopCounterMode(display=False) as counter:
            with autocast(device, train.precision):
                total, _, _ = self.objective(train, device)(
                    model, batch, torch.Generator().manual_seed(0))
            total.backward()
        return step_flops(counter, model.config, batch)["total"] / batch.size

    def fit(self, preset: str, train, device, log=lambda m: None):
        """The real loop; returns (history, seconds of the last epoch)."""
        from aam_core.train.loop import fit
        model = self.model(preset, device)
        result = fit(model, self.training_data(), self.objective(train, device), train,
                     device, "loss", log)
        return result.history


def matmul_flop_per_s(torch, device, dtype: str, size: int = 8192, repeats: int = 20) -> float:
    torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    a = torch.randn(size, size, device=device, dtype=torch_dtype)
    b = torch.randn(size, size, device=device, dtype=torch_dtype)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize(device)
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    torch.cuda.synchronize(device)
    return 2 * size ** 3 * repeats / (time.perf_counter() - started)


def run_path(bench: Bench, preset: str, path: str, device, cpu: dict, peaks: dict,
             device_name: str) -> dict:
    import torch
    train = replace(bench.train, device=device.type, **PATH_SETTINGS[path])
    row = {"preset": preset, "path": path, "batch_size": train.batch_size}
    started = time.perf_counter()
    try:
        row["first_loss"] = bench.first_batch_loss(preset, train, device)
        if path == "batch_cap":
            row.update(capped_batch(bench, preset, train, device))
            train = replace(train, batch_size=row["asked_batch_size"])
        messages = []
        history = bench.fit(preset, train, device, messages.append)
        if path == "batch_cap":
            torch.cuda.set_per_process_memory_fraction(1.0, device)
            row["log"] = messages[:3]
        row["epoch_loss"] = float(history["train_loss"].iloc[0])
        seconds = float(history["seconds"].iloc[-1])
        # training samples over the whole epoch (its validation pass included)
        row["samples_per_s"] = len(bench.train_rows) / seconds
        row["gflop_per_sample"] = bench.flops_per_sample(preset, train, device) / 1e9
        dtype = path_dtype(path)
        row["mfu_measured"] = utilisation(row["gflop_per_sample"] * 1e9,
                                          row["samples_per_s"], peaks[dtype])
        row["mfu_nominal"] = utilisation(row["gflop_per_sample"] * 1e9, row["samples_per_s"],
                                         nominal_peak(device_name, dtype))
        row["peak_gpu_memory_gb"] = torch.cuda.max_memory_allocated(device) / 2 ** 30
        row["first_loss_rel_diff"] = relative_difference(row["first_loss"], cpu["first_loss"])
        row["epoch_loss_rel_diff"] = relative_difference(row["epoch_loss"], cpu["epoch_loss"])
        row["status"] = verdict(path, row["first_loss_rel_diff"], row["epoch_loss_rel_diff"])
        if path == "batch_cap" and not row.get("capped"):
            row["status"] = "cap did not split the batch"
    except Exception as error:  # a failing path is the finding: report it, run the rest
        row.update(status="error", reason=f"{type(error).__name__}: {error}"[:300])
        if path == "batch_cap":
            torch.cuda.set_per_process_memory_fraction(1.0, device)
    row["seconds"] = time.perf_counter() - started
    torch.cuda.reset_peak_memory_stats(device)
    return row


def capped_batch(bench: Bench, preset: str, train, device) -> dict:
    """Lower the process's memory limit below what a big batch needs, then
    ask the batch cap for that batch: it must split it and accumulate."""
    import torch
    from aam_core.train.batch_size import _trial_step, fit_batch_to_memory
    asked = min(256, len(bench.train_rows))
    model = bench.model(preset, device)
    objective = bench.objective(train, device)
    heaviest = bench.train_rows[:asked]
    peak = _trial_step(model, bench.training_data(), objective, heaviest, device,
                       train.precision)
    total = torch.cuda.get_device_properties(device).total_memory
    # the limit counts the allocator's cached blocks too: release them first
    import gc
    gc.collect()
    torch.cuda.empty_cache()
    limit = torch.cuda.memory_reserved(device) + peak / 3
    torch.cuda.set_per_process_memory_fraction(min(1.0, limit / total), device)
    capped = fit_batch_to_memory(model, bench.training_data(), objective,
                                 replace(train, batch_size=asked), device)
    return {"asked_batch_size": asked, "unlimited_peak_gb": peak / 2 ** 30,
            "memory_limit_gb": limit / 2 ** 30, "capped_batch_size": capped.batch_size,
            "accumulation_steps": capped.accumulation_steps,
            "capped": capped.batch_size < asked and capped.accumulation_steps > 1,
            "note": f"batch {asked} -> {capped.batch_size} x {capped.accumulation_steps}"}


def cpu_reference(bench: Bench, preset: str) -> dict:
    import torch
    cpu = torch.device("cpu")
    train = replace(bench.train, device="cpu", precision="fp32", epochs=1)
    history = bench.fit(preset, train, cpu)
    return {"first_loss": bench.first_batch_loss(preset, train, cpu),
            "epoch_loss": float(history["train_loss"].iloc[0])}


def run(args) -> dict:
    import torch
    presets = args.presets.split(",")
    paths = args.paths.split(",")
    if args.cpu_dry_run:
        reason = None
    else:
        reason = cuda_unavailable_reason(torch)
    if reason is not None:
        report = report_header("none")
        report.update(status="skipped", reason=reason,
                      results=skipped_results(reason, presets, paths))
        return report
    device = torch.device("cpu" if args.cpu_dry_run else "cuda")
    device_name = ("CPU dry run" if args.cpu_dry_run
                   else torch.cuda.get_device_name(device))
    report = report_header(device_name)
    table, distances = load_data(args.samples)
    bench = Bench(table, distances, args.batch_size, args.epochs)
    report["data"] = {"samples": len(bench.train_rows) + len(bench.val_rows),
                      "train": len(bench.train_rows), "validation": len(bench.val_rows),
                      "batch_size": args.batch_size, "epochs": args.epochs}
    if args.cpu_dry_run:
        peaks = {"fp32": None, "bf16": None, "fp16": None}
    else:
        peaks = {d: matmul_flop_per_s(torch, device, d) for d in ("fp32", "bf16", "fp16")}
    report["matmul_tflop_per_s"] = {d: None if v is None else v / 1e12
                                    for d, v in peaks.items()}
    results = []
    for preset in presets:
        started = time.perf_counter()
        cpu = cpu_reference(bench, preset)
        print(f"{preset}: CPU reference {cpu} ({time.perf_counter() - started:.0f}s)",
              file=sys.stderr, flush=True)
        for path in paths:
            if args.cpu_dry_run:
                row = dry_run_path(bench, preset, path, cpu)
            else:
                row = run_path(bench, preset, path, device, cpu, peaks, device_name)
            results.append(row)
            print(f"{preset} {path}: {row['status']} "
                  f"{row.get('samples_per_s', 0):.1f} samples/s ({row['seconds']:.0f}s)",
                  file=sys.stderr, flush=True)
    report["results"] = results
    report["status"] = ("ok" if all(r["status"] == "ok" for r in results)
                        else "some paths failed")
    return report


def dry_run_path(bench: Bench, preset: str, path: str, cpu: dict) -> dict:
    """The CPU stand-in for run_path: the same loop and comparisons, in fp32
    (autocast and the scaler are CUDA-only; the batch cap is a no-op on CPU)."""
    import torch
    device = torch.device("cpu")
    train = replace(bench.train, device="cpu", precision="fp32", epochs=1)
    started = time.perf_counter()
    first = bench.first_batch_loss(preset, train, device)
    history = bench.fit(preset, train, device)
    epoch_loss = float(history["train_loss"].iloc[0])
    diffs = (relative_difference(first, cpu["first_loss"]),
             relative_difference(epoch_loss, cpu["epoch_loss"]))
    gflop = bench.flops_per_sample(preset, train, device) / 1e9
    return {"preset": preset, "path": path, "status": verdict("fp32", *diffs),
            "note": "CPU dry run (fp32)", "first_loss": first, "epoch_loss": epoch_loss,
            "first_loss_rel_diff": diffs[0], "epoch_loss_rel_diff": diffs[1],
            "gflop_per_sample": gflop,
            "samples_per_s": len(bench.train_rows) / float(history["seconds"].iloc[-1]),
            "seconds": time.perf_counter() - started}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=512,
                        help="oral-age samples used (a random subset)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2,
                        help="epochs per path; samples/s is from the last one")
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--cpu-dry-run", action="store_true",
                        help="run the same code on CPU in fp32 (a smoke test of the "
                             "script, not of CUDA)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default="gpu_check")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    report = run(args)
    print(json.dumps(report, indent=2))
    table = markdown(report)
    print(table)
    if report["status"] == "skipped":
        print(f"No CUDA: {report['reason']}; every path skipped.", file=sys.stderr)
        return 0  # nothing to check here is not a failure
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"{args.name}.md").write_text(table)
    return 0 if report["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
