from .aam import AAM
from .ensemble import Ensemble

__all__ = ["AAM", "Ensemble"]
