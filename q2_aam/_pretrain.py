"""pretrain: a self-supervised AAM encoder (any distance matrix, alpha
diversity, taxonomy, masked nucleotides). Its options are declared in aam_core
(settings.py)."""
import biom
import pandas as pd
import skbio

from aam_core.bundle import ModelBundle

from . import _views
from ._distributed import on_devices
from ._parameters import with_options


def _pretrain(table: biom.Table, sequences: pd.Series = None,
              distance_matrix: skbio.DistanceMatrix = None,
              alpha_diversity: pd.Series = None,
              taxonomy: pd.DataFrame = None,
              **options) -> ModelBundle:
    from aam_core import api
    from aam_core.pretrain import check_objectives
    data, train = _views.settings(options, 'pretrain')
    check_objectives(train, distance_matrix, alpha_diversity, taxonomy)
    return on_devices(options['n_devices'], api.pretrain, table,
                      _views.sequences(sequences), distance_matrix,
                      model=options['preset'], data=data, train=train,
                      alpha_diversity=alpha_diversity, taxonomy=taxonomy,
                      n_samples=table.shape[1])


pretrain = with_options('pretrain', _pretrain)
