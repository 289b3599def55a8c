"""The three methods through the real `qiime` command line (q2cli)."""
import pandas as pd
import pytest
import qiime2

from tests.qiime_cli import qiime


@pytest.fixture(scope='module')
def files(tmp_path_factory, table, distances, metadata):
    folder = tmp_path_factory.mktemp('cli')
    table.save(str(folder / 'table.qza'))
    distances.save(str(folder / 'distances.qza'))
    metadata.save(str(folder / 'metadata.tsv'))
    return folder


def test_pretrain_fit_predict(files):
    tiny = ['--p-preset', 'tiny', '--p-epochs', 1, '--p-batch-size', 8]
    steps = [
        ['pretrain', '--i-table', files / 'table.qza',
         '--i-distance-matrix', files / 'distances.qza',
         '--o-model', files / 'encoder.qza'],
        ['fit-regressor', '--i-table', files / 'table.qza',
         '--i-pretrained-model', files / 'encoder.qza',
         '--m-metadata-file', files / 'metadata.tsv',
         '--m-metadata-column', 'age', '--o-model', files / 'regressor.qza'],
    ]
    for step in steps:  # the installed `qiime` itself, once
        done = qiime('aam', *step, *tiny, process=True)
        assert done.returncode == 0, done.stderr
    done = qiime('aam', 'predict-regression', '--i-table',
                 files / 'table.qza', '--i-model', files / 'regressor.qza',
                 '--o-predictions', files / 'predictions.qza')
    assert done.returncode == 0, done.stderr
    predictions = qiime2.Artifact.load(str(files / 'predictions.qza'))
    assert len(predictions.view(pd.Series)) == 16


def test_user_mistake_is_a_clear_error(files, metadata):
    frame = metadata.to_dataframe().iloc[1:]
    qiime2.Metadata(frame).save(str(files / 'partial.tsv'))
    done = qiime('aam', 'fit-regressor', '--i-table', files / 'table.qza',
                 '--m-metadata-file', files / 'partial.tsv',
                 '--m-metadata-column', 'age', '--p-preset', 'tiny',
                 '--o-model', files / 'nothing.qza')
    assert done.returncode != 0
    assert 'not in the metadata' in done.stderr
    assert 'S00' in done.stderr
    assert not (files / 'nothing.qza').exists()


def test_help_describes_parameters():
    done = qiime('aam', 'fit-regressor', '--help')
    assert done.returncode == 0, done.stderr
    assert '--p-missing-samples' in done.stdout
    assert '--i-pretrained-model' in done.stdout


def test_each_interface_is_spoken_to_in_its_own_names(files, table, metadata):
    """One process, both interfaces: q2cli's flags while q2cli runs the
    action, the Python names from the Artifact API even with q2cli loaded."""
    done = qiime('aam', 'fit-regressor', '--i-table', files / 'table.qza',
                 '--m-metadata-file', files / 'metadata.tsv', '--m-metadata-column', 'age',
                 '--p-learning-rate', 'nan', '--o-model', files / 'nan.qza')
    assert done.returncode == 1 and '--p-learning-rate must be' in done.stderr, done.stderr
    from qiime2.plugins import aam
    with pytest.raises(ValueError, match='^learning_rate must be'):
        aam.actions.fit_regressor(table=table, metadata=metadata.get_column('age'),
                                  learning_rate=float('nan'))
