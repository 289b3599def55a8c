from .aam import AAM

__all__ = ["AAM"]
