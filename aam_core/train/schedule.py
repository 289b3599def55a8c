"""Learning-rate schedules as multipliers of the base rate per step."""
from __future__ import annotations

import math


def warmup_cosine(total_steps: int, warmup_fraction: float):
    """Linear warm-up over a fraction of the steps, then cosine decay to 0."""
    warmup = max(1, int(round(total_steps * warmup_fraction)))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return factor
