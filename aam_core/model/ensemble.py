"""Several fine-tuned AAM networks that predict as one.

An ensemble's members share the architecture, the target normalisation and
the conditioning vocabularies; they differ in their seed and in the grouped
validation split that early-stopped them (finetune.fit_model), so every
labelled sample trains most of them. Averaging members cuts the variance of
a fine-tuned model on small data, which is where most of its error is.

The state_dict of an ensemble keys each member's tensors 'members.<i>.'.
"""
from __future__ import annotations

import torch
from torch import nn

from .heads import ClassificationHead


class Ensemble(nn.Module):
    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("An ensemble needs at least one member.")
        self.members = nn.ModuleList(members)

    @property
    def classifies(self) -> bool:
        return isinstance(self.members[0].head, ClassificationHead)

    def forward(self, batch, context: dict | None = None, **options) -> dict:
        """Predictions averaged over the members: regression outputs
        (normalised units, so also in target units), class probabilities
        for a classifier (returned as their log, so softmax gives them
        back). The embedding and other outputs are the first member's: the
        members' embedding spaces are not aligned, so their mean would mean
        nothing."""
        outputs = [member(batch, context=context, **options) for member in self.members]
        out = dict(outputs[0])
        if "prediction" in out:
            predictions = torch.stack([o["prediction"] for o in outputs])
            if self.classifies:
                probabilities = torch.softmax(predictions.float(), dim=-1).mean(0)
                out["prediction"] = torch.log(probabilities.clamp_min(1e-12))
            else:
                out["prediction"] = predictions.mean(0)
        return out


def members_of(network: nn.Module) -> list[nn.Module]:
    """The networks of a model: an ensemble's members or the one network."""
    return list(network.members) if isinstance(network, Ensemble) else [network]


def first_member_state(state_dict: dict) -> dict:
    """The first member's tensors of an ensemble's state_dict (names without
    the prefix); any other state_dict as it is. For starting a new model
    from a saved ensemble."""
    prefix = "members.0."
    if not any(k.startswith(prefix) for k in state_dict):
        return state_dict
    return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
