"""Probe 33 (2026-12-02): the Python API (`aam_core.api`) met objects of
the wrong kind with tracebacks from deep inside or with wrong-cause
messages: a dict or None as model=, train=, data=, conditioning_config=
or log= (AttributeError, TypeError from dataclasses), a path or a
biom.Table where the ModelBundle belongs (AttributeError: 'str' object has
no attribute 'kind'), a text as targets=, groups=, sample_weights= or
alpha_diversity= ("must be numeric", "None of the samples is in ...") and
duplicated ids in groups= (pandas' "truth value ... is ambiguous") or in
alpha_diversity= (accepted), a FASTA path, a list or a DataFrame as
sequences= ("not enough values to unpack", "no sequence"), an array, a
DataFrame or a path as distances= (AttributeError: no attribute 'ids'),
a text or a Series as conditioning= (IndexError, pandas' "DataFrame
constructor not properly called!"), None or a bundle given to api.load
(TypeError), a missing path, a file or a .qza given to it ("has no
config.json"), api.save to a file (Errno 17) or with its arguments swapped
(AttributeError), a TrainConfig field set to None (TypeError from
random), and a text as taxonomy= ("None of the ASVs is in the taxonomy")."""
import dataclasses

import biom
import numpy as np
import pandas as pd
import pytest

from aam_core import api
from aam_core.bundle import ModelBundle
from aam_core.config import (FIT_TRAIN_DEFAULTS, PRETRAIN_TRAIN_DEFAULTS,
                             ConditioningConfig, DataConfig)

from .conftest import artifact_api

DNA = ["ACGTTGCA", "TTGACCGA", "GGCATACG", "CATGGTAC", "AACCGGTT", "TGCATGCA"]
SAMPLES = [f"s{i}" for i in range(12)]
TRAIN = dataclasses.replace(FIT_TRAIN_DEFAULTS, epochs=1, batch_size=8, n_threads=1,
                            ensemble_size=1)
QUIET = lambda message: None  # noqa: E731


def _table():
    counts = np.random.RandomState(0).randint(1, 20, size=(len(DNA), len(SAMPLES)))
    return biom.Table(counts, DNA, SAMPLES)


AGE = pd.Series(np.linspace(20, 70, 12), index=SAMPLES, name="age")


def _fit(**options):
    arguments = {"model": "tiny", "train": TRAIN, "log": QUIET, **options}
    targets = arguments.pop("targets", AGE)
    return lambda: api.fit_regressor(_table(), targets, **arguments)


def _pretrain(**options):
    train = dataclasses.replace(PRETRAIN_TRAIN_DEFAULTS, epochs=1, batch_size=8,
                                n_threads=1)
    return lambda: api.pretrain(_table(), **{"model": "tiny", "train": train,
                                             "log": QUIET, **options})


SETTINGS = [  # 1. settings objects of the wrong kind
    (_fit(model={"d_model": 16}), "model= must be a preset name ('base', 'small', "
                                  "'tiny') or a ModelConfig, not a dict"),
    (_fit(model=None), "model= must be a preset name"),
    (_fit(train={"epochs": 1}), "train= must be a TrainConfig, not a dict: e.g. "
                                "dataclasses.replace(FIT_TRAIN_DEFAULTS, epochs=5)"),
    (_fit(train=None), "train= must be a TrainConfig, not None"),
    (_fit(data={"max_length": 100}), "data= must be a DataConfig, not a dict"),
    (_fit(conditioning_config={"fusion": "add"}),
     "conditioning_config= must be a ConditioningConfig, not a dict"),
    (_fit(head_options=["head_dropout"]), "head_options= must be a dict of head settings"),
    (_fit(log=None), "log= must be a function that takes one message"),
    (_pretrain(model={"d_model": 16}), "model= must be a preset name"),
    (_pretrain(train=None), "dataclasses.replace(PRETRAIN_TRAIN_DEFAULTS, epochs=5)"),
    (_fit(train=dataclasses.replace(TRAIN, random_state=None)),
     "random_state must be an integer, not None"),
]

COLUMNS = [  # 3. by-sample columns of the wrong kind
    (_fit(targets="metadata.tsv"), "targets= must be a pandas Series indexed by sample "
                                   "id (a column of the metadata), not a str"),
    (_fit(targets=None), "targets= is None: give the targets, a pandas Series"),
    (_fit(groups="study"), "groups= must be a pandas Series indexed by sample id"),
    (_fit(groups=pd.concat([AGE, AGE.iloc[:2]])),
     "groups= names 2 sample(s) more than once, e.g. 's0', 's1': give one value"),
    (_fit(groups=pd.DataFrame({"a": AGE, "b": AGE})), "groups= is a table of 2 columns"),
    (_fit(sample_weights="w"), "sample_weights= must be a pandas Series"),
    (_pretrain(alpha_diversity="shannon"), "alpha_diversity= must be a pandas Series"),
    (_pretrain(alpha_diversity=pd.concat([AGE, AGE.iloc[:2]])),
     "alpha_diversity= names 2 sample(s) more than once"),
    (_pretrain(taxonomy="taxonomy.tsv"), "taxonomy= must be a pandas Series of lineages "
                                         "by feature id"),
]

OBJECTS = [  # 4-6. sequences, distances, conditioning of the wrong kind
    (_fit(sequences="rep-seqs.fasta"), "not a str ('rep-seqs.fasta'): read a FASTA file "
                                       "into one with {r.metadata['id']: str(r)"),
    (_fit(sequences=list(DNA)), "not a list of 6 item(s) that are not (feature id, "
                                "sequence) pairs"),
    (_fit(sequences=pd.DataFrame({"Sequence": dict(zip(DNA, DNA))})),
     "not a DataFrame of 1 column(s) (['Sequence']): give its sequence column, e.g. "
     "frame['Sequence']"),
    (_fit(distances=np.zeros((12, 12))), "distances= must be a skbio.DistanceMatrix, not "
                                         "a ndarray: an array names no samples"),
    (_fit(distances=pd.DataFrame(np.zeros((12, 12)), SAMPLES, SAMPLES)),
     "skbio.DistanceMatrix(frame.to_numpy(), list(frame.index))"),
    (_pretrain(distances="unifrac.tsv"), "read the file first: skbio.DistanceMatrix.read"),
    (_fit(conditioning="study"), "conditioning= must be a pandas DataFrame of "
                                 "categorical columns"),
    (_fit(conditioning=AGE.astype(str)), "not a Series: e.g. series.to_frame()"),
]


@pytest.mark.parametrize("call, fragment", SETTINGS + COLUMNS + OBJECTS)
def test_an_argument_of_the_wrong_kind_is_refused_by_name(call, fragment):
    artifact_api(call, fragment)


# -- 2. where the ModelBundle belongs ------------------------------------------------

@pytest.mark.parametrize("call, fragment", [
    (lambda b: api.predict("regressor-model", _table(), log=QUIET),
     "bundle must be a ModelBundle, not a str ('regressor-model'): load it first: "
     "api.load('regressor-model')"),
    (lambda b: api.predict(_table(), b, log=QUIET),
     "the model comes first, then the table: api.predict(bundle, table)"),
    (lambda b: api.embed(None, _table(), log=QUIET), "bundle must be a ModelBundle, not None"),
    (lambda b: api.predict_classification("m", _table(), log=QUIET), "load it first"),
    (lambda b: api.build_model("m"), "build_model takes a ModelBundle, not a str"),
    (lambda b: api.fit_regressor(_table(), AGE, pretrained="encoder", model="tiny",
                                 train=TRAIN, log=QUIET),
     "pretrained= must be a ModelBundle, not a str ('encoder'): load it first"),
    (lambda b: api.predict(b, _table(), conditioning="x", log=QUIET),
     "conditioning= must be a pandas DataFrame"),
    (lambda b: api.predict(b, _table(), log=None), "log= must be a function"),
])
def test_what_is_no_model_is_refused_where_the_model_belongs(model_dir, call, fragment):
    artifact_api(lambda: call(ModelBundle.load(model_dir)), fragment)


# -- 7-8. load and save ---------------------------------------------------------------

def test_load_and_save_refuse_what_is_no_model_folder(model_dir, tmp_path):
    bundle = ModelBundle.load(model_dir)
    (tmp_path / "model.qza").write_bytes(b"PK")
    (tmp_path / "file.txt").write_text("x")
    artifact_api(lambda: api.load(None), "load takes the path of a model directory (a "
                                         "str or a Path), not None")
    artifact_api(lambda: api.load(bundle), "(a ModelBundle is loaded already)")
    artifact_api(lambda: api.load(tmp_path / "nothing"), "does not exist: give the path")
    artifact_api(lambda: api.load(tmp_path / "file.txt"), "is a file, not a model directory")
    artifact_api(lambda: api.load(tmp_path / "model.qza"),
                 "It is a QIIME 2 artifact: qiime tools export --input-path")
    artifact_api(lambda: api.save(bundle, tmp_path / "file.txt"),
                 "file.txt is a file: a model is saved as a folder")
    artifact_api(lambda: api.save(str(tmp_path / "out"), bundle),
                 "save(bundle, directory): the model comes first")
    assert (tmp_path / "file.txt").read_text() == "x"
    api.save(bundle, tmp_path / "out")  # a folder still works
    assert api.load(tmp_path / "out").kind == "regressor"
