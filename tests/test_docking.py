"""Docking: targets, the vina component, its cache, poses, failures and the Ray backend.

Real dockings use benzene against DRD2 at exhaustiveness 1: about 3 s each on one core.
"""

import math
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError
from rdkit import Chem

from chemloop.dock import DockCache, dock_many, pose_path, resolve_target
from chemloop.errors import ChemloopError
from chemloop.rl.run import load_config
from chemloop.score import NoScore, run_component
from chemloop.score.config import ScoreConfig
from chemloop.score.scorer import Scorer

pytest.importorskip("dockstring", reason="docking tests need the docking extra")

BENZENE = "c1ccccc1"
SALT = "CC(=O)[O-].[Na+]"  # two fragments: dockstring refuses to prepare it
FAST = {"target": "DRD2", "exhaustiveness": 1, "cpus_per_call": 1, "workers": 1}
EXAMPLES = Path(__file__).parent.parent / "examples"


def mols(*smiles):
    return [Chem.MolFromSmiles(s) for s in smiles]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    """One docking cache for the module, so benzene is docked once however the tests are run."""
    return tmp_path_factory.mktemp("docking-cache")


@pytest.fixture()
def no_docking(monkeypatch):
    """Fail any attempt to start a docking process."""

    def refuse(*args, **kwargs):
        raise AssertionError("a docking process was started")

    monkeypatch.setattr(subprocess, "Popen", refuse)


def test_dockstring_targets_by_name_in_any_case():
    target = resolve_target("drd2")
    assert target.name == "DRD2" and target.receptor.name == "DRD2_target.pdbqt"
    assert target.size == (30.0, 30.0, 32.0)
    assert "exhaustiveness = 3" in target.vina_config(3)


def test_unknown_target_names_it_and_lists_known():
    with pytest.raises(ChemloopError, match=r"unknown docking target 'DRD9'; dockstring has: .*DRD2"):
        resolve_target("DRD9")


def test_user_receptor_and_box_are_validated(tmp_path):
    receptor = tmp_path / "mine.pdbqt"
    receptor.write_text(resolve_target("DRD2").receptor.read_text())
    target = resolve_target(receptor=receptor, center=[9.25, 6.17, -7.0], size=[20, 20, 20])
    assert target.name == "mine" and target.size == (20.0, 20.0, 20.0)
    moved = resolve_target(receptor=receptor, center=[9.25, 6.17, -7.0], size=[22, 20, 20])
    assert moved.key != target.key  # another box is another docking problem: not the same cache entries
    with pytest.raises(ChemloopError, match="receptor file not found: .*missing.pdbqt"):
        resolve_target(receptor=tmp_path / "missing.pdbqt", center=[0, 0, 0], size=[20, 20, 20])
    with pytest.raises(ChemloopError, match="needs a search box"):
        resolve_target(receptor=receptor)
    with pytest.raises(ChemloopError, match="size must be three positive numbers"):
        resolve_target(receptor=receptor, center=[0, 0, 0], size=[20, -1, 20])
    with pytest.raises(ChemloopError, match=r"center must be three numbers .* got \[0, 0\]"):
        resolve_target(receptor=receptor, center=[0, 0], size=[20, 20, 20])
    with pytest.raises(ChemloopError, match="not both"):
        resolve_target("DRD2", receptor=receptor)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"target": "XYZ1"}, "unknown docking target 'XYZ1'"),
        ({**FAST, "exhaustiveness": 0}, "exhaustiveness must be a positive integer"),
        ({**FAST, "timeout": "long"}, "timeout must be a positive number"),
        ({**FAST, "backend": "slurm"}, "unknown docking backend 'slurm'"),
        ({"receptor": "nowhere.pdbqt", "center": [0, 0, 0], "size": [9, 9, 9]}, "receptor file not found"),
    ],
)
def test_bad_vina_params_are_named(params, message, no_docking):
    with pytest.raises(ChemloopError, match=message):
        run_component("vina", mols(BENZENE), **params)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"target": "DRD9"}, "unknown docking target 'DRD9'"),
        ({"target": "DRD2", "backend": "slurm"}, "unknown docking backend 'slurm'"),
        ({"target": "DRD2", "exhaustiveness": 0}, "exhaustiveness must be a positive integer"),
    ],
)
def test_bad_vina_params_fail_when_the_config_loads(params, message, no_docking):
    with pytest.raises(ValidationError, match=f"params of component 'vina': .*{message}"):
        ScoreConfig(components=[{"type": "vina", "params": params}])


def test_invalid_smiles_gets_an_error_without_docking(no_docking):
    [result] = dock_many(["C1CC"], resolve_target("DRD2"))
    assert result.score is None and result.error == "invalid SMILES 'C1CC'"


def test_unpreparable_molecule_scores_nan_with_the_reason(tmp_path):
    [score] = run_component("vina", mols(SALT), **FAST, cache_dir=str(tmp_path))
    assert math.isnan(score) and isinstance(score, NoScore)
    assert score.reason.startswith(f"preparation of {SALT!r} failed: SanityError")
    assert "fragments" in score.reason
    [cached] = DockCache(tmp_path).get(resolve_target("DRD2").key, [SALT], 1, 0).values()
    assert cached.error == score.reason  # it would fail again: stored, never retried


def test_timeout_kills_the_call_and_is_not_cached(tmp_path):
    [score] = run_component("vina", mols(BENZENE), **FAST, timeout=0.2, cache_dir=str(tmp_path))
    assert math.isnan(score) and score.reason == f"docking of {BENZENE!r} timed out after 0.2 s"
    assert DockCache(tmp_path).get(resolve_target("DRD2").key, [BENZENE], 1, 0) == {}


@pytest.mark.slow
def test_docking_benzene_into_drd2_writes_a_pose_and_caches_it(cache_dir, tmp_path, monkeypatch):
    poses = tmp_path / "poses"
    [score] = run_component("vina", mols(BENZENE), **FAST, cache_dir=str(cache_dir), poses_dir=str(poses))
    assert -7.0 < score < -3.0  # kcal/mol; benzene is a weak binder
    path = pose_path(poses, "DRD2", "C1=CC=CC=C1")  # any spelling finds the file
    docked = [m for m in Chem.SDMolSupplier(str(path))]
    assert docked[0].GetNumAtoms() == 6 and docked[0].GetConformer().Is3D()
    assert float(docked[0].GetProp("vina_score")) == score  # best pose first
    assert [float(m.GetProp("vina_score")) for m in docked] == sorted(
        float(m.GetProp("vina_score")) for m in docked
    )

    def refuse(*args, **kwargs):
        raise AssertionError("docked again")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    elsewhere = tmp_path / "other-poses"
    again = run_component(
        "vina", mols(BENZENE, BENZENE), **FAST, cache_dir=str(cache_dir), poses_dir=str(elsewhere)
    )
    assert again == [score, score]
    assert pose_path(elsewhere, "DRD2", BENZENE).exists()  # the cached pose is written where asked


@pytest.mark.slow
def test_vina_with_a_reverse_sigmoid_scores_through_the_scorer(cache_dir):
    config = ScoreConfig.model_validate(
        {
            "components": [
                {
                    "type": "vina",
                    "params": {**FAST, "cache_dir": str(cache_dir)},
                    "transform": {"type": "reverse_sigmoid", "low": -12, "high": -6},
                },
                {"type": "qed", "weight": 0.5},
            ]
        }
    )
    good, salt, invalid = Scorer(config)([BENZENE, SALT, "C1CC"])
    assert good.raw["vina"] < -3 and 0 < good.transformed["vina"] < 0.1 and 0 < good.score < 1
    assert math.isnan(salt.score) and salt.reason.startswith(f"no value from vina (preparation of {SALT!r}")
    assert invalid.reason == "invalid SMILES"


@pytest.mark.slow
def test_ray_backend_docks_on_a_local_ray(cache_dir):
    ray = pytest.importorskip("ray", reason="the ray backend needs the ray extra")
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=1, include_dashboard=False, logging_level="WARNING")
    try:
        [score] = run_component("vina", mols(BENZENE), **FAST, backend="ray")  # no cache: really docks
    finally:
        ray.shutdown()
    local = DockCache(cache_dir).get(resolve_target("DRD2").key, [BENZENE], 1, 0).get(BENZENE)
    assert -7.0 < score < -3.0
    if local is not None:  # same seed, same search: the same score wherever it runs
        assert score == local.score


def test_example_docking_config_loads():
    config = load_config(EXAMPLES / "docking.toml")
    vina = config.score.components[0]
    assert vina.type == "vina" and vina.params["target"] == "DRD2"
    assert resolve_target(vina.params["target"]).name == "DRD2"
