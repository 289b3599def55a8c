"""Probe 7 (2026-12-01, the Artifact API and q2cli): a UniFrac weight
without a distance matrix, targets too large for 32-bit numbers, infinite
bounds on the wrong side, bounds beside an output activation, the ridge
readout on several processes, cross-validation over one group, a script
that starts processes outside its __main__ guard, a hand-edited
config.json, --p-device cuda without a GPU. Each row failed before its fix
(exit 0, a wrong cause, another interface's spelling, or a hang)."""
import json
import subprocess
import sys

import pandas as pd
import pytest
import qiime2
from qiime2.plugins import aam as plugin

from q2_aam import _examples

from .conftest import artifact_api, qiime, refused

TINY = dict(preset="tiny", epochs=1, batch_size=8, n_threads=1, ensemble_size=1)


def _table():
    return _examples.table_factory()


def _ages(change=None) -> qiime2.NumericMetadataColumn:
    frame = _examples.sample_metadata_factory().to_dataframe()
    if change:
        frame = change(frame)
    return qiime2.Metadata(frame).get_column("age")


def _fit(metadata=None, **options):
    return plugin.methods.fit_regressor(table=_table(), metadata=metadata or _ages(),
                                        **{**TINY, **options}).model


def _huge_age(frame):
    frame.loc[frame.index[0], "age"] = 1e308
    return frame


def _ncv_over_one_group():
    ages = _ages()
    one = qiime2.Metadata(pd.DataFrame({"family": "f1"}, index=pd.Index(
        ages.to_series().index, name="id"))).get_column("family")
    return plugin.actions.regress_samples_ncv(table=_table(), metadata=ages, groups=one,
                                              cv=3, **TINY)


API = {  # case: (call, fragment of the expected message)
    "pretrain-unifrac-weight-without-distances": (
        lambda: plugin.methods.pretrain(table=_table(), unifrac_weight=5.0, **TINY_PRETRAIN),
        "unifrac_weight=5.0 weighs the distance objective, but no distance matrix was "
        "given, so it would be ignored"),
    "a-target-beyond-32-bit-numbers": (
        lambda: _fit(_ages(_huge_age)),
        "holds values beyond +-1e+30 (e.g. 1e+308 in sample"),
    "upper-bound-minus-inf": (lambda: _fit(upper_bound=float("-inf")),
                              "upper_bound=-inf bounds nothing: give a finite number"),
    "bounds-with-an-output-activation": (
        lambda: _fit(lower_bound=0.0, output_activation="softplus"),
        "and lower_bound/upper_bound both shape the output: give either the bounds or "
        "the activation"),
    "ridge-readout-on-two-processes": (
        lambda: _fit(readout="ridge", n_devices=2),
        "readout='ridge' solves its head in closed form in one process, so n_devices=2 "
        "would be ignored"),
    "cross-validation-over-one-group": (
        _ncv_over_one_group, "cross-validation needs at least 2 groups"),
}
TINY_PRETRAIN = {k: v for k, v in TINY.items() if k != "ensemble_size"}


@pytest.mark.parametrize("case", sorted(API))
def test_artifact_api_refuses(case):
    call, fragment = API[case]
    artifact_api(call, fragment)


def test_a_hand_edited_config_is_refused_at_import(tmp_path):
    """An edit that keeps the schema (the target's shift) would move every
    prediction; config.json now carries its own sha256."""
    model = _fit()
    folder = tmp_path / "exported"
    model.export_data(str(folder))
    config = json.loads((folder / "config.json").read_text())
    config["target"]["shift"] += 1000
    (folder / "config.json").write_text(json.dumps(config))
    artifact_api(lambda: qiime2.Artifact.import_data(str(model.type), str(folder)),
                 f"The config.json of the model {folder} was edited or damaged")


def test_n_devices_from_a_script_without_a_main_guard_is_refused_at_once(tmp_path):
    """Each process would re-run the script and start processes again; the
    launch never returned."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from qiime2.plugins import aam\n"
        "from q2_aam import _examples\n"
        "aam.methods.pretrain(table=_examples.table_factory(), preset='tiny', epochs=1,\n"
        "                     n_threads=2, n_devices=2, device='cpu')\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert ("whose line 3 calls q2-aam outside `if __name__ == \"__main__\":`"
            in done.stderr), done.stderr


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a GPU is visible")
def test_q2cli_names_device_cuda_by_its_flag(tmp_path):
    _table().save(str(tmp_path / "table.qza"))
    (tmp_path / "md.tsv").write_text(
        _examples.sample_metadata_factory().to_dataframe().to_csv(sep="\t"))
    code, output = qiime("aam", "fit-regressor", "--i-table", tmp_path / "table.qza",
                         "--m-metadata-file", tmp_path / "md.tsv", "--m-metadata-column",
                         "age", "--p-device", "cuda", "--p-preset", "tiny",
                         "--o-model", tmp_path / "model.qza")
    refused(output, code, "--p-device cuda was asked for, but no CUDA GPU is visible")
    assert "device='cuda'" not in output
