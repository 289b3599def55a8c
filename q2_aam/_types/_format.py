"""The model directory: config.json, model.pt, history.tsv.

Validation reuses aam_core.bundle's checks, so the plugin and the `aam` CLI
refuse the same directories with the same messages. At level=max the weights
are verified too (aam_core.verify): their sha256 against the one config.json
records, and their names and shapes against the architecture.
"""
import json

from qiime2.plugin import ValidationError, model

from aam_core.bundle import (
    CONFIG_FILE, HISTORY_FILE, WEIGHTS_FILE, ModelBundle, ModelFormatError,
    validate_config, validate_history)
from aam_core.verify import model_name

# torch.save writes a zip archive; torch's legacy format is a raw pickle.
_WEIGHTS_MAGIC = (b'PK\x03\x04', b'\x80')


class AAMConfigFormat(model.TextFileFormat):
    def _validate_(self, level):
        try:
            with self.open() as fh:
                config = json.load(fh)
            validate_config(config)
        except json.JSONDecodeError as error:
            raise ValidationError(f'{CONFIG_FILE} is not valid JSON: {error}')
        except UnicodeDecodeError as error:
            raise ValidationError(f'{CONFIG_FILE} is not text: {error}')
        except ModelFormatError as error:
            raise ValidationError(str(error))


class AAMWeightsFormat(model.BinaryFileFormat):
    def _validate_(self, level):
        with self.open() as fh:
            head = fh.read(4)
        if not head:
            raise ValidationError(f'{WEIGHTS_FILE} is empty.')
        if not head.startswith(_WEIGHTS_MAGIC):
            raise ValidationError(
                f'{WEIGHTS_FILE} is not a file written by torch.save.')


class AAMHistoryFormat(model.TextFileFormat):
    def _validate_(self, level):
        try:
            with self.open() as fh:
                validate_history(fh.read())
        except ModelFormatError as error:
            raise ValidationError(str(error))


class AAMModelDirectoryFormat(model.DirectoryFormat):
    config = model.File(CONFIG_FILE, format=AAMConfigFormat)
    weights = model.File(WEIGHTS_FILE, format=AAMWeightsFormat)
    history = model.File(HISTORY_FILE, format=AAMHistoryFormat)

    def validate(self, level='max'):
        # an `aam` run folder holds its model in model/ beside checkpoints:
        # QIIME 2 would only say config.json is missing
        nested = self.path / 'model'
        if not (self.path / CONFIG_FILE).exists() and (nested / CONFIG_FILE).is_file():
            raise ValidationError(
                f'{self.path} is the output folder of an aam run; its model is the '
                f'folder {nested}: import that one (qiime tools import --input-path '
                f'{nested} ...).')
        super().validate(level)

    def _validate_(self, level):
        if level != 'max':
            return
        try:  # the load that every action does: digest, weights, shapes
            ModelBundle.load(self.path, name=model_name(self.path),
                             notice=lambda message: None)
        except ModelFormatError as error:
            raise ValidationError(str(error))
