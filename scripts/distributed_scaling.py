"""Samples/s of pretraining steps on 1 process or under torchrun (gloo on CPU).

    python scripts/distributed_scaling.py --threads 1
    torchrun --standalone --nproc_per_node 2 scripts/distributed_scaling.py --threads 1

Pretrains the small preset on examples/oral-age-mini (UniFrac from
--distances, computed with unifrac's ssu when not given; masked nucleotides)
for a few epochs without validation and prints, per process, the wall and
CPU seconds of each epoch and the samples/s of the epochs after the first
(start-up and the first epoch's warm-up excluded). The batch is global:
--batch-size samples per optimizer step, split over the processes.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import biom

from aam_core import api
from aam_core.config import TrainConfig
from aam_core.data.distances import read_distances
from aam_core.data.batching import batch_rows
from aam_core.train import loop
from aam_core.train.distributed import Runtime, init_from_environment, shutdown

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "oral-age-mini"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--distances", help="HDF5/TSV UniFrac of the example table")
    args = parser.parse_args()
    marks = []
    original = loop.format_epoch

    def timed_format(record, epochs):  # called on every process at each epoch end
        marks.append((time.perf_counter(), time.process_time()))
        return original(record, epochs)
    loop.format_epoch = timed_format

    dist = init_from_environment("ddp", "cpu")
    table = biom.load_table(str(EXAMPLE / "table.biom"))
    distances = read_distances(args.distances or unifrac(dist))
    train = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, seed=1,
                        validation_fraction=0.0, n_threads=args.threads, device="cpu")
    per_epoch = sum(map(len, batch_rows(table.shape[1], args.batch_size, None,
                                        drop_last=True)))
    start = (time.perf_counter(), time.process_time())
    with Runtime(dist).active():
        api.pretrain(table, distances=distances, model=args.preset, train=train,
                     log=lambda message: None)
    wall = [b[0] - a[0] for a, b in zip([start] + marks, marks)]
    cpu = [b[1] - a[1] for a, b in zip([start] + marks, marks)]
    print(json.dumps({
        "processes": dist.world_size, "rank": dist.rank, "threads": args.threads,
        "preset": args.preset, "global_batch": args.batch_size,
        "epoch_wall_s": [round(w, 2) for w in wall], "epoch_cpu_s": [round(c, 2) for c in cpu],
        "samples_per_s": round(per_epoch / statistics.median(wall[1:]), 1)}), flush=True)
    shutdown(dist)


def unifrac(dist) -> str:
    """Unweighted UniFrac of the example table via unifrac's ssu (every process
    computes its own copy: it takes a fraction of a second)."""
    out = Path(tempfile.gettempdir()) / f"aam-scaling-unifrac-{dist.rank}.h5"
    subprocess.run(["ssu", "-i", str(EXAMPLE / "table.biom"), "-t", str(EXAMPLE / "tree.nwk"),
                    "-m", "unweighted", "-o", str(out), "--format", "hdf5", "--pcoa", "0"],
                   check=True, capture_output=True)
    return str(out)


if __name__ == "__main__":
    sys.exit(main())
