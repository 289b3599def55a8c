"""Heads, target losses, normalisation and schedules on small tensors."""
import math

import numpy as np
import pytest
import torch

from aam_core import losses
from aam_core.config import ModelConfig, TrainConfig
from aam_core.data.targets import (CategoryScaler, TargetScaler, scaler_from_dict,
                                   scaling_parameters)
from aam_core.model.heads import ClassificationHead, RegressionHead
from aam_core.train.metrics import classification_metrics
from aam_core.train.schedule import build_scheduler

TINY = ModelConfig.preset("tiny")


def _head(n_outputs=1, monotone=False, **options):
    torch.manual_seed(0)
    return RegressionHead(ModelConfig.preset("tiny", **options), n_outputs, monotone).eval()


def test_regression_head_shapes_and_residual_option():
    embedding = torch.randn(5, 32)
    plain, residual = _head(), _head(residual_head=True, regression_hidden=(16, 16))
    assert plain.finish(plain.raw(embedding)).shape == (5,)
    assert residual.finish(residual.raw(embedding)).shape == (5,)
    # residual blocks keep d_model wide; their inner width is the hidden size
    names = dict(residual.named_parameters())
    assert names["mlp.0.mlp.1.weight"].shape == (16, 32)
    assert names["mlp.2.weight"].shape == (1, 32)


def test_quantile_outputs_never_cross():
    head = _head(3, monotone=True)
    out = head.finish(torch.randn(50, 3) * 5)
    assert out.shape == (50, 3)
    assert (out[:, 1:] >= out[:, :-1]).all()


@pytest.mark.parametrize("activation", ["softplus", "exp"])
def test_activations_keep_original_units_non_negative(activation):
    head = _head(output_activation=activation)
    shift, scale = torch.full((200,), 30.0), torch.full((200,), 12.0)
    normalised = head.finish(torch.randn(200, 1) * 10, shift, scale)
    assert (normalised * scale + shift >= 0).all()
    # a raw output of 0 sits at the normalisation centre (the mean)
    at_zero = head.finish(torch.zeros(3, 1), shift[:3], scale[:3])
    torch.testing.assert_close(at_zero * 12 + 30, torch.full((3,), 30.0))


@pytest.mark.parametrize("bounds", [(0.0, 100.0), (5.0, None), (None, 50.0)])
def test_bounds_hold_in_original_units(bounds):
    head = _head(output_bounds=bounds)
    shift, scale = torch.full((300,), 20.0), torch.full((300,), 8.0)
    original = head.finish(torch.randn(300, 1) * 20, shift, scale) * scale + shift
    if bounds[0] is not None:
        assert (original >= bounds[0] - 1e-4).all()
    if bounds[1] is not None:
        assert (original <= bounds[1] + 1e-4).all()


def test_bounds_and_activation_together_are_refused():
    with pytest.raises(ValueError, match="either output bounds or"):
        _head(output_activation="exp", output_bounds=(0.0, 1.0))


def test_classification_head_is_linear_by_default():
    head = ClassificationHead(TINY, 4)
    assert len(head.mlp) == 1 and head.raw(torch.randn(3, 32)).shape == (3, 4)


def test_quantile_loss_by_hand():
    prediction = torch.tensor([[1.0, 2.0, 3.0]])
    target = torch.tensor([2.5])
    # pinball: q * (y - p) when under, (1 - q) * (p - y) when over
    expected = (0.1 * 1.5 + 0.5 * 0.5 + (1 - 0.9) * 0.5) / 3
    got = losses.target_loss(prediction, target, "quantile", quantiles=(0.1, 0.5, 0.9))
    assert got.item() == pytest.approx(expected)


def test_asymmetric_and_weighted_losses_by_hand():
    prediction, target = torch.tensor([3.0, 0.0]), torch.tensor([1.0, 1.0])
    got = losses.target_loss(prediction, target, "asymmetric", over=2.0, under=0.5)
    assert got.item() == pytest.approx((2.0 * 4 + 0.5 * 1) / 2)
    weighted = losses.target_loss(prediction, target, "mae",
                                  weights=torch.tensor([3.0, 1.0]))
    assert weighted.item() == pytest.approx((3 * 2 + 1 * 1) / 4)


def test_class_weighted_cross_entropy_by_hand():
    logits = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]])
    classes = torch.tensor([0, 1])
    per = [-math.log(3 / 4), -math.log(1 / 2)]
    got = losses.target_loss(logits, classes, "cross_entropy",
                             class_weights=torch.tensor([1.0, 3.0]))
    assert got.item() == pytest.approx((per[0] + 3 * per[1]) / 4)


def test_masked_abundance_loss_only_on_hidden_slots():
    predicted = torch.tensor([[0.0, -1.0, 5.0]])
    truth = torch.tensor([[-2.0, -1.0, 0.0]])
    hidden = torch.tensor([[True, False, False]])
    assert losses.masked_abundance_loss(predicted, truth, hidden).item() == 4.0
    mask = losses.mask_abundances(torch.tensor([[True] * 50 + [False] * 50]), 0.5,
                                  torch.Generator().manual_seed(0))
    assert not mask[0, 50:].any() and 10 < mask[0, :50].sum() < 40


def test_per_category_normalisation_inverts_and_falls_back():
    values = np.array([10.0, 12.0, 50.0, 54.0, 30.0])
    sites = np.array(["a", "a", "b", "b", None], dtype=object)
    scaler = scaler_from_dict(CategoryScaler.fit(values, sites, "zscore", "site").to_dict())
    messages = []
    shift, scale = scaler.parameters(np.array(["a", "b", "new"], dtype=object),
                                     messages.append)
    np.testing.assert_allclose(shift, [11.0, 52.0, values.mean()])
    np.testing.assert_allclose(scale, [1.0, 2.0, values.std()])
    assert "'site' categor(ies) were not seen in training, or in fewer than two training " \
        "samples (new)" in messages[0]
    normalised = (values - shift[[0, 0, 1, 1, 2]]) / scale[[0, 0, 1, 1, 2]]
    np.testing.assert_allclose(normalised * scale[[0, 0, 1, 1, 2]]
                               + shift[[0, 0, 1, 1, 2]], values)


def test_constant_category_keeps_the_global_scale():
    scaler = CategoryScaler.fit(np.array([26.0, 26.0, 40.0, 60.0]),
                                np.array(["x", "x", "y", "y"], dtype=object),
                                "minmax", "study")
    assert scaler.categories["x"] == (26.0, 34.0)  # global range 60 - 26


def test_global_scaler_parameters():
    shift, scale = scaling_parameters(TargetScaler.fit(np.array([0.0, 10.0]), "minmax"), 3)
    assert shift.tolist() == [0.0] * 3 and scale.tolist() == [10.0] * 3


def test_classification_metrics_by_hand():
    probabilities = np.array([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3], [0.2, 0.8]])
    metrics = classification_metrics(np.array([0, 1, 1, 1]), probabilities)
    assert metrics["accuracy"] == 0.75
    # class 0: tp 1, fp 1, fn 0 -> 2/3; class 1: tp 2, fp 0, fn 1 -> 4/5
    assert metrics["f1"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert metrics["auroc"] == pytest.approx(1.0)


def _lrs(scheduler_name, steps, values=None, **options):
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=1.0)
    train = TrainConfig(scheduler=scheduler_name, warmup_fraction=0.1, **options)
    scheduler = build_scheduler(optimizer, train, steps)
    rates = []
    for step in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
        if values is not None:
            scheduler.epoch_end(values[step], higher_is_better=False)
    return rates


def test_cosine_with_restarts_returns_to_the_peak():
    rates = _lrs("cosine_restarts", 100, lr_cycles=3)
    assert rates[9] == pytest.approx(1.0)        # end of warm-up
    assert rates[40] == pytest.approx(1.0)       # second cycle starts
    assert rates[39] < 0.05 and rates[69] < 0.05


def test_plateau_halves_the_rate_when_the_metric_stalls():
    rates = _lrs("plateau", 12, values=[5, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3],
                 plateau_patience=2)
    assert rates[2] == pytest.approx(1.0)
    assert rates[5] == pytest.approx(0.5) and rates[7] == pytest.approx(0.25)
