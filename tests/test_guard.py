"""The dual-use guard: scheduled agents and their analogues withheld, medicines and ordinary
molecules not."""

import pytest

from chemloop.bench.guard import SCHEDULED, analogues, bench_guard
from chemloop.chem.guard import GUARDED_CLASSES, guarded_class, is_withheld, withhold


@pytest.mark.parametrize("name", sorted(SCHEDULED))
def test_every_named_scheduled_agent_is_withheld(name):
    assert is_withheld(SCHEDULED[name]), name


def test_every_analogue_family_is_withheld_and_large_enough():
    families = analogues()
    assert sum(len(smiles) for smiles in families.values()) >= 500
    for name, smiles in families.items():
        through = [s for s in smiles if not is_withheld(s)]
        assert not through, (name, through[:3])


@pytest.mark.parametrize(
    "smiles",
    [
        "ClCCN(CCCl)c1ccc(CCCC(=O)O)cc1",  # chlorambucil: an aryl mustard, an approved medicine
        "N[C@@H](Cc1ccc(N(CCCl)CCCl)cc1)C(=O)O",  # melphalan
        "O=P1(N(CCCl)CCCl)NCCCO1",  # cyclophosphamide: a phosphoramide mustard
        "CCOP(=S)(OCC)Oc1ccc([N+](=O)[O-])cc1",  # parathion: a pesticide, not scheduled
        "CCOP(=O)(OCC)OCC",  # triethyl phosphate
        "F[P-](F)(F)(F)(F)F",  # hexafluorophosphate counter-ion
        "CC(=O)Oc1ccccc1C(=O)O",  # aspirin
        "CSCCC(N)C(=O)O",  # methionine: a sulfide without a 2-haloethyl group
        "ClCCCl",  # 1,2-dichloroethane: no sulfur or nitrogen
        "not a smiles",  # unparsable strings are not molecules; reported as invalid elsewhere
    ],
)
def test_medicines_and_ordinary_molecules_pass(smiles):
    assert not is_withheld(smiles)


def test_the_class_names_its_schedule_entry():
    guarded = guarded_class("CC(C)OP(C)(=O)F")
    assert guarded is not None and "1A(1)" in guarded.schedule
    assert guarded_class("ClCCSCCCl").schedule == "1A(4)"
    assert all(g.smarts for g in GUARDED_CLASSES)


def test_withhold_keeps_order_and_counts():
    kept, withheld = withhold(["CCO", "ClCCSCCCl", "c1ccccc1", "CN(CCCl)CCCl"])
    assert kept == ["CCO", "c1ccccc1"] and withheld == 2


def test_bench_guard_reports_targets():
    result = bench_guard(["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"], "three")
    assert result["scheduled"]["withheld"] == len(SCHEDULED)
    assert result["reference"] == {
        "name": "three",
        "molecules": 3,
        "withheld": 0,
        "share": 0.0,
        "examples": [],
    }
    assert all(result["targets"].values())
    dirty = bench_guard(["CCO", "ClCCSCCCl"], "two")
    assert dirty["reference"]["share"] == 0.5 and not dirty["targets"]["reference: <= 0.1% withheld"]


def test_the_scorer_never_scores_or_names_a_withheld_molecule():
    from chemloop.score.config import ScoreConfig
    from chemloop.score.scorer import WITHHELD, Scorer

    scorer = Scorer(ScoreConfig(components=[{"type": "qed"}]), budget=10)
    results = scorer(["CCO", "CC(C)OP(C)(=O)F", "c1ccccc1"])
    assert [r.reason for r in results] == ["", WITHHELD, ""]
    assert results[1].score == 0.0 and results[1].canonical is None
    assert len(scorer.calls) == 2 and all(c.canonical != "CC(C)OP(C)(=O)F" for c in scorer.calls)


def test_the_score_service_blanks_a_withheld_molecule():
    from chemloop.services.scoring import score_molecules

    rows = score_molecules(["ClCCSCCCl", "CCO"], ["qed"])
    assert rows[0]["smiles"] == "" and rows[0]["canonical"] is None and rows[0]["score"] == 0.0
    assert "dual-use guard" in rows[0]["reason"] and rows[1]["smiles"] == "CCO"
