"""summarize renders an index.html with the curves, size, seed and device."""
import re

import pandas as pd
from qiime2.plugins import aam

from aam_core.bundle import ModelBundle
from q2_aam._visualization import curve_names, parameter_counts, summarize


def exported(visualization, tmp_path):
    visualization.export_data(str(tmp_path))
    return (tmp_path / 'index.html').read_text()


def test_regressor_summary(tmp_path, regressor):
    summary, = aam.visualizers.summarize(model=regressor)
    html = exported(summary, tmp_path)
    bundle = regressor.view(ModelBundle)
    total = sum(t.numel() for t in bundle.state_dict.values())
    assert f'{total:,}' in html
    assert re.search(r'random seed</td><td>0<', html)
    assert re.search(r'device used</td><td>cpu<', html)
    assert 'src="training_curves.png"' in html
    for name in ('training_curves.png', 'training_curves.svg',
                 'history.tsv', 'config.json'):
        assert (tmp_path / name).stat().st_size > 0, name
    # the final-metrics table holds the validation metrics of the kept epoch
    assert 'id="final-metrics"' in html
    for metric in ('mae', 'r2', 'loss'):
        assert f'<td>{metric}</td>' in html
    assert '<svg' in (tmp_path / 'training_curves.svg').read_text()[:1000]


def test_encoder_summary(tmp_path, encoder):
    summary, = aam.visualizers.summarize(model=encoder)
    html = exported(summary, tmp_path)
    assert 'AAM encoder summary' in html
    assert '<td>unifrac</td>' in html


def test_history_without_validation(tmp_path, fake_bundle):
    summarize(str(tmp_path), fake_bundle)
    html = (tmp_path / 'index.html').read_text()
    assert 'training_curves.png' in html
    total = sum(v.numel() for v in fake_bundle.state_dict.values())
    assert f'>{total:,}<' in html or f'>{total}<' in html  # parameter count


def test_helpers():
    history = pd.DataFrame({'epoch': [1], 'train_loss': [1.0],
                            'train_unifrac': [0.5], 'val_mae': [2.0],
                            'val_loss': [1.1], 'lr': [0.1]})
    assert curve_names(history) == ['loss', 'unifrac', 'mae']
    import torch
    counts = parameter_counts({'a.w': torch.zeros(2, 3), 'a.b': torch.zeros(3),
                               'head.w': torch.zeros(4)})
    assert counts.to_dict() == {'a': 9, 'head': 4}


def _row(html, key):
    """The value cell of a two-column row of the page."""
    found = re.search(rf'<td>{re.escape(key)}</td><td>([^<]*)</td>', html)
    assert found, key
    return found.group(1)


def test_ensemble_summary_shows_every_member(tmp_path, regressor):
    html = exported(aam.visualizers.summarize(model=regressor)[0], tmp_path)
    bundle = regressor.view(ModelBundle)
    training = bundle.config['training']
    members = training['ensemble_size']
    assert members > 1
    total = sum(t.numel() for t in bundle.state_dict.values())
    assert _row(html, 'parameters per member') == f'{total // members:,}'
    assert _row(html, f'parameters in total ({members} members)') == f'{total:,}'
    table = html[html.index('id="members"'):]
    table = table[:table.index('</table>')]
    rows = re.findall(r'<tr><td>(\d+)</td><td>([\d,]+)</td><td>([\d,]+)</td>', table)
    assert [int(r[0]) for r in rows] == list(range(1, members + 1))
    run = training['run']
    assert [int(r[1]) for r in rows] == run['train_samples']
    assert [int(r[2]) for r in rows] == run['validation_samples']
    assert _row(html, 'ASVs (features of the table)') == f"{run['asvs']:,}"
    assert _row(html, 'dropped samples') == '0'
    assert re.fullmatch(r'\d+ (s|min \d\d s)', _row(html, 'total training time'))
    assert "MAE, in age's units" in (tmp_path / 'training_curves.svg').read_text()
    assert f'mean of {members}' in (tmp_path / 'training_curves.svg').read_text()


def test_settings_that_did_not_apply_are_not_shown(tmp_path, regressor, encoder):
    html = exported(aam.visualizers.summarize(model=regressor)[0], tmp_path)
    settings = html[html.index('Training settings'):]
    assert '<td>huber_delta</td>' in settings  # a huber model
    for absent in ('quantiles', 'overprediction_weight', 'unifrac_weight',
                   'nucleotide_weight', 'class_weight', 'lr_cycles', 'precision',
                   'classification_hidden'):
        assert f'<td>{absent}</td>' not in html, absent
    html = exported(aam.visualizers.summarize(model=encoder)[0], tmp_path / 'e')
    settings = html[html.index('Training settings'):]
    settings = settings[:settings.index('</table>')]  # not the losses' table
    assert '<td>unifrac_weight</td>' in settings  # pretrained on distances
    for absent in ('loss', 'quantiles', 'ensemble_size'):
        assert f'<td>{absent}</td>' not in settings, absent
    assert '<td>regression_hidden</td>' not in html


def test_quantile_settings_shown_for_a_quantile_model():
    from q2_aam._model_facts import applied_training
    from tests.plugin.conftest import fake_config
    training = {'loss': 'quantile', 'quantiles': [0.1, 0.5, 0.9],
                'huber_delta': 1.0, 'unifrac_weight': 1.0, 'target_weight': 1.0}
    config = fake_config('regressor', training=training)
    history = pd.DataFrame({'epoch': [1], 'train_loss': [1.0], 'train_target': [1.0]})
    assert set(applied_training(config, history)) == {'loss', 'quantiles',
                                                      'target_weight'}


def test_a_model_without_run_facts_says_not_recorded(tmp_path, fake_bundle):
    summarize(str(tmp_path), fake_bundle)
    html = (tmp_path / 'index.html').read_text()
    for key in ('training samples', 'validation samples', 'dropped samples',
                'ASVs (features of the table)', 'total training time'):
        assert _row(html, key) == 'not recorded', key


def test_a_classifier_lists_no_regression_settings():
    """A classifier records the regressor's loss settings too (their
    defaults); its summary lists none of them."""
    from q2_aam._model_facts import applied_training
    from tests.plugin.conftest import fake_config
    training = {'loss': 'huber', 'huber_delta': 1.0, 'expert_balance': 0.01,
                'class_weight': 'balanced', 'target_weight': 1.0}
    config = fake_config('classifier', training=training)
    history = pd.DataFrame({'epoch': [1], 'train_loss': [1.0], 'train_target': [1.0]})
    assert set(applied_training(config, history)) == {'class_weight', 'target_weight'}
