"""AAMModel format validation, transformers and semantic validation."""
import pandas as pd
import pytest
import qiime2
from qiime2.plugin import ValidationError
from qiime2.sdk import PluginManager

from aam_core.bundle import FORMAT_VERSION, ModelBundle
from q2_aam._types import (AAMClassifier, AAMEncoder, AAMModel,
                           AAMModelDirectoryFormat, AAMRegressor)
from q2_aam._types._transformer import (bundle_to_directory,
                                        directory_to_bundle)

from .conftest import fake_config, write_json


def validate(path):
    AAMModelDirectoryFormat(str(path), mode='r').validate()


def test_valid_directory_passes(model_dir):
    validate(model_dir)


def test_config_that_is_not_json_is_refused(model_dir):
    (model_dir / 'config.json').write_text('{"format_version": 1,')
    with pytest.raises(ValidationError, match='not valid JSON'):
        validate(model_dir)


def test_config_without_keys_is_refused(model_dir):
    write_json(model_dir / 'config.json', {'format_version': 1})
    with pytest.raises(ValidationError, match='lacks the key'):
        validate(model_dir)


def test_newer_format_version_is_refused(model_dir):
    write_json(model_dir / 'config.json',
               fake_config(format_version=FORMAT_VERSION + 1))
    with pytest.raises(ValidationError, match='newer.*Upgrade'):
        validate(model_dir)


def test_missing_weights_are_refused(model_dir):
    (model_dir / 'model.pt').unlink()
    with pytest.raises(ValidationError, match='model.pt'):
        validate(model_dir)


@pytest.mark.parametrize('content, message', [(b'', 'empty'),
                                              (b'hello', 'torch.save')])
def test_bad_weights_are_refused(model_dir, content, message):
    (model_dir / 'model.pt').write_bytes(content)
    with pytest.raises(ValidationError, match=message):
        validate(model_dir)


def test_history_without_epoch_column_is_refused(model_dir):
    (model_dir / 'history.tsv').write_text('loss\n1.0\n')
    with pytest.raises(ValidationError, match='epoch'):
        validate(model_dir)


def test_transformers_round_trip(fake_bundle):
    directory = bundle_to_directory(fake_bundle)
    directory.validate()
    back = directory_to_bundle(directory)
    assert back.config == fake_bundle.config
    assert back.state_dict.keys() == fake_bundle.state_dict.keys()
    assert all(back.state_dict[k].equal(v)
               for k, v in fake_bundle.state_dict.items())
    pd.testing.assert_frame_equal(back.history, fake_bundle.history)


def test_artifact_round_trip(fake_bundle, tmp_path):
    artifact = qiime2.Artifact.import_data('AAMModel[AAMEncoder]',
                                           fake_bundle)
    artifact.save(str(tmp_path / 'model.qza'))
    loaded = qiime2.Artifact.load(str(tmp_path / 'model.qza'))
    assert str(loaded.type) == 'AAMModel[AAMEncoder]'
    assert loaded.view(ModelBundle).config == fake_bundle.config


def test_kind_must_match_the_semantic_type(model_dir):
    message = "kind 'encoder'.*not 'regressor'"
    with pytest.raises(ValidationError, match=message):
        qiime2.Artifact.import_data('AAMModel[AAMRegressor]', str(model_dir))
    artifact = qiime2.Artifact.import_data('AAMModel[AAMEncoder]',
                                           str(model_dir))
    assert artifact.view(ModelBundle).kind == 'encoder'


def test_types_are_registered_to_the_format():
    pm = PluginManager()
    for variant in (AAMEncoder, AAMRegressor, AAMClassifier):
        record = pm.artifact_classes[str(AAMModel[variant])]
        assert record.format is AAMModelDirectoryFormat
