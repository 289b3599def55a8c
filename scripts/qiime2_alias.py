"""The import name `qiime2` on a pip-only rachis install (a test stand-in).

scripts/bootstrap-rachis.sh copies this file to .venv-rachis as
`qiime2/__init__.py`. It is not part of q2-aam and is never installed for
users.

Why: the framework of QIIME 2 2026.4 is published on the package index as
`rachis`, and the rachis 2026.4.0 wheel holds only the package `rachis`:
`import qiime2` fails after `pip install rachis`. rachis still loads plugins
registered under the `qiime2.plugins` entry points and answers
`qiime2.plugins.<plugin>` imports (its Artifact API importer), but every
plugin written for QIIME 2 up to now, q2-aam and Debian's 2022.11 plugins
included, imports `qiime2`, `qiime2.plugin`, `qiime2.sdk`... QIIME 2's own
distribution keeps that name working with an alias package outside this
wheel; this file is the test environment's version of such an alias:
`qiime2.X` is the module `rachis.X` (the same object, imported once, so a
class is the same class under both names).
"""
import importlib
import importlib.abc
import importlib.util
import sys

import rachis

_ALIAS, _REAL = 'qiime2', 'rachis'
__version__ = rachis.__version__


def __getattr__(name):  # qiime2.Artifact, qiime2.Metadata, ... are rachis's
    return getattr(rachis, name)


def __dir__():
    return sorted(set(dir(rachis)) | set(globals()))


class _AliasLoader(importlib.abc.Loader):
    """Hands back the rachis module itself for a qiime2.* name."""

    def __init__(self, real_name):
        self.real_name = real_name
        self.real_spec = None

    def create_module(self, spec):
        module = importlib.import_module(self.real_name)
        self.real_spec = module.__spec__
        return module

    def exec_module(self, module):
        # The import system gave the module the alias's spec: the module
        # stays rachis's (its package data and relative imports resolve there).
        module.__spec__ = self.real_spec


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(_ALIAS + '.'):
            return None
        real_name = _REAL + fullname[len(_ALIAS):]
        try:
            real_spec = importlib.util.find_spec(real_name)
        except ModuleNotFoundError:
            return None
        if real_spec is None:
            return None
        return importlib.util.spec_from_loader(
            fullname, _AliasLoader(real_name), origin=real_spec.origin,
            is_package=real_spec.submodule_search_locations is not None)


if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())
