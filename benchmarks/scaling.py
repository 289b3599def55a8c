"""Scaling: pretraining and prediction on tables of 1,000 to 100,000 samples.

Tables are made by resampling the real oral-age data: each sample is a copy
of a real sample (drawn with replacement), and each real ASV is split into
variants (the real sequence plus copies with 1-3 point mutations) up to
--asvs distinct ASVs in all; every read of a real ASV goes to one of its
variants at random, so samples keep their real number of ASVs and their
abundance profile while the table spreads over 20,000 sequences.

For each size, in a fresh process (so peak memory is its own):

- the distance matrix is a float32 .npy file of N x N opened memory-mapped
  the way the `aam` command opens one (aam_core.data.distances); a 100,000
  sample matrix is 40 GB, so the file is created sparse and only the blocks
  that the timed steps read are written (values: Jaccard distances of the
  source samples; a step's time does not depend on them);
- tokenisation and data preparation (api.prepare), then the small preset's
  pretraining steps (UniFrac pairs + masked nucleotides, AdamW, clipping):
  2 warm-up steps, then --steps timed steps; the epoch time is EXTRAPOLATED
  as (median step time) x (training batches per epoch), validation excluded;
- prediction with a 5-member small regressor (the default ensemble) on
  min(N, --predict-samples) samples of the table;
- peak resident memory after each stage.

Separately, the in-memory distance path (what the Artifact API takes: a
skbio DistanceMatrix, float64) is measured at 1,000 and 10,000 samples:
the matrix alone and the peak while api.distance_block turns it into the
float32 block the loop reads; its N^2 terms say where it stops on 24 GB.

    python -m benchmarks.scaling                      # 1k, 10k, 100k samples
    python -m benchmarks.scaling --sizes 1000 --steps 3   # smoke
Writes benchmarks/results/scaling.{json,md} and docs/scaling.md.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.reports import pretraining_step, write_report

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "oral-age"
RESULTS = REPO / "benchmarks" / "results"
DOCS = REPO / "docs"
GB = 2 ** 30
RAM_GB = 24


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB


# -- resampled data (pure, tested) ----------------------------------------------

def mutate(sequence: str, rng: np.random.Generator, n_mutations: int) -> str:
    letters = list(sequence)
    for position in rng.choice(len(letters), n_mutations, replace=False):
        letters[position] = rng.choice([b for b in "ACGT" if b != letters[position]])
    return "".join(letters)


def asv_variants(sequences: list[str], n_asvs: int, rng: np.random.Generator):
    """(variant sequences, variants_of: list of variant indices per real ASV):
    every real ASV is its own first variant; the others are mutated copies,
    all distinct, n_asvs in all (at least one per real ASV)."""
    n_real = len(sequences)
    per_asv = np.full(n_real, max(1, n_asvs // n_real))
    per_asv[: max(0, n_asvs - per_asv.sum())] += 1
    seen = set(sequences)
    variants, variants_of = list(sequences), []
    for i, sequence in enumerate(sequences):
        own = [i]
        while len(own) < per_asv[i]:
            candidate = mutate(sequence, rng, int(rng.integers(1, 4)))
            if candidate not in seen:
                seen.add(candidate)
                own.append(len(variants))
                variants.append(candidate)
        variants_of.append(np.array(own))
    return variants, variants_of


def resample_counts(counts, n_samples: int, variants_of, n_variants: int,
                    rng: np.random.Generator):
    """(samples x variants CSR, source sample of each row): rows are real
    samples drawn with replacement, each ASV's reads moved to one of its
    variants."""
    import scipy.sparse as sp
    source = rng.integers(0, counts.shape[0], n_samples)
    rows = counts[source].tocsr()
    n_variants_of = np.array([len(v) for v in variants_of])
    offsets = np.concatenate([[0], np.cumsum(n_variants_of)])
    flat = np.concatenate(variants_of)
    choice = (rng.random(len(rows.indices)) * n_variants_of[rows.indices]).astype(np.int64)
    indices = flat[offsets[rows.indices] + choice]
    matrix = sp.csr_matrix((rows.data, indices, rows.indptr),
                           shape=(n_samples, n_variants))
    matrix.sort_indices()
    return matrix, source


def fill_blocks(matrix, source_distances: np.ndarray, source: np.ndarray, batches) -> None:
    """Write into `matrix` (a memmap) the rows x rows block of each batch."""
    for rows in batches:
        rows = np.sort(rows)
        matrix[np.ix_(rows, rows)] = source_distances[np.ix_(source[rows], source[rows])]


def distance_memory_limit(bytes_per_element: float, ram_gb: float = RAM_GB) -> int:
    """Largest N whose N x N matrices (bytes_per_element per cell, all the
    copies together) fit in ram_gb."""
    return int(np.sqrt(ram_gb * GB / bytes_per_element))


# -- workers (each in its own process) ----------------------------------------------

def load_source(work: Path):
    """The real table (samples x ASVs CSR), its sequences, Jaccard distances."""
    import biom
    from scipy.spatial.distance import pdist, squareform
    table = biom.load_table(str(DATA / "table.biom"))
    counts = table.matrix_data.T.tocsr().astype(np.float64)
    sequences = [str(f) for f in table.ids(axis="observation")]
    cached = work / "source_distances.npy"
    if not cached.exists():
        distances = squareform(pdist(counts.toarray() > 0, "jaccard")).astype(np.float32)
        np.save(cached, distances)
    return counts, sequences, np.load(cached)


def worker_train(spec: dict) -> dict:
    import torch
    from aam_core import api
    from aam_core.config import PRETRAIN_TRAIN_DEFAULTS, DataConfig, ModelConfig
    from aam_core.pretrain import AUTO_NUCLEOTIDE_SHARE, settled_epochs
    from aam_core.data.batching import BatchBuilder, batch_rows
    from aam_core.data.distances import read_distances
    from aam_core.data.table import CountTable
    from aam_core.model import AAM
    from aam_core.train.objective import Objective, as_tensor
    from aam_core.data.split import validation_split
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    work, n = Path(spec["work"]), spec["samples"]
    rng = np.random.default_rng(0)
    out = {"samples": n, "rss_imports_gb": peak_rss_gb()}
    started = time.perf_counter()
    counts, sequences, source_distances = load_source(work)
    variants, variants_of = asv_variants(sequences, spec["asvs"], rng)
    matrix, source = resample_counts(counts, n, variants_of, len(variants), rng)
    ids = [f"s{i}" for i in range(n)]
    table = CountTable(ids, variants, matrix)
    out["table_seconds"] = time.perf_counter() - started
    out["rss_table_gb"] = peak_rss_gb()

    started = time.perf_counter()
    prepared = api.prepare(table, None, DataConfig(), log=lambda m: None)
    data = prepared.data  # max_length resolved from the sequences
    out["prepare_seconds"] = time.perf_counter() - started  # cleaning + tokenisation
    out["asvs"] = len(prepared.table.feature_ids)
    out["rss_prepared_gb"] = peak_rss_gb()

    train = PRETRAIN_TRAIN_DEFAULTS
    train_rows, _ = validation_split(n, train.validation_fraction, train.random_state)
    train = settled_epochs(train, len(train_rows), 1, lambda m: None)  # 'auto'
    batches = batch_rows(len(train_rows), train.batch_size, rng, drop_last=True)
    timed = [train_rows[b] for b in batches[: spec["steps"] + 2]]
    path, ids_path = work / f"distances_{n}.npy", work / f"distances_{n}.ids"
    started = time.perf_counter()
    memmap = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, n))
    fill_blocks(memmap, source_distances, source, timed)
    memmap.flush()
    del memmap
    ids_path.write_text("\n".join(ids) + "\n")
    out["distance_file_gb"] = os.path.getsize(path) / GB
    out["distance_file_on_disk_gb"] = os.stat(path).st_blocks * 512 / GB
    distances = read_distances(path, ids_path)  # memory-mapped, as the CLI reads it
    block = api.distance_block(distances, prepared.table.sample_ids)
    out["distance_seconds"] = time.perf_counter() - started

    builder = BatchBuilder(prepared.table.counts, prepared.tokens, data)
    model = AAM(ModelConfig.preset("small", max_length=data.max_length))
    objective = Objective(train, distances=as_tensor(block))
    optimizer = torch.optim.AdamW(model.parameters(), lr=train.learning_rate)
    generator = torch.Generator().manual_seed(0)
    step_seconds = []
    for i, rows in enumerate(timed):
        started = time.perf_counter()
        pretraining_step(model, objective, optimizer, builder, rows, rng, generator,
                         train.grad_clip)
        if i >= 2:  # after warm-up
            step_seconds.append(time.perf_counter() - started)
    step = statistics.median(step_seconds)
    out.update(step_seconds=step_seconds, batch_size=train.batch_size,
               batches_per_epoch=len(batches),
               epoch_seconds_extrapolated=step * len(batches),
               train_samples_per_s=train.batch_size / step)
    out.update(frozen_steps(model, objective, optimizer, builder, timed, rng, generator,
                            train.grad_clip))
    frozen = statistics.median(out["frozen_step_seconds"]) * len(batches)
    # the default recipe ('auto'): these epochs read every ASV
    full_epochs = math.ceil(AUTO_NUCLEOTIDE_SHARE * train.epochs)
    out.update(frozen_epoch_seconds_extrapolated=frozen,
               default_epochs=train.epochs,
               default_pretraining_seconds_extrapolated=(
                   full_epochs * step * len(batches) + out["cache_seconds"]
                   + (train.epochs - full_epochs) * frozen))
    out["rss_training_gb"] = peak_rss_gb()

    bundle = api.load(spec["bundle"])
    n_predict = min(n, spec["predict_samples"])
    started = time.perf_counter()
    predictions = api.predict(bundle, table.take_samples(np.arange(n_predict)),
                              n_threads=spec["threads"], log=lambda m: None)
    out["predict_samples"] = n_predict
    out["predict_samples_per_s"] = n_predict / (time.perf_counter() - started)
    assert len(predictions) == n_predict
    out["rss_peak_gb"] = peak_rss_gb()
    path.unlink()
    return out


def frozen_steps(model, objective, optimizer, builder, timed, rng, generator,
                 grad_clip: float) -> dict:
    """The default recipe's later epochs: the nucleotide encoder frozen after
    nucleotide_epochs, every ASV's vector computed once (timed), the same
    batches' steps then reading the cached vectors (timed after warm-up)."""
    import torch
    from aam_core.train.cache import cache_asv_vectors
    started = time.perf_counter()
    cache_asv_vectors(model, builder.tokens, torch.device("cpu"))
    out = {"cache_seconds": time.perf_counter() - started}
    objective.nucleotides_frozen = True
    seconds = []
    for i, rows in enumerate(timed):
        started = time.perf_counter()
        pretraining_step(model, objective, optimizer, builder, rows, rng, generator, grad_clip)
        if i >= 2:
            seconds.append(time.perf_counter() - started)
    return {**out, "frozen_step_seconds": seconds}


def old_distance_block(distances, sample_ids):
    """api.distance_block's in-memory branch before this benchmark (for the
    before/after memory comparison): a float32 copy of the whole matrix, then
    the indexed copy."""
    from aam_core.data.distances import matrix_positions
    index = matrix_positions(distances.ids, sample_ids, "the distance matrix")
    block = np.asarray(distances.data, dtype=np.float32)[np.ix_(index, index)]
    if not np.isfinite(block).all():
        raise ValueError("NaN")
    return block


def worker_in_memory(spec: dict) -> dict:
    """Peak memory of an skbio DistanceMatrix of N samples turned into the
    loop's float32 block (old code or api.distance_block)."""
    import skbio
    from aam_core import api
    n = spec["samples"]
    counts, _, source_distances = load_source(Path(spec["work"]))
    source = np.random.default_rng(0).integers(0, len(source_distances), n)
    ids = [f"s{i}" for i in range(n)]
    data = source_distances[np.ix_(source, source)].astype(np.float64)
    np.fill_diagonal(data, 0.0)
    matrix = skbio.DistanceMatrix(data, ids, validate=False)
    del data
    before = peak_rss_gb()
    function = old_distance_block if spec["variant"] == "before" else api.distance_block
    order = list(reversed(ids))  # the table's order differs from the matrix's
    block = function(matrix, order)
    assert block.shape == (n, n)
    return {"samples": n, "variant": spec["variant"], "rss_with_matrix_gb": before,
            "rss_peak_gb": peak_rss_gb(), "block_gb": block.nbytes / GB}


def make_bundle(work: Path, threads: int) -> str:
    """A 5-member small regressor (the default ensemble), 1 epoch on 64 real
    samples: prediction speed does not depend on how well it is trained."""
    from dataclasses import replace
    import biom
    import pandas as pd
    from aam_core import api
    from aam_core.config import FIT_TRAIN_DEFAULTS
    table = biom.load_table(str(DATA / "table.biom"))
    ids = list(table.ids())[:64]
    table = table.filter(ids, inplace=False).remove_empty(axis="observation")
    metadata = pd.read_csv(DATA / "metadata.tsv", sep="\t", index_col=0)
    train = replace(FIT_TRAIN_DEFAULTS, epochs=1, freeze_nucleotide_encoder=False,
                    n_threads=threads)
    bundle = api.fit_regressor(table, metadata.loc[ids, "age"], model="small",
                               train=train, log=lambda m: None)
    path = work / "regressor"
    api.save(bundle, path)
    return str(path)


def in_subprocess(mode: str, spec: dict) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.scaling", "--worker", mode,
                          json.dumps(spec)], cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        return {**spec, "error": out.stderr.strip().splitlines()[-1] if out.stderr else
                f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- report ------------------------------------------------------------------------

def markdown(report: dict) -> str:
    batch = report["training"][0].get("batch_size", 32)
    lines = [f"Scaling, {report['date']}, {report['machine']}; small preset, "
             f"{report['threads']} threads, batch {batch}; tables resampled from oral-age "
             f"to {report['asvs']:,} ASVs. Epoch time EXTRAPOLATED from "
             f"{report['steps']} timed steps (median) x batches per epoch, reading every "
             "ASV and with the nucleotide encoder frozen (its ASV vectors cached: timed "
             "once); the default pretraining ('auto' epochs: 8, more where 8 would be "
             "fewer than 128 steps) reads every ASV in 3/8 of them and the rest frozen; "
             "distance matrix memory-mapped (.npy).", "",
             "| samples | ASVs used | table + prepare (s) | epoch (s, extrapolated) "
             "| train samples/s | epoch, frozen (s) | caching ASV vectors (s) | default "
             "pretraining (s; epochs) | distance file (GB; on disk) | peak RSS (GB): "
             "imports / table / prepared / training / with prediction | predict "
             "samples/s (n) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["training"]:
        if "error" in r:
            lines.append(f"| {r['samples']:,} | error: {r['error']} ||||||||||")
            continue
        lines.append(
            f"| {r['samples']:,} | {r['asvs']:,} "
            f"| {r['table_seconds'] + r['prepare_seconds']:.1f} "
            f"| {r['epoch_seconds_extrapolated']:,.0f} | {r['train_samples_per_s']:.1f} "
            f"| {r.get('frozen_epoch_seconds_extrapolated', float('nan')):,.0f} "
            f"| {r.get('cache_seconds', float('nan')):.1f} "
            f"| {r.get('default_pretraining_seconds_extrapolated', float('nan')):,.0f}; "
            f"{r.get('default_epochs', 8)} "
            f"| {r['distance_file_gb']:.2f}; {r['distance_file_on_disk_gb']:.3f} "
            f"| {r['rss_imports_gb']:.2f} / {r['rss_table_gb']:.2f} / "
            f"{r['rss_prepared_gb']:.2f} / "
            f"{r['rss_training_gb']:.2f} / {r['rss_peak_gb']:.2f} "
            f"| {r['predict_samples_per_s']:.0f} ({r['predict_samples']:,}) |")
    if report.get("in_memory"):
        lines += ["", "In-memory distances (the Artifact API's skbio DistanceMatrix, "
                  "float64) turned into the loop's float32 block:", "",
                  "| samples | code | RSS with the matrix (GB) | peak (GB) | added by "
                  "the conversion (GB) | block (GB) |",
                  "|---|---|---|---|---|---|"]
        for r in report["in_memory"]:
            if "error" in r:
                lines.append(f"| {r['samples']:,} | {r['variant']} | error: {r['error']} |||")
                continue
            lines.append(f"| {r['samples']:,} | {r['variant']} "
                         f"| {r['rss_with_matrix_gb']:.2f} | {r['rss_peak_gb']:.2f} "
                         f"| {r['rss_peak_gb'] - r['rss_with_matrix_gb']:.2f} "
                         f"| {r['block_gb']:.2f} |")
    if report.get("limits"):
        lines += ["", report["limits"]]
    return "\n".join(lines) + "\n"


def limits_text(report: dict) -> str:
    before = distance_memory_limit(8 + 4 + 4)
    after = distance_memory_limit(8 + 4)
    skbio_only = distance_memory_limit(8)
    peaks = ", ".join(f"{r['samples']:,}: {r['rss_peak_gb']:.2f} GB"
                      for r in report["training"] if "rss_peak_gb" in r)
    return (f"Limits on {RAM_GB} GB: the memory-mapped path (`aam` with a .npy or "
            "HDF5 matrix) holds no N x N array, and its peak memory hardly moves with "
            f"the number of samples ({peaks}): the model, the optimizer and one "
            "batch's activations dominate; the table (sparse counts) and the tokens "
            "of 20,000 ASVs are small beside them. The in-memory path (QIIME 2 DistanceMatrix: "
            "skbio float64, 8 N^2 bytes) is the first limit: with the float32 copy of "
            "the whole matrix and the indexed copy it needed 16 N^2 bytes, at most "
            f"~{before:,} samples; building the block a band of rows at a time "
            f"(aam_core.data.distances.square_block) needs 12 N^2, ~{after:,} samples. "
            f"The skbio matrix alone stops at ~{skbio_only:,} samples, so 100,000 "
            "samples (80 GB as float64, 40 GB as float32) need the memory-mapped "
            "matrix: `aam pretrain --distances matrix.npy --distance-ids ids.txt` "
            "(or unifrac's HDF5).")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--in-memory-sizes", default="1000,10000")
    parser.add_argument("--asvs", type=int, default=20000)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--predict-samples", type=int, default=500)
    parser.add_argument("--name", default="scaling")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--docs", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    if args.worker:
        mode, spec = args.worker
        run = worker_train if mode == "train" else worker_in_memory
        print(json.dumps(run(json.loads(spec))))
        return
    work = Path(tempfile.mkdtemp(prefix="aam-scaling-"))
    try:
        load_source(work)
        common = {"work": str(work), "threads": args.threads}
        bundle = make_bundle(work, args.threads)
        training = []
        for n in map(int, args.sizes.split(",")):
            training.append(in_subprocess("train", {
                **common, "samples": n, "asvs": args.asvs, "steps": args.steps,
                "predict_samples": args.predict_samples, "bundle": bundle}))
            print(json.dumps(training[-1]), file=sys.stderr, flush=True)
        in_memory = []
        for n in (map(int, args.in_memory_sizes.split(",")) if args.in_memory_sizes else ()):
            for variant in ("before", "after"):
                in_memory.append(in_subprocess("memory", {**common, "samples": n,
                                                          "variant": variant}))
                print(json.dumps(in_memory[-1]), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": f"{platform.node()}, {platform.machine()}, "
                         f"{len(os.sched_getaffinity(0))} cores, load average "
                         f"{os.getloadavg()[0]:.1f} at the end",
              "threads": args.threads, "asvs": args.asvs, "steps": args.steps,
              "training": training, "in_memory": in_memory}
    report["limits"] = limits_text(report)
    table = markdown(report)
    write_report(report, table, args.out, args.name, args.docs, "Scaling")
    print(table)


if __name__ == "__main__":
    main()
