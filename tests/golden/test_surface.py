"""Guards the user-facing surface against accidental change (see surface.py)."""
import json
from pathlib import Path

from .surface import surface

GOLDEN = Path(__file__).with_name('surface.json')


def test_surface_matches_golden_file():
    expected = json.loads(GOLDEN.read_text())
    actual = json.loads(json.dumps(surface(), sort_keys=True))
    for interface in ('qiime2', 'aam'):
        assert sorted(actual[interface]) == sorted(expected[interface])
        for name in expected[interface]:
            assert actual[interface][name] == expected[interface][name], (
                f'{interface} {name} changed; if on purpose, regenerate '
                f'{GOLDEN.name} (see tests/golden/surface.py)')
