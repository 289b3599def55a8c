"""Semantic validation: the model's own `kind` must match its AAMModel variant.

Runs when an artifact is imported or produced by an action, so a regressor
directory cannot be imported as AAMModel[AAMEncoder] by mistake.
"""
import json

from qiime2.plugin import ValidationError

from aam_core.bundle import CONFIG_FILE

from ._format import AAMModelDirectoryFormat


def kind_validator(kind: str):
    def validate_kind(data: AAMModelDirectoryFormat, level):
        found = json.loads((data.path / CONFIG_FILE).read_text())['kind']
        if found != kind:
            raise ValidationError(
                f'This model directory holds a model of kind {found!r} '
                f'(config.json), not {kind!r}; import it as the AAMModel '
                'variant that matches its kind.')
    validate_kind.__name__ = f'validate_{kind}_kind'
    return validate_kind
