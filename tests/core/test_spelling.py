"""spelling: messages name options as the caller's interface does."""
import pytest

from aam_core.spelling import interface, speaking, spelled


@pytest.mark.parametrize("where, plain, valued, true, false", [
    ("python", "max_length", "max_length=300", "truncate=True", "truncate=False"),
    ("q2cli", "--p-max-length", "--p-max-length 300", "--p-truncate", "--p-no-truncate"),
    ("aam", "--max-length", "--max-length 300", "--truncate", "--no-truncate"),
])
def test_each_interface_names_options_its_own_way(where, plain, valued, true, false):
    with speaking(where):
        assert interface() == where
        assert spelled("max_length") == plain
        assert spelled("max_length", 300) == valued
        assert (spelled("truncate", True), spelled("truncate", False)) == (true, false)
    assert interface() == "python"  # the default, outside


def test_worker_processes_inherit_the_interface(monkeypatch):
    monkeypatch.setenv("AAM_INTERFACE", "aam")
    assert spelled("epochs", 2) == "--epochs 2"
