"""ASV vectors of a frozen nucleotide encoder, computed once per run.

When the nucleotide encoder does not train, an ASV's vector never changes,
so every distinct sequence of the table is encoded once up front and each
batch only looks its ASVs up (AAM.asv_cache, indexed by Batch.features).
Prediction does the same for every member of a model (cache_members): the
table's distinct sequences are encoded once per member instead of once per
batch they appear in.
"""
from __future__ import annotations

import numpy as np
import torch


def cache_asv_vectors(model, tokens: np.ndarray, device: torch.device,
                      chunk: int = 512) -> torch.Tensor:
    """Sets and returns model.asv_cache: (n_features, d_model) float32."""
    encoder = model.nucleotide_encoder
    was_training = encoder.training
    encoder.eval()
    order = np.argsort((tokens != 0).sum(axis=1), kind="stable")  # similar lengths together
    vectors = torch.empty(len(tokens), model.config.d_model, device=device)
    with torch.no_grad():
        for start in range(0, len(order), chunk):
            rows = order[start:start + chunk]
            block = tokens[rows]
            width = max(1, int((block != 0).sum(axis=1).max()))
            encoded, _ = encoder(torch.from_numpy(block[:, :width].astype(np.int64)).to(device))
            vectors[torch.from_numpy(rows).to(device)] = encoded.float()
    encoder.train(was_training)
    model.asv_cache = vectors
    return vectors


def cache_members(network, tokens: np.ndarray, device: torch.device) -> None:
    """Prediction: each member of a model (or the one network) caches the ASV
    vectors of the table's distinct sequences (`tokens`, by table column);
    its batches then skip the nucleotide encoder."""
    from ..model.ensemble import members_of
    for member in members_of(network):
        cache_asv_vectors(member, tokens, device)
