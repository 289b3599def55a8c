"""Sequences -> tokens, tables -> batches, rarefaction, targets."""
