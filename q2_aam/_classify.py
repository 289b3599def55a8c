"""fit-classifier and predict-classification: thin adapters over aam_core.api."""
import biom
import pandas as pd
import qiime2
import skbio

from aam_core.bundle import ModelBundle

from . import _fit_options as _fo
from ._methods import _D, _F, _T, _conditioning_view, _fit, _sequences


def fit_classifier(table: biom.Table,
                   metadata: qiime2.CategoricalMetadataColumn,
                   sequences: pd.Series = None,
                   pretrained_model: ModelBundle = None,
                   distance_matrix: skbio.DistanceMatrix = None,
                   groups: qiime2.CategoricalMetadataColumn = None,
                   conditioning: qiime2.Metadata = None,
                   preset: str = 'small',
                   epochs: int = _F.epochs,
                   batch_size: int = _F.batch_size,
                   learning_rate: float = _F.learning_rate,
                   weight_decay: float = _F.weight_decay,
                   warmup_fraction: float = _F.warmup_fraction,
                   validation_fraction: float = _F.validation_fraction,
                   patience: int = _F.patience,
                   class_weight: str = _F.class_weight,
                   loss_weights: qiime2.MetadataColumn = None,
                   hidden_layers: int = len(_fo._M.classification_hidden),
                   hidden_width: int = 0,
                   head_dropout: float = _fo._M.head_dropout,
                   selection_metric: str = _F.selection_metric,
                   freeze_encoder: bool = _F.freeze_encoder,
                   freeze_nucleotide_encoder: bool = _F.freeze_nucleotide_encoder,
                   ensemble_size: int = _F.ensemble_size,
                   mask_ratio: float = _F.mask_ratio,
                   nucleotide_weight: float = _F.nucleotide_weight,
                   unifrac_weight: float = _F.unifrac_weight,
                   fusion: str = _fo._C.fusion,
                   conditional_output: bool = _fo._C.output_scaling,
                   hierarchical: bool = False,
                   unknown_rate: float = _fo._C.unknown_rate,
                   find_learning_rate: bool = _F.find_learning_rate,
                   scheduler: str = _F.scheduler,
                   lr_cycles: int = _F.lr_cycles,
                   plateau_patience: int = _F.plateau_patience,
                   accumulation_steps: int = _F.accumulation_steps,
                   precision: str = _F.precision,
                   compile: bool = _F.compile,
                   gradient_checkpointing: bool = _F.gradient_checkpointing,
                   auto_batch_size: bool = _F.auto_batch_size,
                   abundance_weight: float = _F.abundance_weight,
                   abundance_mask_ratio: float = _F.abundance_mask_ratio,
                   rarefaction_depth: int = _D.rarefaction_depth,
                   asv_dropout: float = _D.asv_dropout,
                   max_asvs: int = _D.max_asvs,
                   max_length: int = _D.max_length,
                   truncate: bool = _D.truncate,
                   missing_samples: str = 'error',
                   random_state: int = _F.seed,
                   device: str = _F.device,
                   n_threads: int = _F.n_threads,
                   n_devices: int = 1) -> ModelBundle:
    from aam_core import api
    return _fit('classification', api.fit_classifier, dict(locals()))


def predict_classification(table: biom.Table,
                           model: ModelBundle,
                           sequences: pd.Series = None,
                           conditioning: qiime2.Metadata = None,
                           batch_size: int = 64,
                           device: str = _T.device,
                           n_threads: int = _T.n_threads) -> (pd.Series,
                                                             pd.DataFrame):
    from aam_core import api
    # q2-sample-classifier's views: a Series named 'prediction' and a
    # DataFrame of probabilities with one column per class
    return api.predict_classification(
        model, table, _sequences(sequences), batch_size=batch_size,
        device=device, n_threads=n_threads,
        conditioning=_conditioning_view(conditioning))
