"""Semantic validation: the model's own `kind` must match its AAMModel variant.

Runs when an artifact is imported or produced by an action, so a regressor
directory cannot be imported as AAMModel[AAMEncoder] by mistake.
"""
import json

from qiime2.plugin import ValidationError

from aam_core.bundle import CONFIG_FILE

from ._format import AAMModelDirectoryFormat
from ._type import KIND_OF_VARIANT


def kind_validator(kind: str):
    def validate_kind(data: AAMModelDirectoryFormat, level):
        found = json.loads((data.path / CONFIG_FILE).read_text())['kind']
        if found != kind:
            variant = {k: str(v) for v, k in KIND_OF_VARIANT.items()}.get(found)
            advice = (f"import it as AAMModel[{variant}]" if variant else
                      'import it as the AAMModel variant that matches its kind')
            raise ValidationError(
                f'This model directory holds a model of kind {found!r} '
                f'(config.json), not {kind!r}; {advice}.')
    validate_kind.__name__ = f'validate_{kind}_kind'
    return validate_kind
