import random

import numpy as np
import pytest
from rdkit import Chem

from chemloop.chem import (
    InvalidSmilesError,
    SmilesTokenizer,
    TokenizerError,
    canonical,
    randomize,
    split_smiles,
    to_mol,
    try_canonical,
)
from chemloop.data.corpus import load_moses


def test_canonical_is_stable_across_spellings():
    assert canonical("OCC") == canonical("C(O)C") == "CCO"


def test_invalid_smiles_error_names_the_input():
    with pytest.raises(InvalidSmilesError, match=r"line 3.*C1CC"):
        to_mol("C1CC", where="line 3")
    assert try_canonical("C1CC") is None
    assert try_canonical("") is None


def test_to_mol_passes_molecules_through():
    mol = Chem.MolFromSmiles("c1ccccc1")
    assert to_mol(mol) is mol


def test_randomized_smiles_is_the_same_molecule_and_reproducible_from_the_generator():
    smiles = "C[C@H](N)C(=O)Nc1ccc([N+](=O)[O-])cc1"
    spellings = [randomize(smiles, random.Random(seed)) for seed in range(20)]
    assert {canonical(s) for s in spellings} == {canonical(smiles)}  # stereo and charges kept
    assert len(set(spellings)) > 5  # random spellings, not one
    assert spellings == [randomize(smiles, random.Random(seed)) for seed in range(20)]  # same seed, same
    rng = np.random.default_rng(3)
    assert [randomize(smiles, rng) for _ in range(5)] == [
        randomize(smiles, r) for r in [np.random.default_rng(3)] for _ in range(5)
    ]


@pytest.mark.parametrize(
    ("smiles", "tokens"),
    [
        ("CCl", ["C", "Cl"]),
        ("c1cc[nH]c1", ["c", "1", "c", "c", "[nH]", "c", "1"]),
        ("Br/C=C\\[C@@H](N)O", ["Br", "/", "C", "=", "C", "\\", "[C@@H]", "(", "N", ")", "O"]),
        ("C%12CC%12", ["C", "%12", "C", "C", "%12"]),
        ("[Na+].[O-]C#N", ["[Na+]", ".", "[O-]", "C", "#", "N"]),
    ],
)
def test_split_smiles(smiles, tokens):
    assert split_smiles(smiles) == tokens


def test_uncovered_character_is_an_error_naming_it():
    with pytest.raises(TokenizerError, match=r"'&' at position 1"):
        split_smiles("C&C")


def test_token_outside_vocabulary_is_an_error_not_dropped():
    tokenizer = SmilesTokenizer.from_corpus(["CCO", "c1ccccc1"])
    with pytest.raises(TokenizerError, match=r"\[Xe\]"):
        tokenizer.encode("C[Xe]")


def test_encode_decode_and_vocab_file(tmp_path):
    tokenizer = SmilesTokenizer.from_corpus(["CCO", "c1ccccc1Cl"], extra=["[C@@H]"])
    ids = tokenizer.encode("OCCl")
    assert ids[0] == tokenizer.bos_id and ids[-1] == tokenizer.eos_id
    assert tokenizer.decode(ids) == "OCCl"
    tokenizer.save(tmp_path / "vocab.json")
    assert SmilesTokenizer.load(tmp_path / "vocab.json").tokens == tokenizer.tokens
    assert "[C@@H]" in tokenizer.tokens


def test_unreadable_vocab_file_is_a_clear_error(tmp_path):
    (tmp_path / "vocab.json").write_text("{not json")
    with pytest.raises(TokenizerError, match="vocab.json"):
        SmilesTokenizer.load(tmp_path / "vocab.json")


@pytest.mark.slow
def test_tokenizer_round_trips_the_whole_moses_training_set():
    smiles = load_moses("train")
    assert len(smiles) > 1_500_000
    tokenizer = SmilesTokenizer.from_corpus(smiles)
    failures = [s for s in smiles if tokenizer.decode(tokenizer.encode(s)) != s]
    assert failures == []


def test_a_canonical_smiles_that_does_not_read_back_counts_as_invalid(monkeypatch):
    from chemloop.chem import mol as mol_module

    unreadable = "O=S1NS(=O)(=O)Cc2sccc2=C1c1cccs1"  # RDKit wrote this in a PMO run and cannot parse it
    assert mol_module.try_mol(unreadable) is None
    assert mol_module.try_canonical("OCC") == "CCO"
    monkeypatch.setattr(mol_module.Chem, "MolToSmiles", lambda mol, **kwargs: unreadable)
    assert mol_module.try_canonical("CCO") is None


def test_candidates_are_new_compounds_not_new_charge_states():
    """A measured amine's ammonium, a salt of a proposal and a second charge state of one candidate
    are compounds the campaign has already made or chosen: only the first form of a new parent is a
    candidate."""
    from chemloop.chem.mol import new_compounds

    known = ["CN1CCN(c2ccccc2)CC1", "O=C(O)Cc1ccccc1"]  # measured as the neutral amine, proposed as the acid
    written = [
        "C[NH+]1CCN(c2ccccc2)CC1",  # the measured amine at pH 7
        "O=C([O-])Cc1ccccc1",  # the proposed acid as its anion
        "CC[NH+]1CCN(c2ccccc2)CC1",  # new
        "CCN1CCN(c2ccccc2)CC1",  # the same new compound, neutral
        "CCO",  # new
    ]
    assert new_compounds(written, known) == ["CC[NH+]1CCN(c2ccccc2)CC1", "CCO"]
