"""Speed levers on CPU, each measured against its baseline (issue 17).

Training step (small preset pretraining: UniFrac pairs + masked nucleotides,
AdamW, clipping; batch 32 on examples/oral-age-mini), median of --repeats
timed runs of --steps steps after warm-up. The variants run in one process
on one model, alternating run by run, so that a change in the machine's load
hits them alike (compile's warm-up steps compile):

    fp32        the default
    bf16        torch.autocast('cpu', bfloat16) around the forward pass
    compile     torch.compile(model, dynamic=True) (TrainConfig.compile);
                compilation time reported apart

The bf16 loss of the same first batch is compared with fp32's.

Prediction: a 5-member small regressor (the default ensemble) predicting
--predict-samples resampled oral-age samples, with and without the per-member
ASV-vector cache (train/cache.cache_members), alternating, median of
--repeats runs each.

    python -m benchmarks.levers              # JSON + Markdown, benchmarks/results/levers.*
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
TRAIN_VARIANTS = ("fp32", "bf16", "compile")


def train_worker(spec: dict) -> list[dict]:
    import contextlib
    import numpy as np
    import torch
    from aam_core import api
    from aam_core.config import PRETRAIN_TRAIN_DEFAULTS, DataConfig, ModelConfig
    from aam_core.data.batching import BatchBuilder, batch_rows
    from aam_core.model import AAM
    from aam_core.train.objective import Objective, as_tensor
    from benchmarks.throughput import load_example
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    table, distances = load_example()
    prepared = api.prepare(table, None, DataConfig(), log=lambda m: None)
    data = prepared.data  # max_length resolved from the sequences
    builder = BatchBuilder(prepared.table.counts, prepared.tokens, data)
    model = AAM(ModelConfig.preset("small", max_length=data.max_length))
    train = PRETRAIN_TRAIN_DEFAULTS
    objective = Objective(train, distances=as_tensor(
        api.distance_block(distances, prepared.table.sample_ids)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=train.learning_rate)
    variants = spec["variants"]
    # the compiled module shares the model's weights: variants alternate on one model
    runners = {v: torch.compile(model, dynamic=True) if v == "compile" else model
               for v in variants}

    def cast(variant):
        return (torch.autocast("cpu", dtype=torch.bfloat16) if variant == "bf16"
                else contextlib.nullcontext())
    rng = np.random.default_rng(0)
    batches = batch_rows(prepared.table.n_samples, train.batch_size, rng, drop_last=True)
    first = builder.build(batches[0], np.random.default_rng(1))
    first_loss = {}
    for variant in variants:
        with torch.no_grad(), cast(variant):
            first_loss[variant] = float(objective(model.eval(), first,
                                                  torch.Generator().manual_seed(0))[0])
    model.train()

    def step(rows, index, variant):
        batch = builder.build(rows, np.random.default_rng(index))
        with cast(variant):
            total, _, _ = objective(runners[variant], batch,
                                    torch.Generator().manual_seed(index))
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), train.grad_clip)
        optimizer.step()

    warm_up = {}
    for variant in variants:
        started = time.perf_counter()
        for i, rows in enumerate(batches[:2]):
            step(rows, i, variant)  # warm-up (and compilation)
        warm_up[variant] = time.perf_counter() - started
    rates = {v: [] for v in variants}
    for _ in range(spec["repeats"]):
        for variant in variants:  # alternating: load changes hit every variant
            started = time.perf_counter()
            for i, rows in enumerate(batches[2: 2 + spec["steps"]]):
                step(rows, i + 2, variant)
            rates[variant].append(spec["steps"] * train.batch_size
                                  / (time.perf_counter() - started))
    return [{"variant": v, "samples_per_s": statistics.median(rates[v]), "runs": rates[v],
             "warm_up_seconds": warm_up[v], "first_batch_loss": first_loss[v]}
            for v in variants]


def predict_worker(spec: dict) -> list[dict]:
    import biom
    import numpy as np
    from aam_core import api, finetune
    from benchmarks.scaling import DATA
    from benchmarks.time_to_result import resample_table
    bundle = api.load(spec["bundle"])
    table = resample_table(biom.load_table(str(DATA / "table.biom")),
                           spec["samples"], seed=0)
    cache_members = finetune.cache_members
    seconds = {"no cache": [], "cache": []}
    means = {}
    for _ in range(spec["repeats"]):
        for variant in seconds:  # alternating
            finetune.cache_members = (cache_members if variant == "cache"
                                      else lambda *args: None)
            started = time.perf_counter()
            predictions = api.predict(bundle, table, n_threads=spec["threads"],
                                      log=lambda m: None)
            seconds[variant].append(time.perf_counter() - started)
            means[variant] = float(np.mean(predictions))
    finetune.cache_members = cache_members
    return [{"variant": v, "samples_per_s": spec["samples"] / statistics.median(s),
             "runs": [spec["samples"] / x for x in s], "prediction_mean": means[v]}
            for v, s in seconds.items()]


def in_subprocess(mode: str, spec: dict) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.levers", "--worker", mode,
                          json.dumps(spec)], cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def markdown(report: dict) -> str:
    lines = [f"Speed levers on CPU, {report['date']}, {report['machine']}; "
             f"{report['threads']} threads; medians of {report['repeats']} runs.", "",
             "| lever | samples/s (median) | runs | vs baseline | note |",
             "|---|---|---|---|---|"]
    base = next((r for r in report["training"] if r.get("variant") == "fp32"), {})
    for r in report["training"]:
        if "error" in r:
            lines.append(f"| train {r['variant']} | error: {r['error']} ||||")
            continue
        note = f"warm-up {r['warm_up_seconds']:.0f} s"
        if r["variant"] == "bf16" and base:
            diff = abs(r["first_batch_loss"] - base["first_batch_loss"]) / abs(
                base["first_batch_loss"])
            note += f"; first-batch loss {diff:.1e} from fp32"
        lines.append(f"| train {r['variant']} | {r['samples_per_s']:.1f} "
                     f"| {', '.join(f'{x:.1f}' for x in r['runs'])} "
                     f"| {r['samples_per_s'] / base['samples_per_s']:.2f}x | {note} |")
    pbase = next((r for r in report["prediction"] if r.get("variant") == "no cache"), {})
    for r in report["prediction"]:
        if "error" in r:
            lines.append(f"| predict | error: {r['error']} ||||")
            continue
        lines.append(f"| predict, {r['variant']} ({report['predict_samples']} samples) "
                     f"| {r['samples_per_s']:.1f} "
                     f"| {', '.join(f'{x:.1f}' for x in r['runs'])} "
                     f"| {r['samples_per_s'] / pbase['samples_per_s']:.2f}x "
                     f"| mean prediction {r['prediction_mean']:.4f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--variants", default=",".join(TRAIN_VARIANTS))
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--predict-samples", type=int, default=512)
    parser.add_argument("--name", default="levers")
    args = parser.parse_args(argv)
    if args.worker:
        mode, spec = args.worker
        print(json.dumps((train_worker if mode == "train" else predict_worker)(
            json.loads(spec))))
        return
    import tempfile
    from benchmarks.scaling import make_bundle
    common = {"threads": args.threads, "repeats": args.repeats}
    wanted = [v for v in args.variants.split(",") if v]
    groups = [wanted]  # one process: the variants alternate run by run
    training = []
    for group in (g for g in groups if g):
        out = in_subprocess("train", {**common, "variants": group, "steps": args.steps})
        training += out if isinstance(out, list) else [
            {**out, "variant": v} for v in group]
    for r in training:
        print(json.dumps(r), file=sys.stderr, flush=True)
    prediction = []
    if args.predict_samples:
        with tempfile.TemporaryDirectory() as work:
            bundle = make_bundle(Path(work), args.threads)
            out = in_subprocess("predict", {**common, "bundle": bundle,
                                            "samples": args.predict_samples})
            prediction = out if isinstance(out, list) else [
                {**out, "variant": v} for v in ("no cache", "cache")]
            print(json.dumps(prediction), file=sys.stderr, flush=True)
    report = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": f"{platform.node()}, {platform.machine()}, "
                         f"{len(os.sched_getaffinity(0))} cores, load average "
                         f"{os.getloadavg()[0]:.1f} at the end",
              **common, "steps": args.steps, "predict_samples": args.predict_samples,
              "training": training, "prediction": prediction}
    table = markdown(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{args.name}.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
