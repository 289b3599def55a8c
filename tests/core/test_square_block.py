"""data.distances.square_block: the in-memory distance block, band by band."""
import numpy as np
import pytest

from aam_core import api
from aam_core.data.distances import square_block
from aam_core.errors import AAMInputError


def test_square_block_equals_indexing_the_whole_matrix():
    rng = np.random.default_rng(0)
    matrix = rng.random((7, 7))
    index = np.array([6, 0, 3, 3, 1])
    block = square_block(matrix, index, band=2)  # bands of 2, 2 and 1 rows
    assert block.dtype == np.float32
    np.testing.assert_array_equal(block, matrix[np.ix_(index, index)].astype(np.float32))


def test_square_block_refuses_non_finite_values_in_any_band():
    matrix = np.zeros((5, 5))
    matrix[4, 1] = np.nan
    with pytest.raises(AAMInputError, match="The distance matrix holds NaN"):
        square_block(matrix, np.arange(5), band=2)


def test_distance_block_of_a_distance_matrix_follows_the_sample_order():
    import skbio
    data = np.array([[0, 1, 2], [1, 0, 3], [2, 3, 0]], dtype=float)
    matrix = skbio.DistanceMatrix(data, ["a", "b", "c"])
    block = api.distance_block(matrix, ["c", "a"])
    np.testing.assert_array_equal(block, np.array([[0, 2], [2, 0]], dtype=np.float32))
    with pytest.raises(AAMInputError, match="not in the distance matrix"):
        api.distance_block(matrix, ["a", "zz"])
