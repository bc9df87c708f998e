"""PMO's isomer terms against TDC's own scores, published (TDC 0.3.6) and corrected.

tests/data/pmo_isomer_reference.json is written by bench/pmo_isomer_reference.py with pytdc
installed; see that script for how it was made.
"""

import json
import math
from pathlib import Path

import pytest
from rdkit import Chem
from rdkit.Chem import rdMolDescriptors

from chemloop.errors import ChemloopError
from chemloop.score.oracles import pmo
from chemloop.score.oracles.pmo import (
    CORRECTED_TASKS,
    ISOMER_TASKS,
    PMO_TASKS,
    check_task,
    formula_regex_atoms,
    isomer,
    isomer_published,
    oracle,
    published_task,
)
from chemloop.score.registry import run_component

REFERENCE = json.loads((Path(__file__).parent / "data" / "pmo_isomer_reference.json").read_text())
MOLECULES = REFERENCE["molecules"]


@pytest.fixture(scope="module")
def mols() -> list[Chem.Mol]:
    parsed = [Chem.MolFromSmiles(m["smiles"]) for m in MOLECULES]
    # The published score reads the canonical SMILES, so it is only comparable where RDKit still
    # writes the string TDC was given.
    changed = [
        m["canonical"]
        for m, mol in zip(MOLECULES, parsed, strict=True)
        if Chem.MolToSmiles(mol) != m["canonical"]
    ]
    assert not changed, (
        f"RDKit {Chem.rdBase.rdkitVersion} writes other canonical SMILES than {REFERENCE['rdkit_version']} "
        f"did for {changed[:3]}; rerun bench/pmo_isomer_reference.py"
    )
    return parsed


def expected(kind: str, task: str, form: int) -> list[float]:
    return [m[kind][task][form] for m in MOLECULES]


def test_the_fixture_covers_what_the_published_form_gets_wrong():
    assert len(MOLECULES) >= 200
    canonical = [m["canonical"] for m in MOLECULES]
    assert any("%1" in s for s in canonical)  # multi-digit ring closures
    assert any("+" in s for s in canonical) and any("-]" in s for s in canonical)
    assert all(any(element in s for s in canonical) for element in ("Cl", "F", "P", "c"))
    assert {"C7H8N2O2", "C16H15F6N5O"} <= {
        rdMolDescriptors.CalcMolFormula(Chem.MolFromSmiles(s)) for s in canonical
    }


@pytest.mark.parametrize("task", ISOMER_TASKS)
def test_isomer_terms_match_tdc(mols, task):
    formula = REFERENCE["formulas"][task]
    published, corrected = isomer_published(formula), isomer(formula)
    assert [published(m) for m in mols] == pytest.approx(expected("isomer", task, 0), abs=1e-9)
    assert [corrected(m) for m in mols] == pytest.approx(expected("isomer", task, 1), abs=1e-9)


@pytest.mark.parametrize("task", ISOMER_TASKS)
def test_tasks_are_published_by_default_and_corrected_by_name(mols, task):
    kind = "task" if task in MOLECULES[0]["task"] else "isomer"
    published, corrected = expected(kind, task, 0), expected(kind, task, 1)
    assert oracle(task)(mols) == pytest.approx(published, abs=1e-9)
    assert oracle(f"{task}_corrected")(mols) == pytest.approx(corrected, abs=1e-9)
    # The two forms differ well beyond the tolerance, so the wrong default would fail above.
    assert sum(abs(p - c) > 1e-3 for p, c in zip(published, corrected, strict=True)) >= 10


def test_c7h8n2o2_published_and_corrected_by_name():
    isomers = [Chem.MolFromSmiles(s) for s in ("Cc1ccc([N+](=O)[O-])cc1N", "NC1=NC(=O)C2(CC2)C(=O)C1")]
    # Regex totals against 19: "Cc", N, O, O, N -> 5; N, C1, N, C, O, C2, C, C2, C, O, C1 -> 13.
    assert [formula_regex_atoms(Chem.MolToSmiles(m)) for m in isomers] == [5, 13]
    published = [math.exp(-0.5 * ((n - 19) / 2) ** 2) ** (1 / 5) for n in (5, 13)]
    assert oracle("isomers_c7h8n2o2")(isomers) == pytest.approx(published, rel=1e-12)
    assert oracle("isomers_c7h8n2o2_corrected")(isomers) == [1.0, 1.0]


def test_formula_regex_reads_smiles_as_tdc_036_did():
    assert formula_regex_atoms("CCO") == 3
    assert formula_regex_atoms("c1ccccc1") == 0  # aromatic atoms are not seen
    assert formula_regex_atoms("Cc1ccccc1") == 1  # "Cc" is one token
    assert formula_regex_atoms("C12CC1C2") == 12 + 1 + 1 + 2  # ring-closure digits read as counts
    assert formula_regex_atoms("C%10CC%10") == 3
    assert formula_regex_atoms("[NH3+]CC(=O)[O-]") == 1 + 3 + 1 + 1 + 1 + 1
    assert formula_regex_atoms("ClCBr") == 3


def test_corrected_names_are_accepted_wherever_a_task_is():
    assert len(PMO_TASKS) == 23 and not set(CORRECTED_TASKS) & set(PMO_TASKS)
    assert not set(CORRECTED_TASKS) & set(pmo.available_tasks())  # "all" is the 23 published
    targets = [Chem.MolFromSmiles("Cc1ccc([N+](=O)[O-])cc1N")]
    for task in CORRECTED_TASKS:
        check_task(task)
        assert published_task(task) == task.removesuffix("_corrected")
        assert run_component("pmo", targets, task=task) == oracle(task)(targets)
    assert published_task("median1") == "median1"
    with pytest.raises(ChemloopError, match=r"unknown PMO task 'median1_corrected'.*zaleplon_mpo_corrected"):
        check_task("median1_corrected")


def test_a_corrected_run_is_set_beside_the_published_task_and_configures():
    from chemloop.bench.pmo import pmo_config
    from chemloop.bench.pmo_reference import REINVENT, compare

    row = {"mean": 0.5, "std": 0.0, "seeds": 1, "seconds": 1.0}
    [(task, _, mean, std, delta)] = compare({"zaleplon_mpo_corrected": row})
    assert (task, mean, std) == ("zaleplon_mpo_corrected", *REINVENT["zaleplon_mpo"])
    assert delta == pytest.approx(0.5 - REINVENT["zaleplon_mpo"][0])
    config = pmo_config("isomers_c7h8n2o2_corrected", budget=10, seed=0)
    assert config.score.components[0].params == {"task": "isomers_c7h8n2o2_corrected"}
