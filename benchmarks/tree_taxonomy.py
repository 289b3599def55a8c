"""A tree-derived stand-in for a taxonomy, for tests and measurements.

No reference classifier (and so no real taxonomy) of the example data is
available offline. Its phylogeny is: clades of the rooted tree capped at
several sizes play the ranks, from few big clades ("phyla") to many small
ones ("genera"). This is NOT a taxonomy a classifier would assign;
it is nested and sequence-derived like one, which is what the taxonomy
objective needs to be tested on. Genus-level clades of a single ASV are
left unassigned ("g__"), as classifiers leave ASVs they cannot place.

    python -m benchmarks.tree_taxonomy examples/oral-age-mini/tree.nwk > taxonomy.tsv
"""
from __future__ import annotations

import sys

import pandas as pd
import skbio

# the largest clade of each rank, in ASVs: a rank's clades are the largest
# subtrees of at most this many tips (so deep ranks have few, big clades)
RANK_SIZES = (("p", 500), ("c", 200), ("o", 80), ("f", 30), ("g", 10))


def _sizes(tree: skbio.TreeNode) -> dict:
    """The number of tips under each node."""
    sizes = {}
    for node in tree.postorder(include_self=True):
        sizes[id(node)] = sum(sizes[id(c)] for c in node.children) if node.children else 1
    return sizes


def _clades(tips, sizes: dict, largest: int) -> list:
    """For each tip, its topmost ancestor (or itself) of at most `largest` tips."""
    clades = []
    for tip in tips:
        node = tip
        while node.parent is not None and sizes[id(node.parent)] <= largest:
            node = node.parent
        clades.append(id(node))
    return clades


def tree_taxonomy(tree: skbio.TreeNode | str) -> pd.DataFrame:
    """FeatureData[Taxonomy]'s view (a 'Taxon' column by 'Feature ID') of
    clades of `tree` (a TreeNode or a Newick path), one rank per cut."""
    if not isinstance(tree, skbio.TreeNode):
        tree = skbio.TreeNode.read(str(tree))
    tips = list(tree.tips())
    sizes = _sizes(tree)
    columns = []
    for prefix, largest in RANK_SIZES:
        clades = _clades(tips, sizes, largest)
        numbers = {c: i for i, c in enumerate(dict.fromkeys(clades))}
        counts = pd.Series(clades).value_counts()
        columns.append([f"{prefix}__" if prefix == "g" and counts[c] == 1
                        else f"{prefix}__{prefix.upper()}{numbers[c]}" for c in clades])
    taxa = ["; ".join(("d__Bacteria",) + ranks) for ranks in zip(*columns)]
    return pd.DataFrame({"Taxon": taxa},
                        index=pd.Index([t.name for t in tips], name="Feature ID"))


if __name__ == "__main__":
    tree_taxonomy(sys.argv[1]).to_csv(sys.stdout, sep="\t")
