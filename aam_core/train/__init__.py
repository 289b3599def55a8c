"""Training loop, schedules, splits, metrics."""
