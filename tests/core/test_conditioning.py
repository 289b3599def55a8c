"""Conditioning modules, the frozen-encoder cache and gradient checkpointing."""
import numpy as np
import pandas as pd
import pytest
import torch

from aam_core.config import DataConfig, ModelConfig
from aam_core.data.batching import BatchBuilder
from aam_core.data.tokens import tokenize
from aam_core.model import AAM
from aam_core.model.conditioning import (Conditioning, build_vocabularies,
                                         encode_conditions)
from aam_core.train.cache import cache_asv_vectors
from tests.conftest import random_dna

TINY = ModelConfig.preset("tiny")
SPEC = {"columns": ["country", "city"],
        "vocabularies": {"country": ["fr", "us"], "city": ["nyc", "paris"]},
        "parents": {"city": "country"}}


def _conditioning(fusion, **extra):
    torch.manual_seed(0)
    return Conditioning(32, 2, {**SPEC, "fusion": fusion, **extra}, n_outputs=1).eval()


def test_vocabularies_and_codes_reserve_zero_for_unknown():
    frame = pd.DataFrame({"study": [550.0, 2202.0, np.nan], "site": ["a", "b", "a"]},
                         index=["s1", "s2", "s3"])
    vocabularies = build_vocabularies(frame)
    assert vocabularies == {"study": ["2202", "550"], "site": ["a", "b"]}
    new = pd.DataFrame({"study": ["550", "999"], "site": ["b", None]}, index=["s1", "x"])
    messages = []
    codes = encode_conditions(new, ["s1", "x", "absent"], vocabularies, list(vocabularies),
                              messages.append)
    assert codes.tolist() == [[2, 2], [0, 0], [0, 0]]
    assert any("1 categor(ies) not seen in training (999)" in m for m in messages)


@pytest.mark.parametrize("fusion", ["none", "add", "concat", "film", "cross_attention"])
def test_every_fusion_keeps_the_embedding_shape(fusion):
    module = _conditioning(fusion)
    codes = torch.tensor([[1, 2], [0, 0], [2, 1]])
    vectors = module.vectors(codes)
    assert vectors.shape == (3, 2, 32)
    embedding = torch.randn(3, 32)
    fused = module.fuse(embedding, vectors)
    assert fused.shape == (3, 32)
    hook = module.token_fusion(vectors)
    assert (hook is None) == (fusion != "cross_attention")
    if hook is not None:
        assert hook(torch.randn(3, 7, 32), torch.ones(3, 7, dtype=bool)).shape == (3, 7, 32)
    if fusion in ("none", "film"):  # film starts as the identity
        torch.testing.assert_close(fused, embedding)
    if fusion == "add":
        torch.testing.assert_close(fused, embedding + vectors.sum(1))


def test_child_adds_its_parents_embedding():
    module = _conditioning("add")
    codes = torch.tensor([[1, 2]])  # fr, paris
    vectors = module.vectors(codes)
    own_city = module.embeddings[1].weight[2]
    country = module.embeddings[0].weight[1]
    torch.testing.assert_close(vectors[0, 1], own_city + country)
    torch.testing.assert_close(vectors[0, 0], country)


def test_hierarchy_cycles_and_unknown_columns_are_refused():
    with pytest.raises(ValueError, match="has a loop: country -> city -> country"):
        _conditioning("add", parents={"city": "country", "country": "city"})
    with pytest.raises(ValueError, match="city:planet .child:parent. names a column"):
        _conditioning("add", parents={"city": "planet"})


def test_cross_attention_with_one_column_gates_each_asv():
    spec = {"columns": ["site"], "vocabularies": {"site": ["a", "b"]},
            "fusion": "cross_attention"}
    torch.manual_seed(0)
    module = Conditioning(32, 2, spec, 1).eval()
    for weight in (module.cross.out.weight, module.cross.null,
                   module.embeddings[0].weight):
        torch.nn.init.normal_(weight)  # as after some training
    tokens = torch.randn(1, 6, 32)
    vectors = module.vectors(torch.tensor([[1]]))
    added = module.cross(tokens, vectors) - tokens
    # with the null token the added vector differs between ASVs: a plain
    # shift would add the same vector to all of them
    assert (added[0] - added[0, :1]).abs().max() > 1e-3


def test_output_scaling_starts_neutral_and_is_per_category():
    module = _conditioning("none", conditional_output=True)
    raw = torch.randn(2, 1)
    codes = torch.tensor([[1, 1], [2, 2]])
    torch.testing.assert_close(module.scale_output(raw, codes), raw)
    with torch.no_grad():
        module.output_affine[0].weight[1] = torch.tensor([1.0, 5.0])  # country fr
    scaled = module.scale_output(raw, codes)
    torch.testing.assert_close(scaled[0], raw[0] * 2 + 5)
    torch.testing.assert_close(scaled[1], raw[1])


def test_unknown_rate_drops_codes_only_in_training():
    module = _conditioning("add", unknown_rate=0.5)
    codes = torch.ones(400, 2, dtype=torch.long)
    assert module.codes(codes, 400, "cpu").eq(1).all()
    module.train()
    assert 0.3 < module.codes(codes, 400, "cpu").eq(0).float().mean() < 0.7


@pytest.fixture
def batch(rng):
    features = random_dna(rng, 12, 20)
    counts = rng.integers(0, 4, size=(5, 12)).astype(float)
    counts[:, 0] += 1
    import scipy.sparse as sp
    builder = BatchBuilder(sp.csr_matrix(counts), tokenize(features), DataConfig())
    return builder, builder.build(np.arange(5))


def test_cached_asv_vectors_give_the_same_outputs(batch):
    builder, one = batch
    torch.manual_seed(0)
    model = AAM(TINY, "regression").eval()
    plain = model(one)["prediction"]
    cache_asv_vectors(model, builder.tokens, torch.device("cpu"), chunk=5)
    assert model.asv_cache.shape == (12, 32)
    torch.testing.assert_close(model(one)["prediction"], plain)


def test_gradient_checkpointing_gives_the_same_gradients(batch):
    _, one = batch
    torch.manual_seed(0)
    model = AAM(ModelConfig.preset("tiny", head_dropout=0.0), "regression")
    gradients = []
    for on in (False, True):
        model.zero_grad()
        model.set_gradient_checkpointing(on)
        model(one)["prediction"].sum().backward()
        gradients.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
    for plain, checkpointed in zip(*gradients):
        torch.testing.assert_close(plain, checkpointed)


def test_hidden_abundances_are_predicted(batch):
    _, one = batch
    model = AAM(TINY)
    hidden = one.asv_mask & (torch.arange(one.asv_mask.shape[1]) % 2 == 0)
    out = model(one, hidden_abundance=hidden)
    assert out["abundance"].shape == one.asv_mask.shape
    # hiding an abundance changes the embedding (it is no longer an input)
    assert not torch.allclose(out["embedding"], model(one)["embedding"])


def test_models_saved_before_the_abundance_head_still_load():
    from aam_core.errors import AAMInputError
    from aam_core.model.build import load_weights, network_for
    config = {"kind": "regressor", "architecture": TINY.to_dict(), "target": {},
              "conditioning": None}
    state = {k: v for k, v in network_for(config).state_dict().items()
             if not k.startswith("abundance_head.")}
    load_weights(network_for(config), state)
    del state["head.mlp.0.weight"]
    with pytest.raises(AAMInputError, match="missing.*head.mlp.0.weight"):
        load_weights(network_for(config), state)
