"""What a broad prior needs: standardized corpora from any file, a fixed held-out split, a
vocabulary covering drug-like chemistry, random spellings, and bf16 agreeing with fp32."""

import gzip
import random

import numpy as np
import pytest
import torch

from chemloop.chem.mol import canonical, randomize
from chemloop.chem.tokenizer import COMMON_EXTRA_TOKENS, SmilesTokenizer, split_smiles
from chemloop.data.batching import TokenizedCorpus
from chemloop.data.corpus import CorpusError, is_held_out, load_corpus
from chemloop.model import checkpoint
from chemloop.model.device import autocast
from chemloop.model.likelihood import log_likelihood
from chemloop.train.pretrain import PretrainConfig, pretrain


def test_standardize_keeps_the_largest_fragment_with_stereo_and_charges(tmp_path):
    path = tmp_path / "salts.smi"
    path.write_text(
        "C[C@H](N)C(=O)O.Cl\n"  # a salt: the counter-ion goes, the stereocentre stays
        "N[C@@H](C)C(=O)O\n"  # the same molecule, spelled otherwise: a duplicate
        "C[N+](C)(C)C.[Cl-]\n"  # the charge stays
        "OC(=O)/C=C/C(=O)O\n"
    )
    corpus = load_corpus(path, standardize=True)
    assert corpus.smiles == ["C[C@H](N)C(=O)O", "C[N+](C)(C)C", "O=C(O)/C=C/C(=O)O"]
    assert corpus.duplicates == 1


def test_a_gzipped_file_with_a_bad_row_names_the_row(tmp_path, tiny_model):
    path = tmp_path / "bad.smi.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("CCO\nc1ccccc1\nC1CC(\nCCN\n")
    with pytest.raises(CorpusError, match=r"line 3: 'C1CC\('"):
        pretrain(PretrainConfig(data=str(path), out=tmp_path / "run", max_steps=1, **tiny_model))
    assert load_corpus(path, skip_invalid=True).smiles == ["CCO", "c1ccccc1", "CCN"]


def test_held_out_split_depends_on_the_molecule_not_the_file_order(moses_sample):
    held = {s for s in moses_sample if is_held_out(s, 0.1, seed=0)}
    assert held == {s for s in reversed(moses_sample) if is_held_out(s, 0.1, seed=0)}
    assert 0.03 < len(held) / len(moses_sample) < 0.2
    assert held != {s for s in moses_sample if is_held_out(s, 0.1, seed=1)}


def test_pretrain_never_trains_on_held_out_molecules(tmp_path, smi_file, tiny_model):
    run = pretrain(
        PretrainConfig(
            data=str(smi_file), out=tmp_path / "run", max_steps=2, holdout_fraction=0.1, **tiny_model
        )
    )
    held = (run / "heldout.smi").read_text().split()
    assert held and all(is_held_out(s, 0.1, seed=0) for s in held)
    meta = checkpoint.load(run).metadata
    assert meta["heldout_molecules"] == len(held)
    assert meta["train_molecules"] + len(held) == len(set(smi_file.read_text().split()))
    assert meta["randomized_smiles"] is True


def test_random_spelling_batches_hold_the_same_molecules(moses_sample):
    tokenizer = SmilesTokenizer.from_corpus(moses_sample, extra=COMMON_EXTRA_TOKENS)
    corpus = TokenizedCorpus(moses_sample[:64], tokenizer, block_size=128)
    rows = next(corpus.batches(64, np.random.default_rng(0), randomize_smiles=True))
    spelled = [tokenizer.decode(row) for row in rows]
    assert sorted(canonical(s) for s in spelled) == sorted(canonical(s) for s in moses_sample[:64])
    assert sum(s not in moses_sample for s in spelled) > 32  # most are not the canonical spelling


def test_the_vocabulary_covers_zinc_and_its_longest_molecule_fits(zinc_file):
    shipped = SmilesTokenizer.load(checkpoint.resolve(checkpoint.DEFAULT_PRIOR) / "vocab.json").tokens
    known = set(shipped) | set(COMMON_EXTRA_TOKENS)
    with gzip.open(zinc_file, "rt") as handle:
        lines = [line.split()[0] for line in handle if line.strip()]
    tokens = [split_smiles(s) for s in lines]
    missing = {t for ts in tokens for t in ts} - known
    assert not missing, f"ZINC-250k tokens missing from the vocabulary: {sorted(missing)}"
    longest = max(map(len, tokens)) + 2  # <bos>, <eos>
    assert longest <= 0.8 * PretrainConfig().block_size, "the context must fit ZINC's longest with margin"


@pytest.mark.slow
def test_a_model_trained_on_random_spellings_scores_spellings_alike(tmp_path, smi_file, tiny_model):
    """Canonical training leaves random spellings far less likely; random training does not."""
    molecules = [canonical(s) for s in smi_file.read_text().split()[:60]]
    torch.manual_seed(0)
    spelled = [randomize(s, random.Random(i)) for i, s in enumerate(molecules)]
    gaps = {}
    for randomized in (False, True):
        run = pretrain(
            PretrainConfig(
                data=str(smi_file),
                out=tmp_path / f"random-{randomized}",
                max_steps=150,
                batch_size=64,
                lr=3e-3,
                warmup_steps=10,
                eval_interval=150,
                randomize=randomized,
                **tiny_model,
            )
        )
        lm = checkpoint.load(run)
        nll_canonical = -log_likelihood(lm.model, lm.tokenizer, molecules).mean().item()
        nll_random = -log_likelihood(lm.model, lm.tokenizer, spelled).mean().item()
        gaps[randomized] = (nll_random - nll_canonical) / nll_canonical
    assert gaps[True] < 0.25, gaps
    assert gaps[False] > gaps[True] + 0.1, gaps


def test_bf16_and_fp32_give_the_same_log_likelihoods(tiny_lm, moses_sample):
    smiles = moses_sample[:50]
    fp32 = log_likelihood(tiny_lm.model, tiny_lm.tokenizer, smiles)
    with autocast(torch.device("cpu"), "bf16"):
        bf16 = log_likelihood(tiny_lm.model, tiny_lm.tokenizer, smiles)
    assert torch.allclose(bf16, fp32, rtol=0.02, atol=0.5), (bf16 - fp32).abs().max()
    assert not torch.equal(bf16, fp32)  # bf16 really ran


def test_the_shipped_zinc_prior_writes_stereo_charges_and_random_spellings(moses_sample):
    """The broad prior loads by name, spells drug-like chemistry MOSES lacks, and rates a random
    spelling of a molecule about as likely as its canonical one (the MOSES prior: ~75 nats less)."""
    lm = checkpoint.load("zinc")
    assert lm.writes_random_spellings
    for token in ("[C@@H]", "[C@H]", "[NH+]", "[O-]", "[nH+]", "/", "\\"):
        lm.tokenizer.encode(f"C{token}C" if token not in ("/", "\\") else f"C{token}C=C{token}C")
    molecules = [canonical(s) for s in moses_sample[:100]]
    spelled = [randomize(s, random.Random(i)) for i, s in enumerate(molecules)]
    nll_canonical = -log_likelihood(lm.model, lm.tokenizer, molecules).mean().item()
    nll_random = -log_likelihood(lm.model, lm.tokenizer, spelled).mean().item()
    assert (nll_random - nll_canonical) / nll_canonical < 0.25, (nll_random, nll_canonical)
