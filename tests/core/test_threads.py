"""n_threads 0: the CPUs this job may use, not the machine's cores."""
import io
import os

import pytest
import torch

from aam_core.threads import available_cpus, resolve_threads, set_torch_threads


def test_without_job_variables_the_affinity_decides():
    assert available_cpus({}, affinity=16) == 16
    assert resolve_threads(0, {}, affinity=16) == 16


@pytest.mark.parametrize("name", ["GALAXY_SLOTS", "SLURM_CPUS_PER_TASK", "OMP_NUM_THREADS"])
def test_each_job_variable_caps_the_count(name):
    assert available_cpus({name: "4"}, affinity=16) == 4
    # a job variable never raises the count above the affinity
    assert available_cpus({name: "64"}, affinity=16) == 16


def test_the_smallest_limit_wins_and_nonsense_is_ignored():
    environ = {"GALAXY_SLOTS": "6", "SLURM_CPUS_PER_TASK": "3", "OMP_NUM_THREADS": ""}
    assert available_cpus(environ, affinity=8) == 3
    for junk in ("", "0", "-2", "two", " 5 x"):
        assert available_cpus({"GALAXY_SLOTS": junk}, affinity=8) == 8
    assert available_cpus({"GALAXY_SLOTS": " 5 "}, affinity=8) == 5
    assert available_cpus({}, affinity=0) == 1


def test_hyperthread_siblings_count_once(monkeypatch):
    from aam_core import threads
    topology = {0: ("0", "0"), 1: ("0", "1"), 2: ("0", "0"), 3: ("0", "1")}
    real_open = open

    def fake_open(path, *args, **kwargs):
        if path.startswith("/sys/devices/system/cpu/cpu"):
            cpu = int(path.split("/cpu/cpu")[1].split("/")[0])
            package, core = topology[cpu]
            return io.StringIO(package if path.endswith("physical_package_id") else core)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    assert threads._physical_cores({0, 1, 2, 3}) == 2
    assert threads._physical_cores({0, 2}) == 1
    monkeypatch.setattr("builtins.open", lambda *a, **k: (_ for _ in ()).throw(OSError()))
    assert threads._physical_cores({0, 1}) is None


def test_a_positive_n_threads_is_taken_as_given():
    assert resolve_threads(3, {"OMP_NUM_THREADS": "1"}, affinity=2) == 3
    with pytest.raises(ValueError, match="n_threads"):
        resolve_threads(-1)


def test_the_real_affinity_and_environment(monkeypatch):
    for name in ("GALAXY_SLOTS", "SLURM_CPUS_PER_TASK", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    if hasattr(os, "sched_getaffinity"):
        assert 1 <= available_cpus() <= len(os.sched_getaffinity(0))
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    assert resolve_threads(0) == 1
    before = torch.get_num_threads()
    try:
        assert set_torch_threads(0) == 1 and torch.get_num_threads() == 1
        assert set_torch_threads(2) == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
