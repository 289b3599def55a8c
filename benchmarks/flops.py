"""FLOPs of a training step: torch's counter plus attention, counted by hand.

torch.utils.flop_counter.FlopCounterMode has formulas for matmuls and for
the CUDA attention kernels, but none for the CPU flash-attention kernel
(`_scaled_dot_product_flash_attention_for_cpu`), so on CPU it leaves the
attention products out (13-26% of the nucleotide encoder's work, issue 17).
`step_flops` adds them analytically whenever the counter saw no attention op.

Attention of N sequences of (padded) length L, width d, per layer: QK^T and
weights x V are 2*N*L^2*d each, so 4*N*L^2*d forward; the backward pass
computes four such products (dQ, dK, dV, d weights): twice the forward.
Padding positions are counted because the kernels compute them too.
"""
from __future__ import annotations


def attention_flops(n_sequences: int, length: int, d_model: int, n_layers: int,
                    backward: bool = True) -> int:
    """FLOPs of the attention products (not the projections) of a stack."""
    forward = 4 * n_sequences * length ** 2 * d_model * n_layers
    return forward * 3 if backward else forward


def batch_attention_flops(config, batch, nucleotide: bool = True,
                          backward: bool = True) -> int:
    """Attention FLOPs of one AAM step on `batch`: the nucleotide encoder over
    the batch's distinct ASVs (unless its vectors are cached: nucleotide=False)
    and the sample encoder over each sample's ASV slots."""
    flops = attention_flops(batch.size, int(batch.asv_mask.shape[1]), config.d_model,
                            config.sample_layers, backward)
    if nucleotide:
        n_asvs, length = (int(n) for n in batch.tokens.shape)
        flops += attention_flops(n_asvs, length, config.d_model,
                                 config.nucleotide_layers, backward)
    return flops


def counted_attention(counter) -> bool:
    """Whether a FlopCounterMode counted any scaled-dot-product attention op."""
    ops = counter.get_flop_counts().get("Global", {})
    return any("scaled_dot_product" in str(op) and flops > 0 for op, flops in ops.items())


def step_flops(counter, config, batch, nucleotide: bool = True,
               backward: bool = True) -> dict:
    """{'counted', 'attention_added', 'total'}: the counter's total, plus the
    attention FLOPs when the counter had no formula for the kernel that ran."""
    counted = int(counter.get_total_flops())
    added = 0 if counted_attention(counter) else batch_attention_flops(
        config, batch, nucleotide, backward)
    return {"counted": counted, "attention_added": added, "total": counted + added}
