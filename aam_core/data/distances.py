"""Distance matrices read lazily: each batch reads only its own block.

A pretraining set of N samples has an N x N matrix (100,000 samples: 40 GB
in float32), more than one machine's memory. So the `aam` CLI opens the
matrix without reading it: a .npy file is memory-mapped, an HDF5 file (as
unifrac's `ssu --format hdf5` writes it: datasets 'order' and 'matrix') is
read through h5py, and only the rows x columns of each batch are read.
A TSV matrix (skbio / `qiime tools export` layout) is text, so it is read
whole, then indexed the same way.

check_distances is the one check of a matrix's values, for both routes (the
QIIME 2 actions' skbio.DistanceMatrix and the `aam` command's files): finite,
non-negative, symmetric, zero on the diagonal. A matrix in memory is checked
whole where it is read; a lazy one block by block as batches read it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..errors import AAMInputError, refuse_missing


@dataclass
class DistanceFile:
    """A square matrix (ndarray, memmap or h5py dataset) and its sample ids."""
    ids: list
    matrix: object
    source: str = "the distance matrix"

    def __post_init__(self):
        shape = tuple(self.matrix.shape)
        if len(shape) != 2 or shape[0] != shape[1]:
            raise AAMInputError(f"{self.source} must be square, not of shape {shape}.")
        if shape[0] != len(self.ids):
            raise AAMInputError(f"{self.source} has {shape[0]} rows but {len(self.ids)} "
                                "sample ids: give one sample id per row, in the "
                                "matrix's row order.")
        if len(set(self.ids)) != len(self.ids):
            raise AAMInputError(f"{self.source} has repeated sample ids.")
        # a lazy matrix is checked block by block as batches read it; its
        # corner now, so that a wrong kind of matrix is refused before training
        corner = min(shape[0], _CORNER)
        check_distances(np.asarray(self.matrix[:corner, :corner], dtype=np.float32),
                        self.source)

    def view(self, sample_ids: Sequence[str]) -> "DistanceView":
        """The matrix seen by dataset row: row i is sample_ids[i]."""
        return DistanceView(self.matrix, matrix_positions(self.ids, sample_ids, self.source),
                            self.source)


def matrix_positions(matrix_ids: Sequence[str], sample_ids: Sequence[str],
                     source: str) -> np.ndarray:
    """Row of each sample in a matrix; an error names samples it lacks."""
    position = {str(s): i for i, s in enumerate(matrix_ids)}
    refuse_missing(sample_ids, position, source, "Compute the distances on this "
                   "table, or filter the table to the matrix's samples.")
    return np.array([position[s] for s in sample_ids], dtype=np.int64)



@dataclass
class DistanceView:
    """Blocks of a DistanceFile by dataset row; nothing read until asked."""
    matrix: object
    positions: np.ndarray  # dataset row -> matrix row
    source: str = "the distance matrix"
    scale: float = 1.0     # blocks are divided by it (distance_scale)

    def block(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        r, c = self.positions[rows], self.positions[columns]
        if isinstance(self.matrix, np.ndarray):  # in memory or memory-mapped
            block = np.asarray(self.matrix[np.ix_(r, c)], dtype=np.float32)
        else:  # h5py reads increasing, distinct rows only
            distinct, inverse = np.unique(r, return_inverse=True)
            block = np.asarray(self.matrix[distinct], dtype=np.float32)[inverse][:, c]
        check_distances(block, self.source, square=np.array_equal(rows, columns))
        return block if self.scale == 1.0 else block / np.float32(self.scale)


def square_block(matrix: np.ndarray, index: np.ndarray,
                 source: str = "the distance matrix", band: int = 1024) -> np.ndarray:
    """matrix[index][:, index] as float32, a band of rows at a time.

    For an in-memory matrix (skbio's float64 DistanceMatrix): casting the
    whole matrix first, then indexing, held two full-size float32 copies
    beside it (16 N^2 bytes in all: ~38,000 samples on 24 GB); band by band
    only the result is added (12 N^2: ~44,000 samples; benchmarks.scaling).
    """
    index = np.asarray(index, dtype=np.int64)
    block = np.empty((len(index), len(index)), dtype=np.float32)
    for start in range(0, len(index), band):
        rows = np.asarray(matrix[index[start:start + band]])[:, index]
        if not np.isfinite(rows).all():
            raise AAMInputError(f"{source[0].upper()}{source[1:]} holds NaN or "
                                "infinite values.")
        block[start:start + band] = rows
    return block


def take(distances, rows, columns, device: torch.device) -> torch.Tensor:
    """True distances of rows x columns (dataset rows) as a float32 tensor,
    from an in-memory tensor or a lazy DistanceView."""
    if isinstance(distances, DistanceView):
        rows, columns = (np.asarray(x.cpu() if torch.is_tensor(x) else x, dtype=np.int64)
                         for x in (rows, columns))
        return torch.from_numpy(distances.block(rows, columns)).to(device)
    rows, columns = (torch.as_tensor(x, dtype=torch.long).to(distances.device)
                     for x in (rows, columns))
    return distances[rows][:, columns].to(device)


# -- the scale the distance loss works in ----------------------------------------

def distance_scale(distances) -> float:
    """What the distance loss divides the distances by: 1 for distances
    within [0, 1] (UniFrac, Bray-Curtis, Jaccard: the scale the objective's
    weights were tuned on), otherwise their largest value, so that unbounded
    distances (Aitchison, Euclidean, unnormalised weighted UniFrac) enter the
    loss in [0, 1] too. A sample embedding starts at a norm of a few units
    (LayerNorm), far from distances of tens, which it would not learn to
    reach. A lazy matrix: the largest over a block of up to _CORNER samples
    spread over it (reading it all could take hours)."""
    if isinstance(distances, DistanceView):
        n = len(distances.positions)
        rows = np.unique(np.linspace(0, n - 1, min(n, _CORNER)).astype(np.int64))
        corner = np.asarray(distances.block(rows, rows), dtype=np.float64)
        largest = float(corner.max()) * distances.scale
    else:
        n = len(distances)
        largest = float(distances.max()) if n else 0.0
        rows = np.unique(np.linspace(0, n - 1, min(n, _CORNER)).astype(np.int64))
        corner = np.asarray(distances[rows][:, rows], dtype=np.float64)
    if n > 1 and largest == 0:
        raise AAMInputError(
            "The distance matrix is 0 between every two samples of the table: it "
            "says every sample is the same, so the distance loss has nothing to "
            "learn. Compute the distances on this table's samples (a table whose "
            "samples share one feature gives such a matrix), or leave them out.")
    # (the samples of the corner, for a matrix too large to read whole)
    apart = corner[~np.eye(len(corner), dtype=bool)]
    if len(corner) > 2 and apart.min() == apart.max():
        raise AAMInputError(
            f"The distance matrix is {largest:g} between every two samples of the "
            "table: it tells no sample from another, so the distance loss has nothing "
            "to learn. Compute the distances on this table's samples, or leave them out.")
    return largest if largest > 1 + _TOLERANCE else 1.0


def scaled(distances, scale: float):
    """The distances divided by `scale`: a new tensor, or a lazy view that
    divides each block it reads."""
    if scale == 1.0 or distances is None:
        return distances
    if isinstance(distances, DistanceView):
        return replace(distances, scale=distances.scale * scale)
    return distances / scale


# -- checking the values -------------------------------------------------------

_TOLERANCE = 1e-5  # float32 text round trips and unifrac's own rounding
_ROWS = 1024       # rows compared at a time in the symmetry check
_CORNER = 512      # a lazy matrix: its first rows x columns checked at opening


def check_distances(block: np.ndarray, source: str, square: bool = True) -> None:
    """Refuse a matrix (or a block of one) that no distance matrix can be.
    square: `block` holds the same samples as rows and columns, in order, so
    its symmetry and its diagonal are checked as well."""
    block = np.asarray(block)
    if not np.isfinite(block).all():
        raise AAMInputError(f"{source} holds NaN or infinite values; recompute it "
                            "(e.g. without empty samples).")
    if (block < 0).any():
        raise AAMInputError(f"{source} holds negative values (e.g. {block.min():g}); "
                            "distances are 0 or more. Is it a distance matrix?")
    if not square or block.size == 0:
        return
    scale = max(1.0, float(block.max()))
    diagonal = np.abs(np.diagonal(block)).max()
    if diagonal > _TOLERANCE * scale:
        raise AAMInputError(f"{source} is not hollow: a sample's distance to itself "
                            f"is {diagonal:g}, not 0. Is it a distance matrix (not a "
                            "similarity)?")
    asymmetry = max(np.abs(block[i:i + _ROWS] - block[:, i:i + _ROWS].T).max()
                    for i in range(0, len(block), _ROWS))  # in slices: no copy of it all
    if asymmetry > _TOLERANCE * scale:
        raise AAMInputError(f"{source} is not symmetric: d(a, b) and d(b, a) differ "
                            f"by up to {asymmetry:g}. Is it a distance matrix?")


# -- reading ----------------------------------------------------------------

def read_distances(path: str | Path, ids_path: str | Path | None = None) -> DistanceFile:
    """A distance matrix from .tsv/.txt, .npy (with an ids file) or .h5/.hdf5."""
    path = Path(path)
    if not path.is_file():
        raise AAMInputError(f"No distance matrix at {path}.")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _read_npy(path, ids_path)
    import h5py
    if suffix in (".h5", ".hdf5", ".hdf") or h5py.is_hdf5(path):
        # by content too: a .biom table given here failed as text in codec words
        return _read_hdf5(path)
    return _read_tsv(path)


def _read_npy(path: Path, ids_path) -> DistanceFile:
    if ids_path is None:
        raise AAMInputError(
            f"{path} is a bare .npy array: give its sample ids with --distance-ids "
            "(a text file, one id per line, in the matrix's row order).")
    ids = _read_ids(Path(ids_path))
    try:
        matrix = np.load(path, mmap_mode="r")
    except ValueError as error:
        raise AAMInputError(f"{path} is not a readable .npy array: {error}") from error
    return DistanceFile(ids, matrix, f"the distance matrix {path.name}")


def _read_ids(path: Path) -> list:
    """--distance-ids: one id a line, as text (a gzip of it failed in Python's
    codec words)."""
    from .io import existing, packed
    problem = "is a directory" if existing(path, "--distance-ids").is_dir() else packed(path)
    if problem:
        raise AAMInputError(f"--distance-ids {path} {problem}; give a text file of the "
                            "matrix's sample ids, one a line.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise AAMInputError(f"--distance-ids {path} is not text (byte {error.start} is "
                            "not UTF-8); give the matrix's sample ids, one a line.") from error
    return [line.strip() for line in text.splitlines() if line.strip()]


def _read_hdf5(path: Path) -> DistanceFile:
    import h5py  # biom-format needs it, so it is there wherever tables are read
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise AAMInputError(f"{path} is not a readable HDF5 file: {error}") from error
    if "matrix" not in handle or "order" not in handle:
        raise AAMInputError(
            f"{path} lacks the datasets 'order' and 'matrix' that unifrac's "
            "`ssu --format hdf5` writes.")
    ids = [i.decode() if isinstance(i, bytes) else str(i) for i in handle["order"][:]]
    return DistanceFile(ids, handle["matrix"], f"the distance matrix {path.name}")


def _read_tsv(path: Path) -> DistanceFile:
    import pandas as pd

    from .io import packed, refuse_fasta
    if problem := packed(path):  # read as text, it failed in Python's codec words
        raise AAMInputError(f"The distance matrix {path} {problem}.")
    with open(path, "rb") as handle:  # its rows failed as "row ids do not match"
        refuse_fasta(handle.read(1).decode("latin-1"), f"The distance matrix {path}",
                     "distances (a tab-separated square matrix with a header of sample "
                     "ids, a .npy with --distance-ids, or HDF5)")
    try:
        with open(path, encoding="utf-8") as handle:
            header = handle.readline().rstrip("\n").split("\t")[1:]
        # ids such as NA, nan or None are ids (only an empty cell is missing)
        frame = pd.read_csv(path, sep="\t", header=None, skiprows=1, index_col=0,
                            dtype={0: str}, keep_default_na=False, na_values=[""])
        if header and header[-1] == "" and frame.shape[1] == len(header) \
                and frame.iloc[:, -1].isna().all():
            # a tab at the end of every line (spreadsheets write one): no column
            header, frame = header[:-1], frame.iloc[:, :-1]
        matrix = frame.to_numpy(dtype=np.float32)
    except ValueError as error:  # UnicodeDecodeError included: not text
        raise AAMInputError(f"{path} is not a tab-separated distance matrix (a "
                            f"header of ids, then one row per id): {error}") from error
    if list(frame.index) != header:
        raise AAMInputError(f"{path}: the row ids do not match the column ids; "
                            "a distance matrix lists the same ids in the same order.")
    source = f"the distance matrix {path.name}"
    check_distances(matrix, source)
    return DistanceFile(header, matrix, source)
