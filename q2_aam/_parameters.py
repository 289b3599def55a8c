"""QIIME 2 parameters, their descriptions and the actions' signatures, all
read from aam_core's option declarations (aam_core/settings.py).

QIIME 2 reads an action's parameters from its function's signature, so each
action is a small body taking its inputs and `**options`; `with_options`
gives it the full signature (every declared option of the action, with its
default and view type) that QIIME 2, q2cli and the Python API show.
"""
import dataclasses
import functools
import inspect
import linecache
import sys

import qiime2
from qiime2.plugin import (Bool, Categorical, Choices, Float, Int, List, Metadata,
                           MetadataColumn, Numeric, Range, Str)

from aam_core.errors import AAMInputError
from aam_core.option import AUTO, plain
from aam_core.settings import REQUIRED, for_action
from aam_core.spelling import speaking, spelled

_PRIMITIVES = {'int': Int, 'int_auto': Int, 'float': Float, 'bool': Bool, 'str': Str,
               'ints': Int, 'floats': Float}
_METADATA = {'metadata': Metadata,
             'column': MetadataColumn[Categorical | Numeric],
             'categorical_column': MetadataColumn[Categorical],
             'numeric_column': MetadataColumn[Numeric]}
_VIEWS = {'int': int, 'int_auto': int, 'float': float, 'bool': bool, 'str': str, 'ints': list,
          'floats': list, 'metadata': qiime2.Metadata,
          'column': qiime2.MetadataColumn,
          'categorical_column': qiime2.CategoricalMetadataColumn,
          'numeric_column': qiime2.NumericMetadataColumn}


def qiime_type(option):
    if option.kind in _METADATA:
        return _METADATA[option.kind]
    if option.kind == 'int_auto':
        return qiime_type(dataclasses.replace(option, kind='int')) | Str % Choices([AUTO])
    element = _PRIMITIVES[option.kind]
    if option.choices:
        element = element % Choices(list(option.choices))
    elif option.kind != 'bool':
        start, end = option.inclusive
        element = element % Range(option.low, option.high,
                                  inclusive_start=start, inclusive_end=end)
    return List[element] if option.kind in ('ints', 'floats') else element


def parameters(action: str) -> dict:
    return {o.name: qiime_type(o) for o in for_action(action)}


def descriptions(action: str) -> dict:
    return {o.name: o.help for o in for_action(action)}


def _default(option):
    if option.default is REQUIRED:
        return inspect.Parameter.empty
    # QIIME 2 records list parameters as lists
    return list(option.default) if isinstance(option.default, tuple) else option.default


def with_options(action: str, body):
    """`body(inputs..., **options)` as the action `action`: a function whose
    signature lists the body's own parameters and every option the action
    takes, with its default and view type."""
    own = inspect.signature(body)
    pipeline = next(iter(own.parameters)) == 'ctx'
    keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD
    inputs = [p for p in own.parameters.values() if p.kind != p.VAR_KEYWORD]
    options = [inspect.Parameter(o.name, keyword, default=_default(o),
                                 annotation=_VIEWS[o.kind])
               for o in for_action(action)]
    # Python wants every parameter without a default before those with one
    ordered = sorted(inputs + options, key=lambda p: p.default is not p.empty)
    return _function(action, body, ordered, pipeline, own.return_annotation)


def _spoken(body, action: str):
    """`body`, whose messages name options as the caller typed them: q2cli's
    flags when q2cli runs this process, the Python names otherwise. Each
    option's value is checked against its declaration first: QIIME 2's
    Range lets nan through, and the `aam` command checks the same way."""
    declared = [o for o in for_action(action) if o.kind in _PRIMITIVES]

    @functools.wraps(body)
    def spoken(**arguments):
        with speaking(_caller()):
            for option in declared:
                if option.name in arguments:  # QIIME 2's Int and Float take numpy's
                    arguments[option.name] = plain(arguments[option.name])
                value = arguments.get(option.name)
                problem = None if value is None else option.problem(value, action)
                if problem:
                    raise AAMInputError(f'{spelled(option.name)} {problem}.')
            return body(**arguments)
    return spoken


def _caller() -> str:
    """'q2cli' while a q2cli command runs the action (a click context of
    q2cli's root command is current), 'python' otherwise: the Artifact API,
    q2galaxy, or Python in a process that has q2cli loaded."""
    click = sys.modules.get('click')
    context = click.get_current_context(silent=True) if click else None
    root = type(context.find_root().command) if context else None
    return 'q2cli' if root and root.__module__.startswith('q2cli') else 'python'


def _function(name: str, body, parameters: list, pipeline: bool, returns):
    """A plain function `name(parameters...)` that calls `body`. It is
    written out and compiled (not given a __signature__) because QIIME 2
    rebuilds a pipeline's signature from the function's own arguments."""
    names = [p.name for p in parameters]
    source = (f"def {name}({', '.join(names)}):\n"
              f"    return body({', '.join(f'{n}={n}' for n in names)})\n")
    filename = f'<q2_aam action {name}>'
    # inspect.getsource (QIIME 2's Action.source) reads it back from here
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {'body': _spoken(body, name)}
    exec(compile(source, filename, 'exec'), namespace)
    function = namespace[name]
    function.__defaults__ = tuple(p.default for p in parameters
                                  if p.default is not p.empty) or None
    function.__module__, function.__doc__ = body.__module__, body.__doc__
    # a pipeline's parameters carry no view types (QIIME 2 refuses them)
    if not pipeline:
        function.__annotations__ = {p.name: p.annotation for p in parameters
                                    if p.annotation is not p.empty}
        if returns is not inspect.Signature.empty:
            function.__annotations__['return'] = returns
    return function
