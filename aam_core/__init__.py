"""aam_core: the Attention All Microbes model in plain PyTorch (no QIIME 2)."""
__version__ = "0.1.0"
