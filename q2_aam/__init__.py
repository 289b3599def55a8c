"""q2-aam: the QIIME 2 plugin for AAM (Attention All Microbes).

Importing this package must stay cheap: no torch here, nor in plugin_setup.
"""
from aam_core import __version__

__all__ = ['__version__']
