"""The MOSES metrics on small hand-made sets (reference statistics built from given lists)."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from rdkit import Chem

from chemloop.bench import moses_metrics as mm
from chemloop.bench.moses_reference import METRIC_KEYS, PUBLISHED, format_table
from chemloop.data.corpus import load_moses, moses_data_dir

GENERATED = ["CCO", "OCC", "c1ccccc1", "", "C1CC", "not a smiles", "CCN"]
RHODANINE = "O=C1C(=Cc2ccccc2)SC(=S)N1"  # 5-benzylidene rhodanine: the PAINS ene_rhod motif


@pytest.fixture(scope="module")
def test_split() -> list[str]:
    return load_moses("test")


def test_validity_uniqueness_novelty():
    canon = [mm.canonical_or_none(s) for s in GENERATED]
    valid = [c for c in canon if c is not None]
    assert mm.fraction_valid(GENERATED) == pytest.approx(4 / 7)
    assert mm.fraction_valid_from(canon) == pytest.approx(4 / 7)
    assert valid == ["CCO", "CCO", "c1ccccc1", "CCN"]
    assert mm.unique_at_k(valid, 2) == pytest.approx(0.5)  # the first two are both ethanol
    with pytest.warns(UserWarning, match="only 4 valid"):
        assert mm.unique_at_k(valid, 1000) == pytest.approx(3 / 4)
    train = {mm.canonical_or_none(s) for s in ["OCC", "CCCC"]}
    assert mm.novelty(valid, train) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        mm.fraction_valid([])


def test_internal_diversity_of_identical_molecules_is_zero():
    fps = mm.fingerprints_of(["c1ccccc1CCN"] * 6)
    assert mm.internal_diversity(fps, 1) == pytest.approx(0.0, abs=1e-7)
    assert mm.internal_diversity(fps, 2) == pytest.approx(0.0, abs=1e-7)
    diverse = mm.fingerprints_of(["CCO", "c1ccccc1", "CC(=O)Nc1ccc(O)cc1", "C1CCNCC1"])
    assert 0.5 < mm.internal_diversity(diverse, 1) < 1


def test_snn_of_a_set_against_itself_is_one(test_split):
    fps = mm.fingerprints_of(test_split[:60])
    assert np.allclose(mm.max_tanimoto(fps, fps, q_chunk=16, r_chunk=25), 1.0)
    other = mm.fingerprints_of(test_split[60:120])
    assert mm.max_tanimoto(fps, other).mean() < 0.9


def test_snn_matches_rdkit_bulk_tanimoto(test_split):
    from rdkit import DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    q, r = test_split[:40], test_split[40:240]
    fq = [gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in q]
    fr = [gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in r]
    expected = [max(DataStructs.BulkTanimotoSimilarity(f, fr)) for f in fq]
    ours = mm.max_tanimoto(mm.fingerprints_of(q), mm.fingerprints_of(r), q_chunk=16, r_chunk=64)
    assert np.allclose(ours, expected)


def test_cosine_similarity_of_counts():
    assert mm.cos_similarity({"a": 1, "b": 2}, {"a": 1, "b": 2}) == pytest.approx(1.0)
    assert mm.cos_similarity({"a": 1}, {"b": 3}) == 0.0
    assert math.isnan(mm.cos_similarity({}, {"a": 1}))


def test_filters():
    assert mm.passes_filters("CC(=O)Nc1ccc(O)cc1")  # paracetamol
    assert not mm.passes_filters("C[N+](C)(C)C")  # charged
    assert not mm.passes_filters("CC(=O)[O-]")
    assert not mm.passes_filters("CCCP")  # phosphorus is not allowed
    assert not mm.passes_filters("C1CCCCCCC1")  # an 8-membered ring
    assert not mm.passes_filters("")
    # the rhodanine breaks no atom, charge or ring rule: a PAINS pattern rejects it
    assert not mm.passes_filters(RHODANINE)
    with (moses_data_dir().parent.parent / "metrics" / "wehi_pains.csv").open() as handle:
        pains = [Chem.MolFromSmarts(row[0].strip()) for row in csv.reader(handle) if row]
    with_h = Chem.AddHs(Chem.MolFromSmiles(RHODANINE))
    assert any(with_h.HasSubstructMatch(p) for p in pains)


@pytest.mark.slow
def test_moses_metrics_on_small_references(test_split):
    ref, other = test_split[:50], test_split[1000:1050]
    generated = [*ref, "", "C1CC"]
    with pytest.warns(UserWarning, match="unique@1000"):
        out = mm.moses_metrics(generated, train=ref[:25], test=ref, test_scaffolds=other, n_jobs=1)
    assert list(out) == list(METRIC_KEYS)
    assert out["valid"] == pytest.approx(50 / 52)
    assert out["unique@1000"] == 1.0
    assert out["FCD/Test"] == pytest.approx(0.0, abs=1e-3)
    assert out["FCD/TestSF"] > 1.0
    assert out["SNN/Test"] == pytest.approx(1.0)
    assert out["Frag/Test"] == pytest.approx(1.0)
    assert out["Scaf/Test"] == pytest.approx(1.0)
    assert out["SNN/TestSF"] < 0.9
    assert 0.8 < out["IntDiv1"] < 0.95 and out["IntDiv2"] < out["IntDiv1"]
    assert out["Filters"] == 1.0  # MOSES molecules pass the MOSES filters by construction
    assert out["Novelty"] == pytest.approx(0.5)


def test_reference_stats_round_trip(tmp_path, test_split):
    stats = mm.ReferenceStats(
        mu=np.arange(3.0),
        sigma=np.eye(3),
        fingerprints=mm.fingerprints_of(test_split[:5]),
        fragments={"[1*]C": 2},
        scaffolds={"c1ccccc1": 1},
        n=5,
    )
    stats.save(tmp_path / "ref")
    back = mm.ReferenceStats.load(tmp_path / "ref")
    assert np.array_equal(back.fingerprints, stats.fingerprints)
    assert back.fragments == stats.fragments and back.n == 5
    with np.load(tmp_path / "ref.npz", allow_pickle=False) as data:
        assert set(data.files) == {"mu", "sigma", "fingerprints"}


def test_published_rows_and_table():
    for row in PUBLISHED.values():
        assert set(row) == set(METRIC_KEYS)
    assert PUBLISHED["CharRNN"]["FCD/Test"] == 0.0732
    table = format_table(dict.fromkeys(METRIC_KEYS, 0.5), "ours")
    assert table.row_count == len(METRIC_KEYS)
    assert len(table.columns) == 2 + len(PUBLISHED)
