"""Errors for user mistakes: they carry a message that says what to fix."""
import os


class AAMInputError(ValueError):
    """Input data or parameters that cannot be used as given."""


def article(word: str) -> str:
    """'an encoder', 'a regressor'."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def kind_of(value) -> str:
    """How a message names what was given: None, "a str ('table.biom')",
    "a dict"..."""
    if value is None:
        return "None"
    kind = article(type(value).__name__)
    if isinstance(value, (str, os.PathLike, int, float)):
        text = repr(str(value) if isinstance(value, os.PathLike) else value)
        return f"{kind} ({text if len(text) <= 40 else text[:37] + '...'})"
    return kind


def other_spellings(missing, available) -> list:
    """(name, the available one it differs from only by case or surrounding
    spaces) for each of `missing` that has such a twin."""
    folded = {str(a).strip().casefold(): str(a) for a in available}
    return [(m, folded[str(m).strip().casefold()]) for m in missing
            if str(m).strip().casefold() in folded]


def near_misses(missing, available, what: str = "sample ids") -> str:
    """A hint for ids that differ from another input's only by case or
    surrounding spaces: in a message the difference is invisible."""
    pairs = other_spellings(missing, available)
    if not pairs:
        return ""
    table_id, other = pairs[0]
    return (f" {len(pairs)} of them differ only by case or spaces (e.g. {table_id!r} "
            f"here, {other!r} there): {what} must match exactly.")


def refuse_missing(sample_ids, available, source: str, fix: str) -> None:
    """An error naming the table's samples that `available` (ids of a
    per-sample input) lacks, and `fix`."""
    missing = [s for s in sample_ids if s not in available]
    if missing:
        shown = ", ".join(map(repr, missing[:5]))
        raise AAMInputError(f"{len(missing)} sample(s) of the table are not in "
                            f"{source}, e.g. {shown}.{near_misses(missing, available)} "
                            f"{fix}")


def refuse_disjoint(named, samples, source: str, consequence: str, fix: str) -> None:
    """Refuse a per-sample input whose ids (`named`) are none of `samples`:
    it would be ignored, or turn every sample into a default, without a
    word. One wording for every such input (groups, loss weights,
    conditioning, metadata of an error analysis)."""
    named, samples = [str(i) for i in named], [str(s) for s in samples]
    if samples and not named:  # a file of a header alone, or an empty column
        raise AAMInputError(f"No sample has a value in {source}, so {consequence}: {fix}")
    if samples and not set(named) & set(samples):
        raise AAMInputError(
            f"None of the {len(samples)} samples is in {source} (ids there: e.g. "
            f"{', '.join(named[:3]) or 'none'}; the samples: e.g. "
            f"{', '.join(samples[:3])}), so {consequence}: {fix}")


def refuse_samples_without_metadata(table_ids, metadata_ids, missing_samples: str,
                                    option: str) -> None:
    """Table samples the metadata lacks: an error unless `missing_samples` is
    'ignore' (then they have no value, and training drops them), as in
    q2-sample-classifier. `option`: missing_samples as the caller spells it."""
    table_ids = [str(i) for i in table_ids]
    present = {str(i) for i in metadata_ids}
    missing = [i for i in table_ids if i not in present]
    refuse_disjoint(present, table_ids, "the metadata", "there is nothing to learn",
                    "check that both name the same samples.")
    if missing and missing_samples == "error":
        raise AAMInputError(
            f"{len(missing)} sample(s) of the table are not in the metadata "
            f"(e.g. {', '.join(missing[:5])}).{near_misses(missing, present)} Add them, "
            f"or pass {option} to drop them.")
