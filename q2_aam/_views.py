"""QIIME 2 views -> aam_core inputs and settings: the one place where the
plugin's values become what aam_core takes (aam_core never sees qiime2)."""
import biom
import qiime2

from aam_core.config import DataConfig, TrainConfig
from aam_core.errors import refuse_samples_without_metadata
from aam_core.settings import build
from aam_core.spelling import spelled


def sequences(values):
    """FeatureData[Sequence] as a pandas Series -> feature id: DNA text."""
    if values is None:
        return None
    return {str(k): str(v) for k, v in values.items()}


def frame(metadata):
    """Metadata -> a DataFrame of its columns by sample id (or None)."""
    return None if metadata is None else metadata.to_dataframe()


def settings(options: dict, job: str) -> tuple:
    """(DataConfig, TrainConfig) of an action's options: the job's
    defaults, then every option given."""
    return build(DataConfig, options, job), build(TrainConfig, options, job)


def table_samples_with_metadata(table: biom.Table, column: qiime2.MetadataColumn,
                                missing_samples: str) -> tuple:
    """(the table, the column's values for its samples); table samples that
    the metadata lacks are an error or have no value, as in
    q2-sample-classifier."""
    values = column.to_series()
    refuse_samples_without_metadata(table.ids(), values.index, missing_samples,
                                    spelled('missing_samples', 'ignore'))
    # 'ignore': they stay in the table without a value, so that training
    # drops them where it drops samples with no value, and counts them in
    # the model's record (summarize shows it)
    return table, values.reindex([str(i) for i in table.ids()])


def prediction_options(options: dict) -> dict:
    """A prediction action's options, as aam_core's predict functions take them."""
    return dict(batch_size=options['batch_size'], device=options['device'],
                n_threads=options['n_threads'],
                conditioning=frame(options.get('conditioning')))
