"""--resume of a run asked for with 'auto' (epochs, nucleotide_epochs)
accepts the number 'auto' came to, as the same run, and refuses another."""
import pytest

from aam_core.errors import AAMInputError
from aam_core.spelling import speaking
from aam_core.train.checkpoint import Checkpoints, check_finished_settings, settled


def _run(tmp_path, **asked):
    return Checkpoints(tmp_path, settings={"epochs": "auto", "learning_rate": 0.002,
                                           **asked})


def test_the_settled_numbers_are_recorded_for_auto_only(tmp_path):
    used = {"epochs": 64, "learning_rate": 0.002}
    assert settled(_run(tmp_path), used) == {"epochs": 64}
    assert settled(_run(tmp_path, epochs=8), {"epochs": 8}) == {}


@pytest.mark.parametrize("epochs, refused", [("auto", False), (64, False), (65, True)])
def test_resume_takes_the_number_auto_came_to(tmp_path, epochs, refused):
    info = {"settings": {"epochs": "auto", "learning_rate": 0.002},
            "settled": {"epochs": 64}}
    with speaking("aam"):
        if refused:
            with pytest.raises(AAMInputError, match="--epochs 'auto' -> 65"):
                check_finished_settings(_run(tmp_path, epochs=epochs), info)
        else:
            check_finished_settings(_run(tmp_path, epochs=epochs), info)
