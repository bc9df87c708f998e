import math

import pytest
from rdkit import Chem

from chemloop.score import (
    available_components,
    component,
    get_component,
    run_component,
    weighted_arithmetic_mean,
    weighted_geometric_mean,
)
from chemloop.score.registry import UnknownComponentError
from chemloop.score.transforms import clamp, double_sigmoid, gaussian, reverse_sigmoid, sigmoid, step

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


def mols(*smiles):
    return [Chem.MolFromSmiles(s) for s in smiles]


@pytest.mark.parametrize(
    ("name", "smiles", "expected"),
    [
        ("mw", "CCO", 46.069),
        ("hbd", "CCO", 1),
        ("hba", "CCO", 1),
        ("tpsa", "CCO", 20.23),
        ("rings", "c1ccc2ccccc2c1", 2),
        ("aromatic_rings", "c1ccc2ccccc2c1", 2),
        ("heavy_atoms", ASPIRIN, 13),
        ("fraction_sp3", "CCO", 1.0),
        ("stereocentres", "CC(N)C(=O)O", 1),
        ("rotatable_bonds", "CCCC", 1),
        ("qed", ASPIRIN, 0.550),
        ("clogp", "CCO", -0.0014),
    ],
)
def test_physchem_components_on_known_values(name, smiles, expected):
    assert run_component(name, mols(smiles)) == [pytest.approx(expected, abs=2e-3)]


def test_sa_score_ranks_simple_below_complex():
    simple, complex_ = run_component(
        "sa_score", mols("CCO", "C[C@H]1C[C@@H]2[C@H](C1)[C@@H]1CC[C@@]3(C)[C@H](CC[C@@H]3O)[C@@H]1CC2=O")
    )
    assert 1 <= simple < 2.5 < complex_ <= 10


def test_unknown_component_names_itself_and_lists_known():
    with pytest.raises(UnknownComponentError, match=r"unknown scoring component 'qedd'; known: .*qed"):
        get_component("qedd")


def test_a_misspelt_or_missing_parameter_fails_when_the_config_loads():
    from pydantic import ValidationError

    from chemloop.score.config import ScoreConfig

    with pytest.raises(ValidationError, match=r"params of component 'similarity'.*smile"):
        ScoreConfig(components=[{"type": "similarity", "params": {"smile": "CCO"}}])
    with pytest.raises(ValidationError, match=r"params of component 'pmo'.*task"):
        ScoreConfig(components=[{"type": "pmo"}])


def test_a_component_registered_by_a_test_is_found_by_name():
    @component("test_carbon_count")
    def carbon_count(ms):
        """Carbons."""
        return [sum(a.GetSymbol() == "C" for a in m.GetAtoms()) for m in ms]

    assert run_component("test_carbon_count", mols("CCO", "c1ccccc1")) == [2.0, 6.0]
    assert available_components()["test_carbon_count"] == "Carbons."


def test_transforms_on_known_values():
    assert sigmoid(5, 0, 10) == pytest.approx(0.5)
    assert sigmoid(10, 0, 10, k=0.5) == pytest.approx(1 / (1 + math.exp(-2.5)))
    assert reverse_sigmoid(5, 0, 10) == pytest.approx(0.5)
    assert double_sigmoid(5, 0, 10) == pytest.approx((1 / (1 + math.exp(-5))) ** 2)
    assert double_sigmoid(-10, 0, 10) < 0.01
    assert step(3, 1, 5) == 1.0 and step(6, 1, 5) == 0.0
    assert gaussian(2, 2, 1) == 1.0 and gaussian(3, 2, 1) == pytest.approx(math.exp(-0.5))
    assert clamp(1.7) == 1.0 and clamp(-2) == 0.0
    assert all(math.isnan(f(math.nan, 0, 1)) for f in (sigmoid, reverse_sigmoid, step, clamp))


def test_aggregation_on_known_values():
    assert weighted_arithmetic_mean([0.2, 0.8], [1, 3]) == pytest.approx(0.65)
    assert weighted_geometric_mean([0.25, 1.0], [1, 1]) == pytest.approx(0.5)
    assert weighted_geometric_mean([0.0, 1.0], [1, 1]) == 0.0
    assert math.isnan(weighted_geometric_mean([math.nan, 1.0], [1, 1]))
    with pytest.raises(ValueError, match="weights"):
        weighted_arithmetic_mean([0.5], [-1])


def test_similarity_is_one_to_itself_and_lower_to_others():
    same, other = run_component("similarity", mols(ASPIRIN, "CCCCCC"), smiles=[ASPIRIN])
    assert same == 1.0 and 0 <= other < 0.2
    bits = run_component("similarity", mols("CCO"), smiles="CCN", counts=False)
    assert 0 < bits[0] < 1


def test_similarity_reference_must_parse():
    from chemloop.chem import InvalidSmilesError

    with pytest.raises(InvalidSmilesError, match="similarity reference.*C1CC"):
        run_component("similarity", mols("CCO"), smiles="C1CC")


def test_substructure_required_and_forbidden():
    ms = mols("c1ccccc1O", "CCO")
    assert run_component("substructure", ms, smarts="c[OX2H]") == [1.0, 0.0]
    assert run_component("substructure", ms, smarts=["c[OX2H]"], mode="forbidden") == [0.0, 1.0]
    from chemloop.errors import ChemloopError

    with pytest.raises(ChemloopError, match="invalid SMARTS"):
        run_component("substructure", ms, smarts="[C")


def test_alerts_flag_a_pains_catechol_and_pass_aspirin():
    # catechol is a PAINS family (catechol_A); aspirin raises no PAINS or Brenk alert
    assert run_component("alerts", mols("Oc1ccccc1O", ASPIRIN), catalogs=["PAINS"]) == [0.0, 1.0]


def test_formula_scores_isomers_one_and_others_less():
    isomer, other = run_component("formula", mols("CCCCCCCCCCC", "CCCCC"), formula="C11H24")
    assert isomer == pytest.approx(1.0) and other < 0.01
    from chemloop.errors import ChemloopError

    with pytest.raises(ChemloopError, match="invalid molecular formula"):
        run_component("formula", mols("C"), formula="C11h24")
