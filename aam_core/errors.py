"""Errors for user mistakes: they carry a message that says what to fix."""


class AAMInputError(ValueError):
    """Input data or parameters that cannot be used as given."""


def refuse_missing(sample_ids, available, source: str, fix: str) -> None:
    """An error naming the table's samples that `available` (ids of a
    per-sample input) lacks, and `fix`."""
    missing = [s for s in sample_ids if s not in available]
    if missing:
        shown = ", ".join(map(repr, missing[:5]))
        raise AAMInputError(f"{len(missing)} sample(s) of the table are not in "
                            f"{source}, e.g. {shown}. {fix}")
