import math

import pytest
import torch

from aam_core import losses
from aam_core.data.tokens import MASK, PAD


def test_unifrac_pair_loss_by_hand():
    embedding = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
    true = torch.tensor([[0.0, 4.0, 2.0], [4.0, 0.0, 1.0], [2.0, 1.0, 0.0]])
    # predicted distances: d01 = 5, d02 = 1, d12 = sqrt(9 + 9) = 4.2426
    expected = ((5 - 4) ** 2 + (1 - 2) ** 2 + (math.sqrt(18) - 1) ** 2) / 3
    assert losses.unifrac_pair_loss(embedding, true).item() == pytest.approx(expected, rel=1e-6)


def test_unifrac_gradient_is_finite_for_identical_embeddings():
    embedding = torch.zeros(3, 4, requires_grad=True)
    losses.unifrac_pair_loss(embedding, torch.ones(3, 3)).backward()
    assert torch.isfinite(embedding.grad).all()


def test_masked_nucleotide_loss_by_hand():
    logits = torch.zeros(1, 3, 7)
    logits[0, 0, 1] = math.log(3.0)  # softmax gives 3/9 to token 1
    targets = torch.tensor([[1, -100, 2]])
    expected = (-math.log(3 / 9) - math.log(1 / 7)) / 2  # row 2 is uniform
    assert losses.masked_nucleotide_loss(logits, targets).item() == pytest.approx(expected)


def test_mask_tokens_touches_only_real_positions():
    tokens = torch.tensor([[1, 2, 3, 4, PAD, PAD]] * 200)
    corrupted, targets = losses.mask_tokens(tokens, 0.5, torch.Generator().manual_seed(0))
    assert (corrupted[:, 4:] == PAD).all() and (targets[:, 4:] == -100).all()
    chosen = targets != -100
    assert 0.4 < chosen[:, :4].float().mean() < 0.6
    assert (targets[chosen] == tokens[chosen]).all()
    assert 0.7 < (corrupted[chosen] == MASK).float().mean() < 0.9


@pytest.mark.parametrize("kind,expected", [
    ("mse", (0.25 + 4.0) / 2), ("mae", (0.5 + 2.0) / 2),
    ("huber", (0.5 * 0.25 + (2.0 - 0.5)) / 2)])
def test_target_losses_by_hand(kind, expected):
    prediction, target = torch.tensor([1.0, 3.0]), torch.tensor([0.5, 1.0])
    assert losses.target_loss(prediction, target, kind).item() == pytest.approx(expected)


def test_label_smoothing_by_hand():
    logits = torch.tensor([[math.log(3.0), 0.0]])  # probabilities 3/4, 1/4
    # the target keeps 1 - 0.2 on class 0 and spreads 0.2 over both: 0.9, 0.1
    expected = -(0.9 * math.log(3 / 4) + 0.1 * math.log(1 / 4))
    loss = losses.target_loss(logits, torch.tensor([0]), "cross_entropy", smoothing=0.2)
    assert loss.item() == pytest.approx(expected)


def test_label_smoothing_reaches_a_classifier_s_loss():
    from aam_core.config import TrainConfig
    from aam_core.train.task import TargetTask
    logits, rows = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]]), torch.arange(2)
    plain = TargetTask.classification([0, 1], TrainConfig()).loss_of(logits, rows)
    smooth = TargetTask.classification([0, 1], TrainConfig(label_smoothing=0.3))
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1]),
                                                 label_smoothing=0.3)
    assert smooth.loss_of(logits, rows).item() == pytest.approx(expected.item())
    assert smooth.loss_of(logits, rows).item() > plain.item()
