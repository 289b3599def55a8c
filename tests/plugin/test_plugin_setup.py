"""The plugin's registrations: it loads without torch, every action is
described, stays within what q2galaxy can render, records concrete defaults
(aam_core's) in provenance, and uses only stable QIIME 2 API."""
import ast
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from qiime2.core.type import is_metadata_type
from qiime2.sdk import PluginManager

from aam_core.config import PRETRAIN_TRAIN_DEFAULTS, DataConfig

PACKAGE = Path(__file__).resolve().parents[2] / 'q2_aam'
ALL_ACTIONS = {'pretrain', 'fit_regressor', 'predict_regression',
               'fit_classifier', 'predict_classification', 'embed',
               'feature_importance', 'summarize', 'regress_samples',
               'classify_samples', 'regress_samples_ncv',
               'classify_samples_ncv', 'summarize_predictions', 'error_analysis',
               'attention_map'}
# Galaxy has no user file system: no parameter may name a path
PATH_WORDS = ('path', 'file', 'dir', 'folder', 'url')


@pytest.fixture(scope='module')
def plugin():
    return PluginManager().plugins['aam']


def parameters(plugin):
    for action_id, action in sorted(plugin.actions.items()):
        for name, spec in action.signature.parameters.items():
            yield action_id, name, spec


def members(qiime_type):
    """The primitive types a parameter may take (unions, List/Set unrolled)."""
    if qiime_type.name in ('List', 'Set'):
        for field in qiime_type.fields:
            yield from members(field)
    elif hasattr(qiime_type, 'members') and qiime_type.name not in (
            'Int', 'Float', 'Str', 'Bool') and qiime_type.members:
        for member in qiime_type.members:
            yield from members(member)
    else:
        yield qiime_type


def galaxy_problem(qiime_type):
    """Why q2galaxy could not render this parameter type well, or None."""
    if is_metadata_type(qiime_type):
        return None
    for member in members(qiime_type):
        predicate = member.predicate
        predicate_name = getattr(predicate, 'name', None)
        if member.name == 'Bool':
            continue
        if member.name == 'Str' and predicate_name != 'Choices':
            return 'a free Str (use Choices; never a file path)'
        if member.name in ('Int', 'Float') and predicate_name not in (
                'Range', 'Choices'):
            return f'{member.name} without Range or Choices'
        if member.name not in ('Int', 'Float', 'Str'):
            return f'an unsupported primitive {member!r}'
    return None


def test_plugin_loads_without_torch():
    # torch cannot be imported in this process: registering the plugin must
    # not need it. (Whether torch ends up in sys.modules is not ours to test:
    # scikit-bio 0.7 imports torch, when installed, as it is imported.)
    code = ('import importlib.abc, sys\n'
            'class NoTorch(importlib.abc.MetaPathFinder):\n'
            '    def find_spec(self, name, path=None, target=None):\n'
            '        if name.split(".")[0] == "torch":\n'
            '            raise ImportError("torch is blocked in this test")\n'
            'sys.meta_path.insert(0, NoTorch())\n'
            'import qiime2.sdk\n'
            'pm = qiime2.sdk.PluginManager()\n'
            'import qiime2.plugins.aam\n'
            'assert "aam" in pm.plugins\n'
            'heavy = ("torch", "aam_core.api")\n'
            'loaded = [m for m in heavy if m in sys.modules]\n'
            'assert not loaded, loaded\n')
    subprocess.run([sys.executable, '-c', code], check=True)


def test_all_actions_are_registered(plugin):
    assert set(plugin.actions) >= ALL_ACTIONS


def test_actions_cite_the_methods_they_run(plugin):
    def cited(action_id):
        return ' '.join(c.fields['title'] for c in plugin.actions[action_id].citations)
    assert 'Harmonic Functions' in cited('fit_regressor')  # label propagation
    assert 'Distribution-Free Predictive' in cited('predict_regression_interval')
    assert 'UniFrac' in cited('pretrain') and 'Contrastive' in cited('pretrain')
    assert 'Harmonic' not in cited('fit_classifier')


def test_cli_lists_every_action(plugin):
    from .test_q2cli import qiime
    done = qiime('aam', '--help')
    assert done.returncode == 0, done.stderr
    for action_id in plugin.actions:
        assert action_id.replace('_', '-') in done.stdout, action_id


def test_parameters_are_galaxy_primitives(plugin):
    problems = [(a, n, galaxy_problem(s.qiime_type))
                for a, n, s in parameters(plugin)
                if galaxy_problem(s.qiime_type)]
    assert not problems


def test_no_file_path_parameters(plugin):
    for action_id, name, spec in parameters(plugin):
        assert not any(word in name for word in PATH_WORDS), (action_id, name)
        # a union (an integer or 'auto') holds its choices in a member
        for member in getattr(spec.qiime_type, 'unpack_union', lambda: [spec.qiime_type])():
            choices = getattr(member.predicate, 'template', None)
            for choice in getattr(choices, 'choices', ()):
                assert '/' not in str(choice), (action_id, name, choice)


def test_everything_is_described(plugin):
    for action_id, action in plugin.actions.items():
        assert action.name and action.description, action_id
        signature = action.signature
        # a visualizer's one output cannot be described (QIIME 2 has no
        # output_descriptions for visualizers); it is always a Visualization
        outputs = {} if action.type == 'visualizer' else signature.outputs
        for group in (signature.inputs, signature.parameters, outputs):
            for name, spec in group.items():
                assert spec.has_description(), (action_id, name)
                assert spec.description.strip(), (action_id, name)


def test_primitive_parameters_have_concrete_defaults(plugin):
    """Provenance records every value: no None seeds, no hidden defaults.
    Only metadata may be optional (an absent column is not a setting)."""
    for action_id, name, spec in parameters(plugin):
        if is_metadata_type(spec.qiime_type):
            continue
        assert spec.has_default(), (action_id, name)
        assert spec.default is not None, (action_id, name)


def test_every_action_has_a_usage_example(plugin):
    for action_id, action in plugin.actions.items():
        assert action.examples, action_id


# Public QIIME 2 names present in 2022.11 and in the newest releases.
STABLE_API = {
    'qiime2': {'Artifact', 'Metadata', 'MetadataColumn',
               'NumericMetadataColumn', 'CategoricalMetadataColumn',
               'Visualization'},
    'qiime2.plugin': {'Bool', 'Categorical', 'Choices', 'Citations', 'Float',
                      'Int', 'List', 'Metadata', 'MetadataColumn', 'Numeric',
                      'Plugin', 'Range', 'SemanticType', 'Set', 'Str',
                      'TextFileFormat', 'BinaryFileFormat',
                      'DirectoryFormat', 'ValidationError', 'Visualization',
                      'model'},
    'qiime2.plugin.testing': {'TestPluginBase'},
    'qiime2.sdk': {'PluginManager'},
}
# attributes used as qiime2.<name> after `import qiime2`
STABLE_ATTRIBUTES = STABLE_API['qiime2']


def qiime2_uses(source: str):
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (
                node.module == 'qiime2' or node.module.startswith('qiime2.')):
            for alias in node.names:
                yield node.module, alias.name
        elif (isinstance(node, ast.Attribute)
              and isinstance(node.value, ast.Name)
              and node.value.id == 'qiime2'):
            yield 'qiime2', node.attr


def test_plugin_uses_only_stable_qiime2_api():
    unknown = set()
    for path in sorted(PACKAGE.rglob('*.py')):
        for module, name in qiime2_uses(path.read_text()):
            if module == 'qiime2' and name == 'plugins':
                continue  # qiime2.plugins.<plugin> in examples/tests
            if name not in STABLE_API.get(module, ()):
                unknown.add((path.name, module, name))
    assert not unknown


def test_rules_catch_what_galaxy_cannot_render():
    from qiime2.plugin import (Bool, Choices, Float, Int, List, Metadata,
                               Range, Str)
    assert galaxy_problem(Str)
    assert galaxy_problem(Int)
    assert galaxy_problem(List[Float])
    assert galaxy_problem(Int % Range(0, None) | Str)
    for fine in (Bool, Metadata, Str % Choices(['a', 'b']),
                 Int % Range(0, None), List[Float % Range(0, 1)]):
        assert galaxy_problem(fine) is None, fine


def test_defaults_are_aam_core_defaults(plugin):
    # pretraining's own defaults (the recommended recipe)
    core = {f.name: getattr(defaults, f.name)
            for defaults in (DataConfig(), PRETRAIN_TRAIN_DEFAULTS)
            for f in fields(defaults)}
    parameters = plugin.actions['pretrain'].signature.parameters
    checked = 0
    for name, spec in parameters.items():
        if name in core:  # one name in QIIME 2 and in the settings
            assert spec.default == core[name], name
            checked += 1
    assert checked >= 15
    assert parameters['preset'].default == 'small'
