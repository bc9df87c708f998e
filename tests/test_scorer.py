import math

import pytest
from pydantic import ValidationError
from rdkit import Chem

from chemloop.score.config import ScoreConfig
from chemloop.score.scorer import Scorer


def config(*components, aggregate="geometric"):
    return ScoreConfig(components=list(components), aggregate=aggregate)


def test_raw_transform_aggregate_pipeline():
    scorer = Scorer(
        config(
            {"type": "qed", "weight": 1.0},
            {"type": "mw", "weight": 1.0, "transform": {"type": "step", "low": 0, "high": 100}},
        )
    )
    light, heavy = scorer(["CCO", "CC(=O)Oc1ccccc1C(=O)O"])
    assert light.transformed["mw"] == 1.0 and heavy.transformed["mw"] == 0.0
    assert light.score == pytest.approx(math.sqrt(light.raw["qed"]))
    assert heavy.score == 0.0  # geometric mean: one zero zeroes the whole


def test_filter_components_zero_the_score_and_say_why():
    scorer = Scorer(
        config({"type": "qed"}, {"type": "alerts", "filter": True, "params": {"catalogs": ["PAINS"]}})
    )
    catechol, phenol = scorer(["Oc1ccccc1O", "Oc1ccccc1"])
    assert catechol.score == 0.0 and catechol.reason == "filtered by alerts"
    assert phenol.score == pytest.approx(phenol.raw["qed"])


def test_cache_and_budget_count_unique_canonical_molecules():
    scorer = Scorer(config({"type": "qed"}), budget=3)
    first = scorer(["CCO", "OCC", "c1ccccc1", "not a smiles"])
    assert len(scorer.calls) == 2  # CCO and OCC are one molecule; invalid strings are free
    assert first[0].score == first[1].score and first[3].score == 0.0 and first[3].reason == "invalid SMILES"
    second = scorer(["CCN", "CCC", "CCO"])
    assert len(scorer.calls) == 3 and scorer.exhausted
    assert second[0].score > 0 and math.isnan(second[1].score) and second[1].reason == "budget exhausted"
    assert second[2].score == first[0].score  # cached, no new call
    assert [c.canonical for c in scorer.calls] == ["CCO", "c1ccccc1", "CCN"]


def test_neutralize_scores_a_charge_state_as_its_neutral_molecule(tmp_path):
    """A phenolate and a carboxylate score as the phenol and the acid, so writing the charge gains
    nothing; each form is still its own stored, counted call, and plugins get the neutral SMILES."""
    plugin = tmp_path / "seen.py"
    plugin.write_text("def score(smiles):\n    return [0.0 if '-' in s else 1.0 for s in smiles]\n")
    seen = {"type": "python", "path": str(plugin), "function": "score", "weight": 0}
    components = [{"type": "clogp"}, seen]
    charged, neutral = "[O-]c1ccc(CC(=O)[O-])cc1", "Oc1ccc(CC(=O)O)cc1"
    as_written = Scorer(config(*components))([charged, neutral])
    assert as_written[0].raw["clogp"] != pytest.approx(as_written[1].raw["clogp"])
    assert as_written[0].raw["seen"] == 0.0
    scorer = Scorer(ScoreConfig(components=components, neutralize=True))
    first, second = scorer([charged, neutral])
    assert first.raw == pytest.approx(second.raw) and first.raw["seen"] == 1.0
    assert [c.canonical for c in scorer.calls] == [Chem.CanonSmiles(charged), Chem.CanonSmiles(neutral)]


def test_python_plugin_file(tmp_path):
    plugin = tmp_path / "my_objective.py"
    plugin.write_text("def score(smiles):\n    return [min(1.0, len(s) / 10) for s in smiles]\n")
    scorer = Scorer(config({"type": "python", "path": str(plugin), "function": "score"}))
    (result,) = scorer(["CCCCC"])
    assert result.raw["my_objective"] == 0.5 and result.score == 0.5


def test_plugin_errors_name_the_file(tmp_path):
    from chemloop.errors import ChemloopError

    with pytest.raises(ChemloopError, match="not found"):
        Scorer(config({"type": "python", "path": str(tmp_path / "missing.py")}))
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(ChemloopError, match="has no function 'score'"):
        Scorer(config({"type": "python", "path": str(tmp_path / "empty.py")}))


@pytest.mark.parametrize(
    ("component", "message"),
    [
        ({"type": "qed", "wieght": 1.0}, "wieght"),
        ({"type": "qedd"}, "unknown scoring component 'qedd'"),
        ({"type": "qed", "weight": -1}, "weight"),
        ({"type": "mw", "transform": {"type": "sigmod"}}, "unknown transform 'sigmod'"),
        ({"type": "mw", "transform": {"type": "sigmoid", "lo": 1}}, "transform 'sigmoid' of component 'mw'"),
        ({"type": "python"}, "needs a 'path'"),
    ],
)
def test_bad_config_names_the_problem(component, message):
    with pytest.raises(ValidationError, match=message):
        config(component)


def test_external_command_in_parallel_batches(tmp_path):
    import sys

    script = tmp_path / "count_n.py"
    script.write_text(
        "import json, sys\nprint(json.dumps([s.count('N') for s in sys.stdin.read().split()]))\n"
    )
    scorer = Scorer(
        config(
            {
                "type": "command",
                "command": [sys.executable, str(script)],
                "batch_size": 2,
                "transform": {"type": "clamp", "low": 0, "high": 1},
            }
        )
    )
    results = scorer(["CCN", "NCCN", "CCO", "c1ccncc1", "CC"])
    assert [r.raw["count_n"] for r in results] == [1, 2, 0, 0, 0]  # aromatic n is lower case
    assert [r.score for r in results] == [1, 1, 0, 0, 0]


def test_external_command_timeout_and_bad_output_are_named(tmp_path):
    import sys

    from chemloop.errors import ChemloopError

    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(5)\n")
    scorer = Scorer(config({"type": "command", "command": [sys.executable, str(slow)], "timeout": 0.5}))
    with pytest.raises(ChemloopError, match="timed out after 0.5 s"):
        scorer(["CCO"])
    chatty = tmp_path / "chatty.py"
    chatty.write_text("print('hello')\n")
    scorer = Scorer(config({"type": "command", "command": [sys.executable, str(chatty)]}))
    with pytest.raises(ChemloopError, match="did not print a JSON list"):
        scorer(["CCO"])


def test_entry_point_plugin_is_found_by_name(tmp_path, monkeypatch):
    from chemloop.score import registry

    (tmp_path / "my_chem_plugin.py").write_text(
        "def heavy(mols):\n    return [m.GetNumAtoms() for m in mols]\n"
    )
    info = tmp_path / "my_chem_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-chem-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[chemloop.components]\nheavy_count = my_chem_plugin:heavy\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_discovered", False)
    assert registry.run_component("heavy_count", [Chem.MolFromSmiles("CCO")]) == [3.0]
