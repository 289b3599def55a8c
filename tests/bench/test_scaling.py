"""benchmarks.scaling's resampling: real samples, distinct variant ASVs,
the blocks the steps read; and the memory limits by hand."""
import numpy as np
import scipy.sparse as sp

from benchmarks import scaling


def test_asv_variants_are_distinct_and_own_their_real_asv():
    rng = np.random.default_rng(0)
    real = ["ACGTACGTAC", "TTTTGGGGCC", "ACGTACGTAA"]
    variants, variants_of = scaling.asv_variants(real, 10, rng)
    assert len(variants) == 10 == len(set(variants))
    assert variants[:3] == real
    assert [v[0] for v in variants_of] == [0, 1, 2]  # each real ASV is its first variant
    assert sorted(np.concatenate(variants_of)) == list(range(10))
    for i, own in enumerate(variants_of):
        for v in own[1:]:  # 1-3 point mutations of their own real ASV
            assert 1 <= sum(a != b for a, b in zip(variants[v], real[i])) <= 3


def test_resampled_rows_keep_each_real_samples_profile():
    rng = np.random.default_rng(1)
    counts = sp.csr_matrix(np.array([[5, 0, 1], [0, 2, 0], [3, 3, 3]], dtype=float))
    variants_of = [np.array([0, 3]), np.array([1, 4, 5]), np.array([2])]
    matrix, source = scaling.resample_counts(counts, 20, variants_of, 6, rng)
    assert matrix.shape == (20, 6)
    owner = {v: i for i, own in enumerate(variants_of) for v in own}
    for row, s in enumerate(source):
        got = np.zeros(3)
        for v, c in zip(matrix[row].indices, matrix[row].data):
            got[owner[v]] += c
        np.testing.assert_array_equal(got, counts[s].toarray().ravel())
    # reads of one real ASV do land on its different variants
    assert len(set(matrix[:, [0, 3]].nonzero()[1])) == 2


def test_fill_blocks_writes_the_batches_blocks_only(tmp_path):
    source_distances = np.arange(16, dtype=np.float32).reshape(4, 4)
    source = np.array([3, 0, 2, 1, 1])
    matrix = np.lib.format.open_memmap(tmp_path / "d.npy", mode="w+",
                                       dtype=np.float32, shape=(5, 5))
    scaling.fill_blocks(matrix, source_distances, source, [np.array([4, 0])])
    assert matrix[0, 4] == source_distances[3, 1] and matrix[4, 0] == source_distances[1, 3]
    assert matrix[1, 2] == 0  # never read by the timed steps: never written


def test_distance_memory_limits():
    # 16 bytes per cell on 24 GiB: sqrt(24 * 2^30 / 16)
    assert scaling.distance_memory_limit(16) == int(np.sqrt(24 * 2 ** 30 / 16))
    assert scaling.distance_memory_limit(12) > scaling.distance_memory_limit(16)
    assert scaling.distance_memory_limit(4, ram_gb=40) > 100_000
