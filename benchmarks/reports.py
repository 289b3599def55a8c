"""What the speed benchmarks share: one pretraining optimizer step, and
writing a report (JSON and Markdown under results/, a page under docs/)."""
from __future__ import annotations

import json
from pathlib import Path


def pretraining_step(model, objective, optimizer, builder, rows, rng, generator,
                     grad_clip: float):
    """Build the batch of `rows`, take one AdamW step on the pretraining
    objective (gradients clipped as the training loop clips them); the batch."""
    import torch
    batch = builder.build(rows, rng)
    total, _, _ = objective(model, batch, generator)
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return batch


def write_report(report: dict, table: str, out: Path, name: str, docs: Path | None,
                 title: str, page: str | None = None) -> None:
    """out/<name>.json and .md; with `docs`, docs/<page or name>.md headed `title`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / f"{name}.md").write_text(table)
    if docs is not None:
        docs.mkdir(parents=True, exist_ok=True)
        (docs / f"{page or name}.md").write_text(f"# {title}\n\n" + table)


def unweighted_unifrac(table, tree_path):
    """Unweighted UniFrac of a biom.Table's samples on the tree at
    `tree_path` (sheared to the table's features), as skbio computes it on
    every supported scikit-bio release."""
    import skbio
    from aam_core.skbio_compat import beta_diversity
    features = list(table.ids(axis="observation"))
    tree = skbio.TreeNode.read(str(tree_path)).shear(features)
    return beta_diversity("unweighted_unifrac", table.matrix_data.T.toarray().astype(int),
                          ids=list(table.ids()), taxa=features, tree=tree)
