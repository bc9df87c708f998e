import numpy as np

from chemloop.chem import SmilesTokenizer, canonical
from chemloop.data import TokenizedCorpus


def make_corpus(smiles):
    return TokenizedCorpus(smiles, SmilesTokenizer.from_corpus(smiles), block_size=64)


def test_an_epoch_covers_every_molecule_once(moses_sample):
    corpus = make_corpus(moses_sample)
    seen = []
    for batch in corpus.batches(32, np.random.default_rng(0)):
        seen += [corpus.tokenizer.decode(row) for row in batch.tolist()]
    assert sorted(seen) == sorted(moses_sample)


def test_batches_are_length_bucketed(moses_sample):
    corpus = make_corpus(moses_sample)
    batches = list(corpus.batches(32, np.random.default_rng(0)))
    padding = sum(int((b == corpus.tokenizer.pad_id).sum()) for b in batches)
    tokens = sum(b.numel() for b in batches)
    assert padding / tokens < 0.05  # random batches of MOSES would pad ~30%


def test_ranks_take_disjoint_batches(moses_sample):
    corpus = make_corpus(moses_sample)

    def molecules(rank):
        batches = corpus.batches(16, np.random.default_rng(3), rank=rank, world=2)
        return {corpus.tokenizer.decode(row) for b in batches for row in b.tolist()}

    first, second = molecules(0), molecules(1)
    assert first and second and not first & second


def test_randomized_batches_hold_the_same_molecules_in_other_spellings(moses_sample):
    smiles = moses_sample[:64]
    corpus = make_corpus(smiles)
    batch = next(corpus.batches(64, np.random.default_rng(0), randomize_smiles=True))
    decoded = [corpus.tokenizer.decode(row) for row in batch.tolist()]
    assert sorted(canonical(s) for s in decoded) == sorted(canonical(s) for s in smiles)
    assert len(set(decoded) - set(smiles)) > 32  # most are non-canonical spellings
