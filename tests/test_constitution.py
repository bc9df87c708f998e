"""Constitutions: the default one loads and checks what it says; bad files are named errors;
the rule judge and an external judge command decide pairs by principle."""

import sys
from pathlib import Path

import pytest
from rdkit import Chem

from chemloop.constitution.judges import CommandJudge, RuleJudge
from chemloop.constitution.principles import load_constitution
from chemloop.errors import ChemloopError
from chemloop.services.molecules import properties

FAKE_JUDGE = Path(__file__).parent / "data" / "fake_judge.py"


@pytest.fixture(scope="module")
def medchem():
    return load_constitution()


@pytest.mark.parametrize(
    ("smiles", "violated"),
    [
        ("CC(C)(C)OC(=O)N1CCCCC1", "protecting-groups"),  # Boc
        ("O=C(OCc1ccccc1)N1CCCC1", "protecting-groups"),  # Cbz
        ("CC(C)(C)[Si](C)(C)OCC1CCCCC1", "protecting-groups"),  # TBS ether
        ("COC(=O)C1CCN(c2ccccn2)CC1", "labile-esters"),
        ("O=C(Cl)c1ccccc1", "reactive-groups"),
        ("CC(N)c1ccccc1", "assigned-stereo"),
        ("C1CCCCCCC1", "no-medium-rings"),
        ("CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC", "molecular-weight"),
    ],
)
def test_default_constitution_flags_each_principle(medchem, smiles, violated):
    assert violated in medchem.violations(Chem.MolFromSmiles(smiles))


def test_clean_drugs_violate_no_structural_principle(medchem):
    structural = {"reactive-groups", "protecting-groups", "labile-esters", "assigned-stereo", "no-pains"}
    for smiles in ["C[C@H](N)Cc1ccccc1", "CN1CCC[C@H]1c1cccnc1", "O=C(O)Cc1ccccc1Nc1c(Cl)cccc1Cl"]:
        assert not structural & set(medchem.violations(Chem.MolFromSmiles(smiles))), smiles


def test_a_protonated_amine_is_no_stereocentre_but_a_chiral_ammonium_is(medchem):
    # ZINC writes amines protonated at pH 7: the [NH+] inverts by proton exchange.
    for smiles in ["C[C@H]1CCCC[NH+]1Cc1ccccc1", "C[NH+](CC)CCC", "CN1CCC[C@H]1c1cccnc1"]:
        assert "assigned-stereo" not in medchem.violations(Chem.MolFromSmiles(smiles)), smiles
    for smiles in ["CC1CCCC[NH+]1Cc1ccccc1", "CC[N+]1(C)CCCC1C"]:  # an open carbon; a quaternary N
        assert "assigned-stereo" in medchem.violations(Chem.MolFromSmiles(smiles)), smiles
    assert properties("C[C@H]1CCCC[NH+]1Cc1ccccc1")["stereocentres"] == 1


@pytest.mark.parametrize(
    ("ph7_form", "as_written"),
    [  # the prior's pH-7 forms: as written they broke a principle their compounds keep
        ("C[NH+](C[C@@H]1CCC[C@]1(O)CO)C1CCCCCC1", "synthesizable"),  # SA score 4.79, its amine 3.46
        ("Cc1cccc(C(=O)Nc2cccc(C(=O)NC3CC[NH+](Cc4ccccc4)CC3)c2)c1", "assigned-stereo"),  # ring carbon
    ],
)
def test_principles_judge_the_compound_not_its_charge_state(medchem, ph7_form, as_written):
    from chemloop.chem.mol import neutral_form

    charged = Chem.MolFromSmiles(ph7_form)
    neutral = Chem.MolFromSmiles(Chem.MolToSmiles(neutral_form(charged)))
    assert as_written in {p.id for p in medchem.principles if p.computable and p._violation(charged)}
    assert medchem.violations(charged) == medchem.violations(
        neutral
    ) and as_written not in medchem.violations(charged)
    assert RuleJudge(medchem).judge([(ph7_form, Chem.MolToSmiles(neutral))])[0].preferred is None


def test_every_principle_has_text_and_source(medchem):
    assert len(medchem.principles) >= 10
    assert all(p.text and p.source for p in medchem.principles)
    assert any(not p.computable for p in medchem.principles)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('name = "x"\n[[principle]]\nid = "a"\ntext = "t"\nabsent = ["C(("]\n', "invalid SMARTS"),
        (
            'name = "x"\n[[principle]]\nid = "a"\ntext = "t"\nproperty = "colour"\nmax = 1\n',
            "unknown property",
        ),
        ('name = "x"\n[[principle]]\nid = "a"\ntext = "t"\n', "exactly one check"),
        ('name = "x"\n[[principle]]\nid = "a"\ntext = "t"\nproperty = "mw"\n', "needs min or max"),
        ('name = "x"\n[[principle]]\nid = "a"\ntext = "t"\nalerts = "NIH2"\n', "unknown alert catalogue"),
        ('name = "x"\n[[principle]]\nid = "a"\ntext = "t"\njudged = true\ncolour = 1\n', "colour"),
        (
            'name = "x"\n[[principle]]\nid = "a"\ntext = "t"\njudged = true\n'
            '[[principle]]\nid = "a"\ntext = "u"\njudged = true\n',
            "principle ids repeat: a",
        ),
    ],
)
def test_bad_constitutions_are_named_errors(tmp_path, body, named):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(ChemloopError, match=named):
        load_constitution(path)
    with pytest.raises(ChemloopError, match="not found"):
        load_constitution(tmp_path / "missing.toml")


def test_rule_judge_lets_the_first_separating_principle_decide(medchem):
    judge = RuleJudge(medchem)
    boc, free = "CC(C)(C)OC(=O)N1CCC(c2ccccc2)CC1", "C1CC(c2ccccc2)CCN1"
    reactive_and_clean = ("O=Cc1ccccc1", "Cc1ccccc1")
    first, second, tie = judge.judge([(boc, free), reactive_and_clean, ("c1ccccc1", "c1ccccc1")])
    assert first.preferred == "b" and first.principle == "protecting-groups" and "A violates" in first.reason
    assert second.preferred == "b" and second.principle == "reactive-groups"
    assert tie.preferred is None and tie.principle is None


def test_rule_judge_names_an_invalid_molecule(medchem):
    with pytest.raises(ChemloopError, match="invalid SMILES"):
        RuleJudge(medchem).judge([("C1CC", "CCO")])


def test_command_judge_speaks_the_protocol(medchem):
    judge = CommandJudge(medchem, f"{sys.executable} {FAKE_JUDGE}", batch=2)
    pairs = [("CC(C)(C)OC(=O)N1CCCCC1", "C1CCNCC1"), ("CCO", "CCCCO"), ("CCO", "OCC")]
    judged = judge.judge(pairs)  # two batches
    assert [j.preferred for j in judged] == ["b", "a", None]
    assert judged[0].principle == "protecting-groups" and judged[1].principle == "short-synthesis"
    assert judge.name == f"command:{Path(sys.executable).name}"
    request = judge.request(pairs[:1])
    assert request["pairs"][0]["violations_a"] and not request["pairs"][0]["violations_b"]


@pytest.mark.parametrize(
    ("mode", "named"), [("garbage", "not JSON"), ("short", "expected 2 judgements, got 1")]
)
def test_command_judge_rejects_bad_answers(medchem, monkeypatch, mode, named):
    monkeypatch.setenv("FAKE_JUDGE_MODE", mode)
    judge = CommandJudge(medchem, f"{sys.executable} {FAKE_JUDGE}")
    with pytest.raises(ChemloopError, match=named):
        judge.judge([("CCO", "CCCO"), ("CCN", "CCCN")])


def test_command_judge_errors_name_the_command(medchem, tmp_path):
    with pytest.raises(ChemloopError, match="not found"):
        CommandJudge(medchem, "no-such-judge-command").judge([("CCO", "CCN")])
    failing = tmp_path / "fail.py"
    failing.write_text("import sys\nsys.stderr.write('model overloaded\\n')\nsys.exit(3)\n")
    with pytest.raises(ChemloopError, match="status 3: model overloaded"):
        CommandJudge(medchem, f"{sys.executable} {failing}").judge([("CCO", "CCN")])
    unknown = tmp_path / "unknown.py"
    unknown.write_text(
        "import json, sys\njson.load(sys.stdin)\n"
        "print(json.dumps({'judgements': [{'preferred': 'a', 'principle': 'colour', 'reason': ''}]}))\n"
    )
    with pytest.raises(ChemloopError, match="no principle 'colour'"):
        CommandJudge(medchem, f"{sys.executable} {unknown}").judge([("CCO", "CCN")])


def test_the_constitution_component_scores_the_principles_kept(medchem):
    from chemloop.score.config import ScoreConfig
    from chemloop.score.registry import run_component
    from chemloop.score.scorer import Scorer

    checked = [p for p in medchem.principles if p.computable]
    boc, clean = Chem.MolFromSmiles("CC(C)(C)OC(=O)N1CCCCC1"), Chem.MolFromSmiles("CN1CCC[C@H]1c1cccnc1")
    share = run_component("constitution", [boc, clean])
    assert share[0] == pytest.approx(1 - len(medchem.violations(boc)) / len(checked)) and share[0] < 1
    assert share[1] == pytest.approx(1 - len(medchem.violations(clean)) / len(checked))
    assert run_component("constitution", [boc], mode="filter") == [0.0]
    ignored = sorted(medchem.violations(boc))
    assert run_component("constitution", [boc], mode="filter", ignore=ignored) == [1.0]
    for params, named in [
        ({"mode": "strict"}, "mode"),
        ({"ignore": ["no-such-principle"]}, "no-such-principle"),
        ({"path": "/nonexistent/medchem.toml"}, "not found"),
    ]:
        with pytest.raises(ValueError, match=named):  # pydantic's ValidationError, naming the parameter
            ScoreConfig.model_validate({"components": [{"type": "constitution", "params": params}]})
    # As a filter it removes every molecule that breaks a principle, in a config like any other.
    config = ScoreConfig.model_validate(
        {
            "components": [
                {"type": "qed"},
                {"type": "constitution", "filter": True, "params": {"mode": "filter"}},
            ]
        }
    )
    scored = Scorer(config)(["CC(C)(C)OC(=O)N1CCCCC1"])
    assert scored[0].score == 0.0
