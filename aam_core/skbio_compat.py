"""scikit-bio calls whose spelling changed between the releases we support.

QIIME 2 2022.11 ships scikit-bio 0.5.8; the newest releases (0.6, 0.7) renamed
``beta_diversity``'s ``otu_ids`` to ``taxa`` and 0.7 no longer accepts the old
name. Code and tests call :func:`beta_diversity` from here with ``taxa`` and get
the spelling of the scikit-bio that is installed. scikit-bio is imported only
when a function is called (aam_core itself never needs it).
"""
from __future__ import annotations


def _skbio_version() -> tuple:
    import skbio
    parts = []
    for piece in skbio.__version__.split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def taxa_keyword() -> str:
    """The name of ``beta_diversity``'s feature-id argument: ``taxa`` from
    scikit-bio 0.6 on, ``otu_ids`` before."""
    return "taxa" if _skbio_version() >= (0, 6) else "otu_ids"


def beta_diversity(metric, counts, ids=None, taxa=None, **kwargs):
    """``skbio.diversity.beta_diversity`` with the feature ids passed as
    ``taxa`` on every scikit-bio release (needed by phylogenetic metrics such
    as ``unweighted_unifrac``)."""
    from skbio.diversity import beta_diversity as skbio_beta_diversity
    if taxa is not None:
        kwargs[taxa_keyword()] = list(taxa)
    return skbio_beta_diversity(metric, counts, ids=ids, **kwargs)
