import importlib
import importlib.util
import io
import pickle
import sys
import types
from collections import OrderedDict

import pytest
from pydantic import ValidationError
from rdkit import Chem

from chemloop.data.corpus import load_corpus
from chemloop.errors import ChemloopError
from chemloop.score.config import ScoreConfig
from chemloop.score.oracles import pmo
from chemloop.score.oracles.pmo import ISOMER_TASKS, MODEL_TASKS, PMO_TASKS, available_tasks, oracle
from chemloop.score.registry import get_component, run_component
from chemloop.score.scorer import Scorer

GUACAMOL_TASKS = tuple(t for t in PMO_TASKS if t not in MODEL_TASKS)


def guacamol_form(task: str) -> str:
    """Our task whose isomer term is GuacaMol's: the corrected one, for the isomer-scored tasks."""
    return f"{task}_corrected" if task in ISOMER_TASKS else task


FROZEN_SMILES = (
    "CC1C2CCC(C2)C1CN(CCO)C(=O)c1ccc(Cl)cc1",  # the first MOSES test molecule
    "CCCOc1cc2ncnc(Nc3ccc(F)cc3)c2cc1C(=O)N",  # keeps the deco/scaffold hop core
    "Cc1ccc([N+](=O)[O-])cc1N",  # C7H8N2O2
    "NC(CC(=O)N(C)Cc1ccc(-c2cc(F)c(F)cc2F)cc1)C(=O)O",  # matches the valsartan SMARTS
)
# Computed with guacamol 0.5.5 (its v2/trivial-suite scoring functions, RDKit 2026.09.1); for the
# isomer-scored tasks these are the values of their "_corrected" form.
FROZEN_GUACAMOL = {
    "albuterol_similarity": (0.3255813953, 0.2133333333, 0.2841530055, 0.2638888889),
    "mestranol_similarity": (0.2959183673, 0.1256830601, 0.0888888889, 0.1494009866),
    "celecoxib_rediscovery": (0.0991735537, 0.1932773109, 0.1494252874, 0.2368421053),
    "troglitazone_rediscovery": (0.1384615385, 0.1544117647, 0.1057692308, 0.1729323308),
    "thiothixene_rediscovery": (0.1395348837, 0.1641791045, 0.1067961165, 0.1923076923),
    "isomers_c7h8n2o2": (0.0, 0.0, 1.0, 0.0),
    "isomers_c9h10n2o2pf2cl": (1e-10, 5.6825e-06, 0.1533549668, 4.2229e-06),
    "median1": (0.1209993465, 0.017674908, 0.0309344112, 0.03125),
    "median2": (0.0933986987, 0.1298226967, 0.0814904247, 0.1066087714),
    "osimertinib_mpo": (0.0037436538, 0.3361478879, 0.1831285845, 0.3811931115),
    "fexofenadine_mpo": (0.0103711647, 0.5405147858, 0.1916317442, 0.5487223783),
    "ranolazine_mpo": (0.0547120535, 0.1313295919, 0.0088056314, 0.0332432882),
    "perindopril_mpo": (0.145543512, 0.1012554837, 0.0525542059, 0.3049971407),
    "amlodipine_mpo": (0.3856946079, 0.417855447, 0.0065440825, 0.1543340852),
    "sitagliptin_mpo": (9.42e-08, 0.0003766021, 0.0003549416, 0.075876931),
    "zaleplon_mpo": (0.0179938664, 0.4240825335, 1.06e-08, 0.3612544639),
    "valsartan_smarts": (0.0, 0.0, 0.0, 0.1738610374),
    "deco_hop": (0.5083679415, 0.8772509004, 0.5104730319, 0.5353641457),
    "scaffold_hop": (0.3459782227, 0.1922902494, 0.3491592483, 0.3867724868),
    "qed": (0.9019483275, 0.7176014482, 0.3761830462, 0.7698630328),
}
# GuacaMol's names for the same benchmarks (v2 suite; C7H8N2O2 and QED from its trivial suite).
GUACAMOL_NAMES = {
    "albuterol_similarity": "Albuterol similarity",
    "mestranol_similarity": "Mestranol similarity",
    "celecoxib_rediscovery": "Celecoxib rediscovery",
    "troglitazone_rediscovery": "Troglitazone rediscovery",
    "thiothixene_rediscovery": "Thiothixene rediscovery",
    "isomers_c7h8n2o2": "C7H8N2O2",
    "isomers_c9h10n2o2pf2cl": "C9H10N2O2PF2Cl",
    "median1": "Median molecules 1",
    "median2": "Median molecules 2",
    "osimertinib_mpo": "Osimertinib MPO",
    "fexofenadine_mpo": "Fexofenadine MPO",
    "ranolazine_mpo": "Ranolazine MPO",
    "perindopril_mpo": "Perindopril MPO",
    "amlodipine_mpo": "Amlodipine MPO",
    "sitagliptin_mpo": "Sitagliptin MPO",
    "zaleplon_mpo": "Zaleplon MPO",
    "valsartan_smarts": "Valsartan SMARTS",
    "deco_hop": "Deco Hop",
    "scaffold_hop": "Scaffold Hop",
    "qed": "QED",
}


def mols(*smiles: str) -> list[Chem.Mol]:
    return [Chem.MolFromSmiles(s) for s in smiles]


def score(task: str, *smiles: str) -> list[float]:
    return oracle(task)(mols(*smiles))


def test_the_23_tasks_in_order_and_the_model_tasks_need_the_extra(monkeypatch):
    assert len(PMO_TASKS) == len(set(PMO_TASKS)) == 23
    assert list(PMO_TASKS) == sorted(PMO_TASKS)
    assert set(GUACAMOL_NAMES) == set(GUACAMOL_TASKS)
    monkeypatch.setattr(pmo, "models_installed", lambda: False)
    assert available_tasks() == list(GUACAMOL_TASKS)
    with pytest.raises(ChemloopError, match=r"drd2.*pip install 'chemloop\[pmo-models\]'"):
        oracle("drd2")
    monkeypatch.setattr(pmo, "models_installed", lambda: True)
    assert available_tasks() == list(PMO_TASKS)


def test_an_unknown_task_is_named_with_the_choices():
    with pytest.raises(ChemloopError, match=r"unknown PMO task 'median3'.*albuterol_similarity.*zaleplon"):
        oracle("median3")


@pytest.mark.parametrize(
    "task, target",
    [
        ("celecoxib_rediscovery", pmo.CELECOXIB),
        ("troglitazone_rediscovery", pmo.TROGLITAZONE),
        ("thiothixene_rediscovery", pmo.THIOTHIXENE),
        ("albuterol_similarity", pmo.ALBUTEROL),
        ("mestranol_similarity", pmo.MESTRANOL),
    ],
)
def test_each_target_scores_one_however_it_is_written(task, target):
    other_writing = Chem.MolToSmiles(Chem.MolFromSmiles(target), doRandom=True)
    assert score(task, target, other_writing) == [1.0, 1.0]
    assert score(task, "CCO")[0] < 0.5


def test_corrected_isomer_tasks_reward_the_exact_formula():
    isomers = ("Cc1ccc([N+](=O)[O-])cc1N", "NC(=O)c1ccc(N)cc1O")
    assert score("isomers_c7h8n2o2_corrected", *isomers) == [1.0, 1.0]
    assert score("isomers_c9h10n2o2pf2cl_corrected", "CCC(=O)Nc1ccc(Cl)cc1NP(=O)(F)F") == [1.0]
    one_n_short, toluene = "Cc1ccc([N+](=O)[O-])cc1", "Cc1ccccc1"
    near, far = score("isomers_c7h8n2o2_corrected", one_n_short, toluene)
    assert 0 < far < near < 1
    # As published, the total atom count comes from the SMILES string, which shows no aromatic atom
    # here: these isomers score far below 1.
    assert all(0 < s < 0.01 for s in score("isomers_c7h8n2o2", *isomers))


def test_median_tasks_are_below_one_for_each_reference():
    for task, references in [
        ("median1", (pmo.CAMPHOR, pmo.MENTHOL)),
        ("median2", (pmo.TADALAFIL, pmo.SILDENAFIL)),
    ]:
        assert all(0 < s < 1 for s in score(task, *references))


@pytest.mark.parametrize("task", GUACAMOL_TASKS)
def test_frozen_guacamol_values(task):
    assert score(guacamol_form(task), *FROZEN_SMILES) == pytest.approx(FROZEN_GUACAMOL[task], abs=1e-9)


def test_the_pmo_component_is_found_by_name_and_usable_in_a_config():
    assert get_component("pmo").description.startswith("A PMO benchmark task")
    targets = mols(pmo.CELECOXIB, "CCO")
    assert run_component("pmo", targets, task="median1") == oracle("median1")(targets)
    with pytest.raises(ChemloopError, match="unknown PMO task"):
        run_component("pmo", targets, task="nope")
    scorer = Scorer(ScoreConfig(components=[{"type": "pmo", "params": {"task": "celecoxib_rediscovery"}}]))
    assert scorer([pmo.CELECOXIB])[0].raw["pmo"] == 1.0


def test_an_unknown_pmo_task_fails_when_the_config_loads():
    with pytest.raises(ValidationError, match=r"params of component 'pmo': unknown PMO task 'median3'"):
        ScoreConfig(components=[{"type": "pmo", "params": {"task": "median3"}}])


def test_model_files_are_unpickled_through_a_whitelist():
    with pytest.raises(pickle.UnpicklingError, match="unexpected object collections.OrderedDict"):
        pmo._ModelUnpickler(io.BytesIO(pickle.dumps(OrderedDict(a=1), protocol=3))).load()


# --- against the reference implementation, where it is installed ------------------------------


@pytest.fixture(scope="module")
def guacamol_benchmarks() -> dict:
    """GuacaMol's goal-directed benchmarks by name (skips where guacamol is not importable)."""
    pytest.importorskip("guacamol")
    import numpy as np
    import scipy

    # guacamol 0.5.5 imports scipy.histogram (gone from SciPy) and the TensorFlow `fcd` package at
    # import time; the goal-directed scoring functions use neither.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scipy, "histogram", np.histogram, raising=False)
        if importlib.util.find_spec("fcd") is None:
            patch.setitem(sys.modules, "fcd", types.ModuleType("fcd"))
        try:
            suites = importlib.import_module("guacamol.benchmark_suites")
        except ImportError as err:
            pytest.skip(f"guacamol does not import here: {err}")
    benchmarks = suites.goal_directed_suite_v2() + suites.goal_directed_suite_trivial()
    return {b.name: b for b in benchmarks}


@pytest.fixture(scope="module")
def moses_and_frozen() -> list[str]:
    return load_corpus("moses:test").smiles[:30] + list(FROZEN_SMILES)


@pytest.mark.parametrize("task", GUACAMOL_TASKS)
def test_matches_guacamol_on_moses_molecules(guacamol_benchmarks, moses_and_frozen, task):
    smiles = moses_and_frozen
    expected = guacamol_benchmarks[GUACAMOL_NAMES[task]].objective.score_list(smiles)
    assert oracle(guacamol_form(task))(mols(*smiles)) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    "task, expected",
    [  # computed by this module (scikit-learn 1.9.1): a MOSES molecule, haloperidol, a JNK3 inhibitor
        ("drd2", (0.0206940254, 0.9999993746, 0.0079180911)),
        ("gsk3b", (0.02, 0.0, 0.27)),
        ("jnk3", (0.0, 0.0, 0.99)),
    ],
)
def test_activity_models(task, expected):
    pytest.importorskip("sklearn")
    if importlib.util.find_spec("molscore") is None:
        pytest.skip("molscore (the pmo-models extra) is not installed")
    smiles = (
        "CC1C2CCC(C2)C1CN(CCO)C(=O)c1ccc(Cl)cc1",
        "OC1(CCN(CCCC(=O)c2ccc(F)cc2)CC1)c1ccc(Cl)cc1",
        "COC1CCC(C(=O)Nc2cc(-c3ccnc(Nc4ccc(F)cc4)c3)ccn2)CC1",
    )
    assert score(task, *smiles) == pytest.approx(expected, abs=1e-6)
    assert oracle(task)([]) == []


def test_drd2_component_scores_haloperidol_as_active_or_names_the_extra():
    from chemloop.score.config import ScoreConfig
    from chemloop.score.oracles.pmo import models_installed
    from chemloop.score.scorer import Scorer

    scorer = Scorer(ScoreConfig(components=[{"type": "drd2"}]))
    haloperidol, ethanol = "OC1(CCN(CCCC(=O)c2ccc(F)cc2)CC1)c1ccc(Cl)cc1", "CCO"
    if not models_installed():
        with pytest.raises(ChemloopError, match="pmo-models"):
            scorer([haloperidol])
        return
    active, inactive = (r.score for r in scorer([haloperidol, ethanol]))
    assert active > 0.9 and inactive < 0.1
