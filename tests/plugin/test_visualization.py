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
