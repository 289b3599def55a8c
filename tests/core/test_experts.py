"""The mixture-of-experts regression head (regression_experts > 1)."""
import biom
import numpy as np
import torch

from aam_core import api, cli, losses
from aam_core.config import ModelConfig
from aam_core.model.heads import MixtureOfExperts, RegressionHead
from tests.conftest import REPO


def _two_regimes(n: int, seed: int):
    """Embeddings whose dimension 0 is x and dimension 1 the regime (+1 / -1),
    the rest noise; the target is +x in one regime and -x in the other."""
    generator = torch.Generator().manual_seed(seed)
    embedding = torch.randn(n, 32, generator=generator)
    regime = torch.randint(0, 2, (n,), generator=generator).float() * 2 - 1
    embedding[:, 1] = regime
    return embedding, embedding[:, 0] * regime


def _train_head(experts: int, steps: int = 300) -> float:
    """Validation MSE of a head with linear experts trained on the regimes."""
    torch.manual_seed(0)
    config = ModelConfig.preset("tiny", regression_hidden=(), head_dropout=0.0,
                                regression_experts=experts)
    head = RegressionHead(config)
    x, y = _two_regimes(512, seed=1)
    optimizer = torch.optim.Adam(head.parameters(), lr=0.05)
    for _ in range(steps):
        raw, gate = head.gated(x)
        loss = torch.nn.functional.mse_loss(head.finish(raw), y)
        if gate is not None:
            loss = loss + 0.01 * losses.expert_balance_loss(gate)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x, y = _two_regimes(512, seed=2)
    with torch.no_grad():
        return torch.nn.functional.mse_loss(head.finish(head.raw(x)), y).item()


def test_two_experts_fit_a_two_regime_target_one_linear_head_cannot():
    single, mixture = _train_head(1), _train_head(2)
    # y = x * regime has no linear part: one linear head predicts ~0 (MSE ~ var y = 1)
    assert single > 0.8
    assert mixture < 0.05 and mixture < single / 20


def test_one_expert_is_the_plain_head():
    head = RegressionHead(ModelConfig.preset("tiny"))
    assert not isinstance(head.mlp, MixtureOfExperts)
    assert head.gated(torch.randn(3, 32))[1] is None
    assert "mlp.0.weight" in head.state_dict()  # names of earlier saved models


def test_mixture_outputs_and_gate_shapes():
    head = RegressionHead(ModelConfig.preset("tiny", regression_experts=3), n_outputs=3,
                          monotone=True).eval()
    raw, gate = head.gated(torch.randn(5, 32))
    assert raw.shape == (5, 3) and gate.shape == (5, 3)
    assert torch.allclose(gate.sum(-1), torch.ones(5))
    out = head.finish(raw)
    assert (out[:, 1:] >= out[:, :-1]).all()  # quantiles still never cross


def test_balance_loss_is_zero_when_balanced_and_grows_with_collapse():
    balanced = torch.tensor([[0.9, 0.1], [0.1, 0.9]])
    collapsed = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    assert losses.expert_balance_loss(balanced).item() == 0.0
    # shares (1, 0): variance 0.25 over a squared mean of 0.25
    assert np.isclose(losses.expert_balance_loss(collapsed).item(), 1.0)


def test_fit_with_two_experts_saves_loads_and_predicts(tmp_path):
    """`aam fit-regressor --regression-experts 2` end to end on real samples."""
    example = REPO / "examples" / "oral-age-mini"
    run = tmp_path / "run"
    assert cli.main(["fit-regressor", "--table", str(example / "table.biom"),
                     "--metadata", str(example / "metadata.tsv"), "--target", "age",
                     "--output-dir", str(run), "--preset", "tiny", "--epochs", "2",
                     "--ensemble-size", "1", "--batch-size", "32", "--n-threads", "1",
                     "--regression-experts", "2", "--expert-balance", "0.1"]) == 0
    bundle = api.load(run / "model")
    assert bundle.config["architecture"]["regression_experts"] == 2
    assert bundle.config["training"]["expert_balance"] == 0.1
    assert "expert_balance" in " ".join(bundle.history.columns)
    table = biom.load_table(str(example / "table.biom"))
    predictions = api.predict(bundle, table, n_threads=1,
                              log=lambda message: None)
    assert len(predictions) == 191 and np.isfinite(predictions).all()
