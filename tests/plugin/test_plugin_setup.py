"""The plugin loads cheaply and every action is fully described."""
import subprocess
import sys
from dataclasses import fields

import pytest
from qiime2.sdk import PluginManager

from aam_core.config import PRETRAIN_TRAIN_DEFAULTS, DataConfig


@pytest.fixture(scope='module')
def plugin():
    return PluginManager().plugins['aam']


def test_plugin_loads_without_torch():
    code = ('import sys, qiime2.sdk\n'
            'pm = qiime2.sdk.PluginManager()\n'
            'import qiime2.plugins.aam\n'
            'assert "aam" in pm.plugins\n'
            'heavy = ("torch", "aam_core.api")\n'
            'loaded = [m for m in heavy if m in sys.modules]\n'
            'assert not loaded, loaded\n')
    subprocess.run([sys.executable, '-c', code], check=True)


def test_actions_are_registered(plugin):
    assert set(plugin.actions) >= {'pretrain', 'fit_regressor',
                                   'predict_regression'}


def test_every_input_parameter_and_output_is_described(plugin):
    for name, action in plugin.actions.items():
        signature = action.signature
        # visualizers cannot describe their one output (a Visualization)
        outputs = {} if action.type == 'visualizer' else signature.outputs
        for group in (signature.inputs, signature.parameters, outputs):
            for spec_name, spec in group.items():
                assert spec.has_description(), (name, spec_name)


def test_no_file_path_parameters(plugin):
    for action in plugin.actions.values():
        for name in action.signature.parameters:
            assert not any(word in name for word in ('path', 'file', 'dir'))


def test_defaults_are_aam_core_defaults(plugin):
    renamed = {'random_state': 'seed', 'loss': 'target_loss'}
    # pretraining's own defaults (the recommended recipe)
    core = {f.name: getattr(defaults, f.name)
            for defaults in (DataConfig(), PRETRAIN_TRAIN_DEFAULTS)
            for f in fields(defaults)}
    parameters = plugin.actions['pretrain'].signature.parameters
    checked = 0
    for name, spec in parameters.items():
        field = renamed.get(name, name)
        if field in core:
            assert spec.default == core[field], name
            checked += 1
    assert checked >= 15
    assert parameters['preset'].default == 'small'
