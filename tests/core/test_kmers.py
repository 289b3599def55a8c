import torch

from aam_core.config import ModelConfig
from aam_core.data.tokens import MASK, PAD, tokenize
from aam_core.model import AAM
from aam_core.model.aam import KmerEmbedding


def test_kmer_embedding_averages_valid_windows_by_hand():
    kmers = KmerEmbedding(2, 3)
    # A C G MASK T PAD: only AC (code 0*4+1) and CG (1*4+2) are whole 2-mers
    tokens = torch.tensor([[1, 2, 3, MASK, 4, PAD]])
    weight = kmers.embedding.weight
    torch.testing.assert_close(kmers(tokens)[0], (weight[1] + weight[6]) / 2)
    assert kmers(torch.tensor([[1]])).abs().sum() == 0  # shorter than k


def test_kmer_option_keeps_padding_invariance():
    torch.manual_seed(0)
    model = AAM(ModelConfig.preset("tiny", kmer_size=4)).eval()
    tokens = torch.from_numpy(tokenize(["ACGTACGGTTAC", "GGGTTTAAACCC"]).astype("int64"))
    with torch.no_grad():
        plain, _ = model.nucleotide_encoder(tokens)
        padded, _ = model.nucleotide_encoder(torch.nn.functional.pad(tokens, (0, 5)))
    torch.testing.assert_close(plain, padded, rtol=1e-5, atol=1e-5)
