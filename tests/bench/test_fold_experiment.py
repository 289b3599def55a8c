"""Settings of benchmarks.fold_experiment: what goes to the model and to
pretraining, and what is left for fine-tuning."""
from benchmarks.fold_experiment import model_and_pretraining


def test_model_overrides_and_pretraining_fields():
    cfg = {"preset": "small", "model": {"sample_layers": 4}, "pretrain_epochs": 16,
           "pretrain_unifrac_weight": 20, "pretrain_seed": 1,
           "pretrain": {"nucleotide_weight": 0.0, "abundance_weight": 1.0},
           "learning_rate": 5e-4, "seeds": [0, 1]}
    model, pretrain = model_and_pretraining(cfg)
    assert (model.d_model, model.sample_layers, model.nucleotide_layers) == (64, 4, 2)
    assert (pretrain.epochs, pretrain.unifrac_weight, pretrain.random_state) == (16, 20, 1)
    assert (pretrain.nucleotide_weight, pretrain.abundance_weight) == (0.0, 1.0)
    # the fine-tuning settings stay behind, the pretraining ones are taken
    assert cfg == {"learning_rate": 5e-4, "seeds": [0, 1]}


def test_no_pretraining_without_epochs():
    cfg = {"preset": "tiny", "pretrain_lr": 1e-4}
    model, pretrain = model_and_pretraining(cfg)
    assert model.d_model == 32 and pretrain is None and cfg == {}
