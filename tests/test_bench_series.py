"""The series benchmark's rule, lab and protocol on a small hand-made corpus with a tiny model."""

from __future__ import annotations

import pytest

from chemloop.bench.series import Series, find_series
from chemloop.bench.series_campaign import SeriesLab, bench_series_campaign
from chemloop.chem.mol import canonical
from chemloop.errors import ChemloopError

GROUPS = [
    "C",
    "CC",
    "OC",
    "F",
    "Cl",
    "Br",
    "N",
    "O",
    "N#C",
    "FC(F)(F)",
    "CCC",
    "OCC",
    "C(C)C",
    "NC",
    "SC",
    "I",
]
INDOLES = [f"{g}c1ccc2[nH]c(-c3ccccc3)cc2c1" for g in GROUPS] + [
    f"{g}c1ccc(-c2cc3ccccc3[nH]2)cc1" for g in GROUPS
]
PYRAZOLES = [f"{g}c1ccc(-n2cccn2)cc1" for g in GROUPS]
BENZANILIDES = [f"{g}c1ccc(NC(=O)c2ccccc2)cc1" for g in GROUPS] * 3  # all-carbon rings: never a series


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.smi"
    path.write_text("\n".join(INDOLES + PYRAZOLES + BENZANILIDES) + "\n")
    return path


def test_series_rule_prefers_large_heterocyclic_scaffolds(corpus):
    found = find_series(str(corpus), count=3, size=20, min_members=10)
    assert [s.scaffold for s in found] == [
        canonical("c1ccc(-c2cc3ccccc3[nH]2)cc1"),
        canonical("c1ccc(-n2cccn2)cc1"),
    ]
    distinct = [len({canonical(s) for s in group}) for group in (INDOLES, PYRAZOLES)]
    assert [s.members for s in found] == distinct and len(found[0].smiles) == 20


def test_the_lab_rewards_the_series_and_the_target(corpus):
    [indoles] = find_series(str(corpus), count=1, min_members=10)
    target = indoles.smiles[3]
    lab = SeriesLab(indoles, target)
    on, off = lab.measure([target, "CCCCCCCC"])
    assert on == pytest.approx(10.0) and off < 1.0
    assert lab.in_series(indoles.smiles[0]) and not lab.in_series("c1ccc(-n2cccn2)cc1")
    # A series found in pH-7 forms has a charged scaffold; its members' parents are in the series.
    charged = Series(canonical("c1ccc(C[NH+]2CCCCC2)cc1"), 0, [])
    amines = SeriesLab(charged, "CC1CC[NH+](Cc2ccccc2)CC1")
    assert amines.in_series("CC1CCN(Cc2ccccc2)CC1") and amines.in_series("CC1CC[NH+](Cc2ccccc2)CC1")
    assert amines.measure(["CC1CCN(Cc2ccccc2)CC1"]) == pytest.approx([10.0])
    assert not SeriesLab(charged, "CC1CC[NH+](Cc2ccccc2)CC1", "as-written").in_series("CC1CCN(Cc2ccccc2)CC1")
    # The target as a hydrochloride is the same compound to the lab; as written, another molecule.
    salt = f"{target}.Cl"
    assert lab.measure([salt]) == pytest.approx([10.0])
    assert SeriesLab(indoles, target, "as-written").measure([salt])[0] < 10.0


@pytest.mark.slow
def test_series_protocol_runs_the_real_campaign(corpus, monkeypatch):
    partial = []
    settings = dict(
        series_count=1,
        rounds=1,
        batch=3,
        seed_molecules=6,
        min_members=10,
        # The shipped prior: the tiny test model writes too few valid molecules for a round.
        campaign={"candidates": 200, "rl_steps": 1, "rl_batch_size": 8, "finetune_epochs": 1},
        reward={"ensemble": 2, "hidden": 8, "epochs": 3, "cv_folds": 0},
    )
    # The campaign keeps the default constitution (its default filter): the share violating it is 0.
    result = bench_series_campaign(str(corpus), on_run=partial.append, **settings)
    [run] = result["runs"]
    assert [p["complete"] for p in partial] == [False] and result["complete"]
    assert "cores" in result["machine"]
    assert partial[0]["runs"] == result["runs"]  # what a stopped benchmark would have kept
    assert [c["type"] for c in result["constraints"]["components"]] == ["constitution"]
    assert run["methods"]["chemloop"]["violating"] == 0.0 == result["summary"]["chemloop"]["violating"]
    assert 0 <= run["methods"]["random"]["violating"] <= 1
    assert run["target"] not in run["seed_molecules"] and len(run["seed_molecules"]) == 6
    for method in ("chemloop", "random", "greedy", "screen"):
        summary = run["methods"][method]
        assert len(summary["best_so_far"]) == 2 and summary["best_so_far"][0] == run["seed_best"]
        assert summary["best_so_far"][1] >= run["seed_best"] and 0 <= summary["in_series"] <= 1
        assert len(summary["picks"][0]) == 3 and run["target"] not in summary["picks"][0]
        assert result["summary"][method]["in_series"] == summary["in_series"]
    # The screening library is the corpus: its picks are corpus molecules, never a seed molecule.
    corpus_smiles = {canonical(s) for s in INDOLES + PYRAZOLES + BENZANILIDES}
    screened = run["methods"]["screen"]["picks"][0]
    assert set(screened) <= corpus_smiles and not set(screened) & set(run["seed_molecules"])
    assert 0 < run["top1_threshold"] <= 10
    assert result["summary"]["runs"] == 1

    # Resuming from that result keeps its run and runs no campaign again; other settings are refused.
    def no_campaign(*args, **kwargs):
        raise AssertionError("a finished run was run again")

    monkeypatch.setattr("chemloop.bench.series_campaign.run_chemloop", no_campaign)
    resumed = bench_series_campaign(str(corpus), resume=partial[0], **settings)
    assert resumed["runs"] == result["runs"] and resumed["complete"]
    with pytest.raises(ChemloopError, match="'rounds' differs"):
        bench_series_campaign(str(corpus), resume=result, **{**settings, "rounds": 2})
