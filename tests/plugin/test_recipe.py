"""recipe/meta.yaml renders, pins QIIME 2 to one epoch, and names every
runtime dependency: those of setup.py and those the code imports."""
import ast
import importlib.util
import re
import sys
import sysconfig
from pathlib import Path

import jinja2
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
EPOCH = '2024.10'
# The distribution's variants (its conda_build_config.yaml) that the official
# recipes pin their scientific stack to: conda package -> variant name.
PINNED_TO_VARIANT = {'numpy': 'numpy', 'pandas': 'pandas',
                     'scikit-bio': 'scikit_bio', 'biom-format': 'biom_format'}
VARIANTS = {'numpy': '1.26', 'pandas': '2.2', 'scikit_bio': '0.6',
            'biom_format': '2.1'}
# import name -> conda package, for everything aam_core and q2_aam import
CONDA_NAME = {'torch': 'pytorch', 'numpy': 'numpy', 'pandas': 'pandas',
              'scipy': 'scipy', 'skbio': 'scikit-bio', 'biom': 'biom-format',
              'h5py': 'h5py',
              'matplotlib': 'matplotlib', 'qiime2': 'qiime2',
              'q2_types': 'q2-types', 'q2templates': 'q2templates',
              'jinja2': 'jinja2',
              'q2_sample_classifier': 'q2-sample-classifier'}
# optional features (setup.py's extras_require, imported only when used):
# import name -> PyPI distribution; neither the recipe nor install_requires
# lists them
OPTIONAL = {'optuna': 'optuna', 'sqlalchemy': 'optuna', 'yaml': 'pyyaml',
            'onnx': 'onnx', 'mlflow': 'mlflow-skinny', 'tensorboard': 'tensorboard'}
# PyPI distribution -> conda package, where they differ
PYPI_TO_CONDA = {'torch': 'pytorch'}
FIRST_PARTY = {'aam_core', 'q2_aam'}


def is_qiime2_package(name: str) -> bool:
    return name in ('qiime2', 'q2cli', 'q2templates') or name.startswith('q2-')


def setup_py():
    """install_requires, version, console_scripts and comments, read without
    running setup.py."""
    source = (REPO / 'setup.py').read_text()
    call = next(node for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.Call)
                and getattr(node.func, 'id', None) == 'setup')
    keywords = {k.arg: k.value for k in call.keywords}
    requires = [re.split(r'[<>=!~ ;\[]', ast.literal_eval(e))[0]
                for e in keywords['install_requires'].elts]
    entry_points = ast.literal_eval(keywords['entry_points'])
    extras = {}
    if 'extras_require' in keywords:
        extras = {key: [re.split(r'[<>=!~ ;\[]', name)[0] for name in names]
                  for key, names in ast.literal_eval(keywords['extras_require']).items()}
    return {'requires': requires, 'extras': extras,
            'version': ast.literal_eval(keywords['version']),
            'scripts': entry_points['console_scripts'],
            'comments': ' '.join(line.split('#', 1)[1] for line in
                                 source.splitlines() if '#' in line)}


@pytest.fixture(scope='module')
def recipe():
    text = (REPO / 'recipe' / 'meta.yaml').read_text()
    template = jinja2.Environment(undefined=jinja2.StrictUndefined) \
        .from_string(text)
    rendered = template.render(
        load_setup_py_data=lambda: {'version': setup_py()['version']},
        PYTHON='$PYTHON', python='3.10', qiime2_epoch=EPOCH, **VARIANTS)
    return yaml.safe_load(rendered)


def requirement(line: str):
    name, _, pin = line.partition(' ')
    return name, pin.strip()


def run_requirements(recipe) -> dict:
    return dict(requirement(line) for line in recipe['requirements']['run'])


def imported_packages() -> set:
    """Top-level third-party modules imported anywhere in the two packages
    (function-level imports included: torch, matplotlib...)."""
    found = set()
    for package in FIRST_PARTY:
        for path in (REPO / package).rglob('*.py'):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    found.update(a.name.split('.')[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    found.add(node.module.split('.')[0])
    return {name for name in found - FIRST_PARTY if not is_stdlib(name)}


def is_stdlib(name: str) -> bool:
    if hasattr(sys, 'stdlib_module_names'):  # Python 3.10+
        return name in sys.stdlib_module_names
    # older Pythons (QIIME 2 2022.11 runs on 3.8): where the module lives
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin in (None, 'built-in', 'frozen'):
        return spec is not None
    stdlib = sysconfig.get_paths()['stdlib']
    return (spec.origin.startswith(stdlib)
            and 'site-packages' not in spec.origin)


def deliberately_omitted() -> set:
    """Distributions setup.py's comments say it does not list (Debian)."""
    return set(re.findall(r'([\w-]+) is (?:deliberately )?not listed',
                          setup_py()['comments']))


def test_package_metadata(recipe):
    assert recipe['package'] == {'name': 'q2-aam',
                                 'version': setup_py()['version']}


def test_recipe_names_every_setup_py_dependency(recipe):
    run = run_requirements(recipe)
    for name in setup_py()['requires']:
        assert PYPI_TO_CONDA.get(name, name) in run, name


def test_recipe_names_every_imported_package(recipe):
    run = run_requirements(recipe)
    unknown = imported_packages() - set(CONDA_NAME) - set(OPTIONAL)
    assert not unknown, f'add {unknown} to CONDA_NAME and to the recipe'
    for module in imported_packages() - set(OPTIONAL):
        assert CONDA_NAME[module] in run, module


def test_optional_imports_are_extras_and_imported_lazily():
    """An optional package is one of setup.py's extras and is imported only
    inside the function that needs it, so the plugin loads without it."""
    extras = {name for names in setup_py()['extras'].values() for name in names}
    for module in imported_packages() & set(OPTIONAL):
        assert OPTIONAL[module] in extras, module
    for package in FIRST_PARTY:
        for path in (REPO / package).rglob('*.py'):
            for node in ast.parse(path.read_text()).body:  # module level only
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ''] if isinstance(node, ast.ImportFrom)
                         else [])
                assert not {n.split('.')[0] for n in names} & set(OPTIONAL), path


def test_setup_py_lists_the_imports_or_says_why_not():
    """The other way round: a third-party import that setup.py leaves out
    must be QIIME 2's own or be explained in a comment of setup.py."""
    requires = set(setup_py()['requires'])
    omitted = deliberately_omitted()
    assert 'biom-format' in omitted  # the Debian h5py story
    for module in imported_packages() - set(OPTIONAL):
        name = CONDA_NAME[module]
        if is_qiime2_package(name):
            continue
        pypi = {v: k for k, v in PYPI_TO_CONDA.items()}.get(name, name)
        assert pypi in requires or pypi in omitted, module


def test_recipe_has_no_stale_requirement(recipe):
    imported = {CONDA_NAME[m] for m in imported_packages() - set(OPTIONAL)}
    for name in run_requirements(recipe):
        assert name == 'python' or name in imported, name


def test_qiime2_packages_are_pinned_to_the_epoch(recipe):
    lines = (recipe['requirements']['run']
             + recipe['test'].get('requires', []))
    pinned = [requirement(line) for line in lines
              if is_qiime2_package(requirement(line)[0])]
    assert {'qiime2', 'q2-types'} <= {name for name, _ in pinned}
    for name, pin in pinned:
        assert pin == f'{EPOCH}.*', name


def test_scientific_stack_is_pinned_to_the_distribution(recipe):
    run = run_requirements(recipe)
    for name, variant in PINNED_TO_VARIANT.items():
        assert run[name] == VARIANTS[variant], name
    source = (REPO / 'recipe' / 'meta.yaml').read_text()
    for name, variant in PINNED_TO_VARIANT.items():
        assert f'- {name} {{{{ {variant} }}}}' in source, name


def test_test_section(recipe):
    test = recipe['test']
    assert {'q2_aam', 'aam_core', 'qiime2.plugins.aam'} <= set(test['imports'])
    assert any('pytest tests' in command for command in test['commands'])
    assert {'tests', 'examples', 'benchmarks'} <= set(test['source_files'])


def test_entry_point_matches_setup_py(recipe):
    def normal(points):
        return [re.sub(r'\s+', '', point) for point in points]
    assert normal(recipe['build']['entry_points']) == normal(
        setup_py()['scripts'])
