"""How many CPU threads `n_threads` 0 means: the CPUs this job may use.

A machine's core count is the wrong answer inside a batch job: Galaxy, SLURM
and cgroup/cpuset limits give a job fewer CPUs than the machine has, and
running one thread per machine core there oversubscribes the job's CPUs (and
slows it down). `available_cpus` takes the smallest of

* the physical cores among the CPUs this process may run on (its CPU
  affinity, ``os.sched_getaffinity``: what taskset, cpusets and SLURM's task
  binding allow; hyperthread siblings count once, as in torch's own default),
  or ``os.cpu_count()`` where the platform has no affinity;
* ``GALAXY_SLOTS`` (Galaxy's slots for this tool run),
* ``SLURM_CPUS_PER_TASK`` (SLURM's ``--cpus-per-task``),
* ``OMP_NUM_THREADS`` (the usual explicit setting; torchrun sets it to 1 for
  each of several processes),

ignoring variables that are unset, empty or not a positive integer.
"""
from __future__ import annotations

import os
from typing import Mapping, Optional, Sequence

JOB_VARIABLES: Sequence[str] = ("GALAXY_SLOTS", "SLURM_CPUS_PER_TASK", "OMP_NUM_THREADS")


def _physical_cores(cpus) -> Optional[int]:
    """Distinct (package, core) pairs among `cpus` (Linux sysfs), or None."""
    cores = set()
    try:
        for cpu in cpus:
            topology = f"/sys/devices/system/cpu/cpu{cpu}/topology/"
            with open(topology + "physical_package_id") as package, \
                    open(topology + "core_id") as core:
                cores.add((package.read().strip(), core.read().strip()))
    except OSError:
        return None
    return len(cores) or None


def _affinity_cpus() -> int:
    """Physical cores this process may run on (logical CPUs where the
    topology is unknown)."""
    try:
        cpus = os.sched_getaffinity(0)
    except (AttributeError, OSError):  # macOS, Windows
        return os.cpu_count() or 1
    return _physical_cores(cpus) or len(cpus)


def _positive_int(value: Optional[str]) -> Optional[int]:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def available_cpus(environ: Optional[Mapping[str, str]] = None,
                   affinity: Optional[int] = None) -> int:
    """The CPUs this job may use (at least 1). `environ` defaults to
    os.environ, `affinity` to the physical cores this process may run on."""
    environ = os.environ if environ is None else environ
    counts = [affinity if affinity is not None else _affinity_cpus()]
    for name in JOB_VARIABLES:
        number = _positive_int(environ.get(name))
        if number is not None:
            counts.append(number)
    return max(1, min(counts))


def resolve_threads(n_threads: int, environ: Optional[Mapping[str, str]] = None,
                    affinity: Optional[int] = None) -> int:
    """`n_threads` itself when positive; for 0, `available_cpus()`."""
    if n_threads < 0:
        raise ValueError(f"n_threads must be 0 (the CPUs this job may use) or "
                         f"positive, not {n_threads}")
    return n_threads if n_threads > 0 else available_cpus(environ, affinity)


def set_torch_threads(n_threads: int) -> int:
    """torch.set_num_threads(resolve_threads(n_threads)); the number set."""
    import torch
    threads = resolve_threads(n_threads)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
