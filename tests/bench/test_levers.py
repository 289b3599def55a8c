"""benchmarks.levers' report: each lever against its own baseline."""
from benchmarks import levers


def test_markdown_compares_each_lever_with_its_baseline():
    report = {"date": "d", "machine": "m", "threads": 2, "repeats": 3,
              "predict_samples": 256,
              "training": [{"variant": "fp32", "samples_per_s": 40.0, "runs": [39, 40, 41],
                            "warm_up_seconds": 2.0, "first_batch_loss": 2.0},
                           {"variant": "bf16", "samples_per_s": 10.0, "runs": [10, 10, 11],
                            "warm_up_seconds": 3.0, "first_batch_loss": 2.02},
                           {"variant": "compile", "error": "boom"}],
              "prediction": [{"variant": "no cache", "samples_per_s": 5.0, "runs": [5],
                              "prediction_mean": 30.0},
                             {"variant": "cache", "samples_per_s": 20.0, "runs": [20],
                              "prediction_mean": 30.0}]}
    text = levers.markdown(report)
    assert "| train bf16 | 10.0 | 10.0, 10.0, 11.0 | 0.25x |" in text
    assert "first-batch loss 1.0e-02 from fp32" in text
    assert "| train compile | error: boom |" in text
    assert "| predict, cache (256 samples) | 20.0 | 20.0 | 4.00x |" in text
