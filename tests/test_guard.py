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
        "classes": {},
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


def test_an_upload_with_a_withheld_molecule_is_refused_by_row_without_repeating_it(tmp_path):
    from chemloop.reward.data import FeedbackError, read_values

    path = tmp_path / "results.csv"
    path.write_text("smiles,value\nCCO,1.0\nCCOP(C)(=O)SCCN(C(C)C)C(C)C,2.0\n")
    with pytest.raises(FeedbackError) as caught:
        read_values(path)
    assert caught.value.problems[0][0] == 3 and "dual-use guard" in caught.value.problems[0][1]
    assert "SCCN" not in str(caught.value)


def test_sampling_withholds_and_counts_without_showing(monkeypatch):
    import torch

    from chemloop.chem.tokenizer import SmilesTokenizer
    from chemloop.model import generate
    from chemloop.model.checkpoint import LanguageModel
    from chemloop.model.gpt import GPT, GPTConfig

    written = ["CCO", "CC(C)OP(C)(=O)F", "c1ccccc1", "C1CC"]
    tokenizer = SmilesTokenizer.from_corpus(written)
    model = GPT(GPTConfig(vocab_size=len(tokenizer), block_size=24, n_layer=1, n_head=1, n_embd=8))
    lm = LanguageModel(model, tokenizer)

    def fake_sample_ids(model, tokenizer, num, **_):
        rows = [tokenizer.encode(s) for s in written[:num]]
        width = max(map(len, rows))
        ids = torch.tensor([r + [tokenizer.pad_id] * (width - len(r)) for r in rows])
        return ids, torch.ones(num)

    monkeypatch.setattr(generate, "sample_ids", fake_sample_ids)
    report = generate.sample(lm, 4, batch_size=4, precision="fp32")
    assert report.withheld == 1 and report.generated == 4
    assert [m.smiles for m in report.molecules] == ["CCO", "c1ccccc1", "C1CC"]
    assert report.validity == 0.75  # the withheld molecule was valid: validity is the model's, unchanged
    assert report.summary()["withheld"] == 1


def test_preferences_and_ratings_refuse_a_withheld_molecule(tmp_path):
    from chemloop.errors import ChemloopError
    from chemloop.loop.campaign import init_campaign, record_preference, record_rating
    from chemloop.loop.config import CampaignConfig
    from chemloop.loop.store import connect

    factory = connect(f"sqlite:///{tmp_path / 'g.db'}")
    init_campaign(factory, "g", CampaignConfig())
    with pytest.raises(ChemloopError, match="smiles_b is withheld") as caught:
        record_preference(factory, "g", "CCO", "ClCCSCCCl", "a")
    assert "SCC" not in str(caught.value)
    with pytest.raises(ChemloopError, match="smiles is withheld"):
        record_rating(factory, "g", "CN(CCCl)CCCl", 3)


def test_properties_and_depictions_refuse_a_withheld_molecule():
    from chemloop.errors import ChemloopError
    from chemloop.services.molecules import depict_svg, properties

    for show in (properties, depict_svg):
        with pytest.raises(ChemloopError, match="dual-use guard"):
            show("CCOP(=O)(C#N)N(C)C")
    assert properties("CCO")["canonical"] == "CCO"
