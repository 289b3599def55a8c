"""feature-importance: per-ASV importance of a fitted model.

The method (gradient x input on the sample encoder's ASV tokens) and why it
was chosen are described in aam_core/importance.py.
"""
import biom
import pandas as pd
import qiime2

from aam_core.bundle import ModelBundle

from ._methods import _conditioning_view, _sequences


def feature_importance(table: biom.Table,
                       model: ModelBundle,
                       sequences: pd.Series = None,
                       conditioning: qiime2.Metadata = None,
                       batch_size: int = 64,
                       device: str = 'auto',
                       n_threads: int = 0) -> pd.DataFrame:
    from aam_core.importance import feature_importance as importance
    return importance(model, table, _sequences(sequences),
                      _conditioning_view(conditioning),
                      batch_size=batch_size, device=device,
                      n_threads=n_threads)
