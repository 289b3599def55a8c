"""The whole user-facing surface, as data: every QIIME 2 action's inputs,
parameters (type, default, description) and outputs, and every `aam` flag.

tests/golden/test_surface.py compares it with surface.json, so a change to
what users see is a deliberate edit of that file, never an accident.
Regenerate after a deliberate change with:

    .venv/bin/python -m tests.golden.surface > tests/golden/surface.json
"""
import argparse
import json
import math


def _default(value):
    """JSON-safe: NOTHING/None -> None, inf -> 'inf', tuples -> lists."""
    if isinstance(value, float) and math.isinf(value):
        return 'inf' if value > 0 else '-inf'
    if isinstance(value, (list, tuple)):
        return [_default(v) for v in value]
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return repr(value)


def _q2_spec(spec):
    out = {'type': repr(spec.qiime_type),
           'description': spec.description if spec.has_description() else None}
    if spec.has_default():
        out['default'] = _default(spec.default)
    return out


def qiime_surface() -> dict:
    from qiime2.sdk import PluginManager
    plugin = PluginManager().plugins['aam']
    actions = {}
    for action_id, action in sorted(plugin.actions.items()):
        signature = action.signature
        actions[action_id] = {
            'type': action.type,
            'name': action.name,
            'description': action.description,
            'inputs': {k: _q2_spec(v) for k, v in signature.inputs.items()},
            'parameters': {k: _q2_spec(v)
                           for k, v in signature.parameters.items()},
            'outputs': {k: _q2_spec(v) for k, v in signature.outputs.items()},
            # the order q2cli's --help and the Python signature show
            'order': list(signature.signature_order),
        }
    return actions


def _flag(action) -> dict:
    kind = getattr(action.type, '__name__', None)
    return {'dest': action.dest, 'default': _default(action.default),
            'choices': None if action.choices is None else list(action.choices),
            'nargs': action.nargs, 'type': kind,
            'required': action.required,
            'boolean': isinstance(action, argparse.BooleanOptionalAction)
            or action.const is True,
            'help': action.help}


def cli_surface() -> dict:
    from aam_core.cli import build_parser
    parser = build_parser()
    commands = {}
    sub = next(a for a in parser._actions
               if isinstance(a, argparse._SubParsersAction))
    for name, command in sorted(sub.choices.items()):
        flags = [a for a in command._actions
                 if a.option_strings and a.dest != 'help']
        commands[name] = {'flags': {' '.join(a.option_strings): _flag(a)
                                    for a in flags},
                          'order': [a.option_strings[0] for a in flags]}
    return commands


def surface() -> dict:
    return {'qiime2': qiime_surface(), 'aam': cli_surface()}


def dump() -> str:
    return json.dumps(surface(), indent=1, sort_keys=True) + '\n'


if __name__ == '__main__':
    print(dump(), end='')
