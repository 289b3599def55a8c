"""A fitted model as one ONNX graph: tokens and abundances in, predictions out.

The graph holds the whole model, nucleotide encoder included, so that a
serving runtime (onnxruntime, no Python or PyTorch) needs only each ASV's
DNA and its count:

    tokens      int64   (batch, asvs, length)  token ids (data/tokens.py:
                        PAD 0, A 1, C 2, G 3, T 4, N 5), PAD after a read and
                        on padding slots
    abundances  float32 (batch, asvs)          counts (or relative abundances)
                        of each slot's ASV; 0 marks a padding slot
    ->
    prediction     float32 (batch,) a regressor's prediction in the target's
                   own units, or (batch, n_quantiles) for a quantile model
    probabilities  float32 (batch, n_classes) a classifier's, in the order of
                   config.json's class_labels

Target normalisation is undone inside the graph; an ensemble is averaged
inside it as predict.py averages it (regression outputs, class
probabilities). `onnx_inputs` builds the two inputs from a table by the
model's own rules (at most max_asvs ASVs per sample, the most abundant).
Conditioned models and per-category normalisation need metadata at
prediction and are not exported.
"""
from __future__ import annotations

import copy
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .bundle import ModelBundle
from .config import DataConfig
from .data.batching import Batch, BatchBuilder
from .data.prepare import prepare
from .data.tokens import N, PAD
from .errors import AAMInputError
from .model.build import build_model
from .model.ensemble import members_of
from .spelling import spelled_column, spelled_metadata

INSTALL_HINT = "pip install onnx onnxruntime"
OPSET = 17


class MissingONNXError(AAMInputError):
    """The optional onnx package is not installed."""


class PredictionGraph(nn.Module):
    """What the ONNX graph computes, as a torch module."""

    def __init__(self, bundle: ModelBundle):
        super().__init__()
        check_exportable(bundle)
        members = [copy.deepcopy(m) for m in members_of(build_model(bundle))]
        for member in members:
            # a traced graph must hold for every input, also reads of
            # different lengths, so the no-padding shortcut is left out
            member.nucleotide_encoder.skip_full_mask = False
        self.members = nn.ModuleList(members)
        self.classifies = bundle.kind == "classifier"
        target = bundle.config.get("target") or {}
        self.register_buffer("shift", torch.tensor(float(target.get("shift", 0.0))))
        self.register_buffer("scale", torch.tensor(float(target.get("scale", 1.0))))

    def forward(self, tokens: torch.Tensor, abundances: torch.Tensor) -> torch.Tensor:
        batch = _slot_batch(tokens, abundances)
        ones = torch.ones_like(abundances[:, 0])
        context = {"shift": ones * self.shift, "scale": ones * self.scale}
        outputs = torch.stack([m(batch, context=context)["prediction"]
                               for m in self.members])
        if self.classifies:
            return torch.softmax(outputs, dim=-1).mean(0)
        return outputs.mean(0) * self.scale + self.shift


def _slot_batch(tokens: torch.Tensor, abundances: torch.Tensor) -> Batch:
    """A Batch in which every (sample, slot) is its own token row: the graph
    cannot find the distinct ASVs of a batch, as the library's batching does,
    which changes the work but not the result."""
    n_samples, n_slots, length = tokens.shape
    mask = abundances > 0
    # an all-PAD row has nothing to pool over (NaN); one N token keeps the
    # padding slots finite, and the masks leave them out of every sample
    first = torch.arange(length, device=tokens.device) == 0
    tokens = torch.where((~mask)[..., None] & first, torch.full_like(tokens, N), tokens)
    relative = abundances / abundances.sum(-1, keepdim=True).clamp_min(1e-30)
    log_abundance = torch.where(mask, torch.log(relative.clamp_min(1e-30)),
                                torch.zeros_like(relative))
    index = torch.arange(n_samples * n_slots, device=tokens.device)
    return Batch(tokens=tokens.reshape(-1, length),
                 asv_index=index.reshape(n_samples, n_slots), asv_mask=mask,
                 log_abundance=log_abundance, rows=torch.zeros_like(abundances[:, 0]))


def check_exportable(bundle: ModelBundle) -> None:
    if bundle.kind == "encoder":
        raise AAMInputError("This is a pretrained encoder; it predicts nothing to "
                            "export. Fine-tune it with fit-regressor or fit-classifier.")
    if bundle.config.get("conditioning"):
        raise AAMInputError("This model is conditioned on metadata columns, which "
                            "the ONNX export does not take yet; export a model "
                            f"fitted without {spelled_metadata('conditioning')}.")
    if (bundle.config.get("target") or {}).get("by"):
        raise AAMInputError("This model normalises its target per category of a "
                            "metadata column, which the ONNX export does not take "
                            "yet; export a model fitted without "
                            f"{spelled_column('normalise_by')}.")


def require_onnx():
    """The onnx module, or an error that says how to install it."""
    try:
        import onnx
    except ImportError:
        raise MissingONNXError("Exporting to ONNX needs the optional onnx package: "
                               f"{INSTALL_HINT}") from None
    return onnx


def _expm1(g, x):
    """exp(x) - 1 for the TorchScript exporter, which has no expm1 (heads.py
    uses it): 2t / (1 - t) with t = tanh(x / 2) keeps its precision near 0,
    where exp(x) - 1 would cancel."""
    one = g.op("Constant", value_t=torch.tensor(1.0))
    half_tanh = g.op("Tanh", g.op("Div", x, g.op("Constant", value_t=torch.tensor(2.0))))
    near_zero = g.op("Div", g.op("Add", half_tanh, half_tanh), g.op("Sub", one, half_tanh))
    small = g.op("Less", g.op("Abs", x), one)
    return g.op("Where", small, near_zero, g.op("Sub", g.op("Exp", x), one))


def export_onnx(bundle: ModelBundle, path: str | Path, opset: int = OPSET) -> Path:
    """Write the model's prediction graph to `path` (.onnx); returns it."""
    onnx = require_onnx()
    torch.onnx.register_custom_op_symbolic("aten::expm1", _expm1, opset)
    graph = PredictionGraph(bundle).eval()
    length = int(bundle.config["data"]["max_length"])
    example = (torch.full((2, 3, length), 1, dtype=torch.long),
               torch.tensor([[5.0, 2.0, 0.0], [1.0, 0.0, 0.0]]))
    output = "probabilities" if graph.classifies else "prediction"
    axes = {"tokens": {0: "batch", 1: "asvs", 2: "length"},
            "abundances": {0: "batch", 1: "asvs"}, output: {0: "batch"}}
    path = Path(path)
    # the TorchScript exporter (dynamo=False) needs only onnx; the
    # torch.export one would need onnxscript too, for the same graph
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # the k-mer embedding's branch for reads shorter than k is traced as
        # not taken: such reads are padded to the batch's longest read anyway
        warnings.filterwarnings("ignore", "Converting a tensor to a Python boolean",
                                module="aam_core.model.aam")
        torch.onnx.export(graph, example, str(path), input_names=["tokens", "abundances"],
                          output_names=[output], dynamic_axes=axes,
                          opset_version=opset, dynamo=False)
    onnx.checker.check_model(str(path))
    return path


def onnx_inputs(bundle: ModelBundle, table, sequences=None, log=None) -> tuple:
    """(sample ids, {'tokens', 'abundances'} arrays) of a table's samples, by
    the rules the model was trained with; slots past a sample's ASVs are
    padding (PAD tokens, abundance 0)."""
    data = DataConfig(**bundle.config["data"]).for_prediction()
    prepared = prepare(table, sequences, data, log or (lambda message: None),
                       model_rules=True)  # no sample dropped, no longer reads
    builder = BatchBuilder(prepared.table.counts, prepared.tokens, data)
    rows = np.arange(len(prepared.table.sample_ids))
    profiles = [builder.sample_profile(row, None, augment=False) for row in rows]
    n_slots = max(len(features) for features, _ in profiles)
    tokens = np.full((len(rows), n_slots, prepared.tokens.shape[1]), PAD, dtype=np.int64)
    abundances = np.zeros((len(rows), n_slots), dtype=np.float32)
    for b, (features, counts) in enumerate(profiles):
        tokens[b, :len(features)] = prepared.tokens[features]
        abundances[b, :len(features)] = counts
    return list(prepared.table.sample_ids), {"tokens": tokens, "abundances": abundances}
