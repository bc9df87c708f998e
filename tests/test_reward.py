"""Reward models: feedback files, features, the MLP ensemble, cross-validation, component, CLI."""

import csv
import json

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import QED, Crippen
from scipy.stats import spearmanr
from typer.testing import CliRunner

from chemloop.cli import app
from chemloop.data.corpus import load_moses
from chemloop.errors import ChemloopError
from chemloop.reward.data import PreferenceData, RatingData, ValueData, read_feedback
from chemloop.reward.evaluate import compare_features, cross_validate, fold_indices
from chemloop.reward.features import FeatureTable, featurize, prior_embeddings, prior_size
from chemloop.reward.model import META, WEIGHTS, RewardConfig, RewardModel
from chemloop.score.config import ScoreConfig
from chemloop.score.registry import run_component
from chemloop.score.scorer import Scorer

runner = CliRunner()
FAST = {"hidden": 128, "epochs": 60, "ensemble": 3}  # small and quick; the defaults are larger
FAR_AWAY = [  # nothing like MOSES' drug-like molecules
    "CCCCCCCCCCCCCCCCCCCCCCCCCCCC",
    "OCC(O)C(O)C(O)C(O)CO",
    "C1CCCCCCCCCCCCCCCCCCC1",
    "FC(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)F",
    "O=P(O)(O)OP(=O)(O)O",
    "CC(C)(C)[Si](C)(C)OC",
]


@pytest.fixture(scope="module")
def molecules() -> list[str]:
    """250 canonical molecules of the MOSES test set: 200 to train on, 50 held out."""
    return [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in load_moses("test")[::500][:250]]


@pytest.fixture(scope="module")
def table() -> FeatureTable:
    """Fingerprint features shared by every test (descriptors are the slow part)."""
    return FeatureTable("fingerprints")


def prop(smiles: list[str], function) -> np.ndarray:
    return np.array([function(Chem.MolFromSmiles(s)) for s in smiles])


@pytest.fixture(scope="module")
def logp_model(molecules, table) -> tuple[RewardModel, ValueData]:
    rng = np.random.default_rng(0)
    train = molecules[:200]
    data = ValueData(train, prop(train, Crippen.MolLogP) + rng.normal(0, 0.1, len(train)))
    return RewardModel.fit(data, RewardConfig(kind="values", **FAST), table=table), data


def test_values_model_recovers_the_ranking_of_held_out_molecules(logp_model, molecules):
    model, _ = logp_model
    held_out = molecules[200:]
    mean, std = model.predict(held_out)
    assert mean.shape == std.shape == (50,)
    assert spearmanr(mean, prop(held_out, Crippen.MolLogP)).statistic > 0.8


def test_ensemble_spread_is_larger_far_from_the_training_data(logp_model):
    model, data = logp_model
    _, near = model.predict(data.smiles)
    _, far = model.predict(FAR_AWAY)
    assert (near > 0).all() and (far > 0).all()
    assert far.mean() > near.mean()


@pytest.mark.slow
def test_measurement_std_weights_the_rows(molecules, table):
    # Half the rows carry a wrong value with a huge std: weighted by 1/std², they barely count.
    train, held_out = molecules[:200], molecules[200:]
    truth = prop(train, Crippen.MolLogP)
    values, std = truth.copy(), np.full(200, 0.1)
    values[::2], std[::2] = -truth[::2], 100.0
    config = RewardConfig(kind="values", **FAST)
    weighted = RewardModel.fit(ValueData(train, values, std), config, table=table).predict(held_out)[0]
    unweighted = RewardModel.fit(ValueData(train, values), config, table=table).predict(held_out)[0]
    target = prop(held_out, Crippen.MolLogP)
    assert spearmanr(weighted, target).statistic > 0.5
    assert spearmanr(weighted, target).statistic > spearmanr(unweighted, target).statistic + 0.3


def test_save_and_load_give_identical_predictions(logp_model, tmp_path):
    model, _ = logp_model
    model.save(tmp_path / "rm")
    meta = json.loads((tmp_path / "rm" / META).read_text())
    assert meta["feedback_kind"] == "values" and meta["feature_kind"] == "fingerprints"
    assert meta["ensemble"] == 3 and meta["training"]["rows"] == 200 and "chemloop_version" in meta
    loaded = RewardModel.load(tmp_path / "rm")
    probe = [*FAR_AWAY, "CCO", "c1ccccc1O"]
    for before, after in zip(model.predict(probe), loaded.predict(probe), strict=True):
        np.testing.assert_array_equal(before, after)
    assert model.predict(["OCC"])[0] == model.predict(["CCO"])[0]  # same molecule, same prediction


def test_a_salt_or_another_charge_state_gets_its_parent_compounds_prediction(logp_model, table):
    model, data = logp_model
    forms = ["CN1CCN(c2ccccc2)CC1", "C[NH+]1CCN(c2ccccc2)CC1", "CN1CCN(c2ccccc2)CC1.Cl", "OC(=O)c1ccccc1"]
    mean, _ = model.predict([*forms, "[O-]C(=O)c1ccccc1", "[Na+].[O-]C(=O)c1ccccc1"])
    assert model.config.parent_forms
    assert mean[0] == mean[1] == mean[2] and mean[3] == mean[4] == mean[5]
    as_written = RewardModel.fit(data, RewardConfig(kind="values", parent_forms=False, **FAST), table=table)
    written, _ = as_written.predict(forms[:2])
    assert written[0] != written[1]  # the ammonium's features differ from the amine's


def test_a_model_saved_before_parent_forms_keeps_predicting_as_written(logp_model, tmp_path):
    model, _ = logp_model
    folder = model.save(tmp_path / "rm")
    meta = json.loads((folder / META).read_text())
    del meta["config"]["parent_forms"]
    (folder / META).write_text(json.dumps(meta))
    assert not RewardModel.load(folder).config.parent_forms


def test_a_damaged_model_folder_names_the_file(logp_model, tmp_path):
    model, _ = logp_model
    folder = model.save(tmp_path / "rm")
    (folder / WEIGHTS).write_bytes(b"not a safetensors file")
    with pytest.raises(ChemloopError, match=WEIGHTS):
        RewardModel.load(folder)
    (folder / META).write_text("{ broken")
    with pytest.raises(ChemloopError, match=META):
        RewardModel.load(folder)
    (folder / META).unlink()
    with pytest.raises(ChemloopError, match=f"lacks {META}"):
        RewardModel.load(folder)


@pytest.mark.slow
def test_fitting_is_seeded(molecules, table):
    data = ValueData(molecules[:60], prop(molecules[:60], QED.qed))
    config = RewardConfig(kind="values", hidden=32, epochs=20, ensemble=2, seed=3)
    first = RewardModel.fit(data, config, table=table).predict(molecules[200:210])[0]
    again = RewardModel.fit(data, config, table=table).predict(molecules[200:210])[0]
    other = RewardModel.fit(data, config.model_copy(update={"seed": 4}), table=table).predict(
        molecules[200:210]
    )[0]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def heavy_atom_pairs(smiles: list[str], count: int, seed: int) -> PreferenceData:
    """Random pairs, the molecule with more heavy atoms preferred (ties left out)."""
    rng = np.random.default_rng(seed)
    atoms = prop(smiles, lambda m: m.GetNumHeavyAtoms())
    a, b, preferred = [], [], []
    while len(a) < count:
        i, j = rng.choice(len(smiles), size=2, replace=False)
        if atoms[i] != atoms[j]:
            a.append(smiles[i])
            b.append(smiles[j])
            preferred.append("a" if atoms[i] > atoms[j] else "b")
    return PreferenceData(a, b, preferred)


@pytest.mark.slow
def test_preference_model_learns_a_known_preference(molecules, table):
    train = heavy_atom_pairs(molecules[:200], 300, seed=0)
    held_out = heavy_atom_pairs(molecules[200:], 100, seed=1)  # pairs of molecules never seen
    model = RewardModel.fit(train, RewardConfig(kind="preferences", **FAST), table=table)
    winners, _ = model.predict(held_out.winners)
    losers, _ = model.predict(held_out.losers)
    assert (winners > losers).mean() > 0.8
    # Each member's utilities are centred on the training molecules, so the spread is meaningful.
    members = model.predict_members(list(dict.fromkeys(train.smiles_a + train.smiles_b)))
    np.testing.assert_allclose(members.mean(axis=1), 0.0, atol=1e-4)


@pytest.mark.slow
def test_ratings_model_ranks_better_rated_molecules_higher(molecules, table):
    qed = prop(molecules, QED.qed)
    ratings = np.digitize(qed, np.quantile(qed[:200], [0.2, 0.4, 0.6, 0.8])) + 1  # 1..5
    data = RatingData(molecules[:200], ratings[:200])
    model = RewardModel.fit(data, RewardConfig(kind="ratings", **FAST), table=table)
    mean, _ = model.predict(molecules[200:])
    assert spearmanr(mean, ratings[200:]).statistic > 0.5
    assert 1.0 < mean.mean() < 5.0  # predictions on the rating scale


@pytest.mark.slow
def test_cross_validation_folds_and_metrics(molecules, table):
    folds = fold_indices(23, 5, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(23))
    assert [len(f) for f in folds] == [5, 5, 5, 4, 4]
    pairs = heavy_atom_pairs(molecules[:100], 60, seed=2)
    config = RewardConfig(kind="preferences", hidden=32, epochs=30, ensemble=2)
    result = cross_validate(pairs, config, folds=3, table=table)
    assert result["primary"] == "pairwise_accuracy" and len(result["per_fold"]) == 3
    assert 0.5 < result["metrics"]["pairwise_accuracy"]["mean"] <= 1.0


def test_prior_embeddings_are_deterministic_and_independent_of_the_batch(molecules):
    few = molecules[:40]
    embeddings = prior_embeddings(few)
    assert embeddings.shape == (40, prior_size()) and np.isfinite(embeddings).all()
    np.testing.assert_array_equal(embeddings, prior_embeddings(few))
    np.testing.assert_allclose(prior_embeddings(few[5:6])[0], embeddings[5], atol=1e-5)  # padding is inert
    assert featurize(few[:3], "prior").shape == (3, prior_size())


def test_gpt_logits_are_the_head_of_the_hidden_states():
    from chemloop.model import checkpoint

    model = checkpoint.load("prior").model
    ids = torch.tensor([[1, 5, 6, 7, 2]]) % model.config.vocab_size
    with torch.no_grad():
        torch.testing.assert_close(model(ids), model.head(model.hidden_states(ids)))


@pytest.mark.slow
def test_a_model_on_prior_embeddings_fits_and_compares(molecules, tmp_path):
    data = ValueData(molecules[:60], prop(molecules[:60], Crippen.MolLogP))
    model = RewardModel.fit(data, RewardConfig(kind="values", features="prior", **FAST))
    mean, std = model.predict(molecules[200:220])
    assert mean.shape == (20,) and (std >= 0).all()
    assert np.isfinite(model.predict(["C" * 100])[0]).all()  # longer than the prior's context: truncated
    with pytest.raises(ChemloopError, match="Fe"):
        model.predict(["[Fe]CC"])  # a token the prior's vocabulary lacks
    folder = str(model.save(tmp_path / "prior_rm"))
    scores = run_component("reward_model", [Chem.MolFromSmiles(s) for s in ("CCO", "[Fe]CC")], path=folder)
    assert np.isfinite(scores[0]) and np.isnan(scores[1])  # the component scores what it can
    config = RewardConfig(kind="values", hidden=32, epochs=20, ensemble=2)
    result = compare_features(data, config, folds=2)
    assert set(result["scores"]) == {"fingerprints", "prior"}
    assert result["winner"] in result["scores"] and sum(result["folds_won"].values()) == 2


def test_reward_model_component_scores_mean_plus_kappa_std(logp_model, tmp_path):
    model, _ = logp_model
    folder = str(model.save(tmp_path / "rm"))
    probe = ["CCO", "c1ccccc1CCN", "CCCCCCCCCCCCCCCCCCCC"]
    mean, std = RewardModel.load(folder).predict(probe)
    for kappa in (0.0, 2.0):
        scorer = Scorer(
            ScoreConfig(components=[{"type": "reward_model", "params": {"path": folder, "kappa": kappa}}])
        )
        raw = [s.raw["reward_model"] for s in scorer(probe)]
        np.testing.assert_allclose(raw, mean + kappa * std, rtol=1e-6)


@pytest.mark.parametrize(
    "command", [["reward"], ["reward", "fit"], ["reward", "evaluate"], ["reward", "predict"]]
)
def test_every_reward_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


# --- bad input -----------------------------------------------------------------------------------


def write(path, text: str):
    path.write_text(text)
    return path


def test_readers_canonicalize_and_read_the_optional_std(tmp_path):
    values = read_feedback(
        write(tmp_path / "v.csv", "SMILES, Value ,std\nOCC,1.5,0.2\nc1ccccc1,2,0.5\n"), "values"
    )
    assert values.smiles == ["CCO", "c1ccccc1"] and values.values.tolist() == [1.5, 2.0]
    assert values.std.tolist() == [0.2, 0.5]
    assert read_feedback(write(tmp_path / "n.csv", "smiles,value\nCCO,1\n"), "values").std is None
    pairs = read_feedback(
        write(tmp_path / "p.csv", "smiles_a,smiles_b,preferred\nOCC,CCN,B\n"), "preferences"
    )
    assert pairs.winners == ["CCN"] and pairs.losers == ["CCO"]
    ratings = read_feedback(write(tmp_path / "r.csv", "smiles,rating\nCCO,4\nCCN,5.0\n"), "ratings")
    assert ratings.ratings.tolist() == [4, 5]


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("values", "smiles,value\nCCO,1\nC1CC,2\n", "row 3: smiles 'C1CC' is not a valid SMILES"),
        ("values", "smiles,value\nCCO,abc\n", "row 2: value 'abc' is not a number"),
        ("values", "smiles,value,std\nCCO,1,0\n", "row 2: std '0' must be greater than 0"),
        ("values", "smiles,score\nCCO,1\n", "lacks the column value"),
        ("values", "", "is empty"),
        ("values", "smiles,value\n", "no data rows"),
        (
            "preferences",
            "smiles_a,smiles_b,preferred\nCCO,CCN,c\n",
            "row 2: preferred must be 'a' or 'b', not 'c'",
        ),
        (
            "preferences",
            "smiles_a,smiles_b,preferred\nCCO,OCC,a\n",
            "row 2: smiles_a and smiles_b are the same",
        ),
        ("ratings", "smiles,rating\nCCO,3\nCCN,7\n", "row 3: rating '7' is not a whole number from 1 to 5"),
        ("ratings", "smiles,rating\nCCO,2.5\n", "rating '2.5'"),
        # A cell holds one molecule: RDKit alone would read text after a space as a name.
        ("values", "smiles,value\nCC(=O)O c1ccccc1,1\n", "row 2: smiles 'CC(=O)O c1ccccc1' holds whitespace"),
        (
            "ratings",
            "smiles,rating\nc1ccccc1 benzene,3\n",
            "row 2: smiles 'c1ccccc1 benzene' holds whitespace",
        ),
        ("values", "smiles,value\nCCOÖ,1\n", "holds the non-ASCII character 'Ö'"),
        ("values", "smiles,value\n" + "C" * 20_000 + ",1\n", "is 20,000 characters long; the limit is 500"),
        ("values", "smiles,value\n" + "C" * 300 + ",1\n", "has 300 heavy atoms; the limit is 150"),
        ("values", "smiles,value\nCCO,1e300\n", "row 2: value '1e300' is outside ±1e+06"),
        ("values", "smiles,value\nCCO,-inf\n", "row 2: value '-inf' is not a finite number"),
    ],
)
def test_bad_feedback_names_the_file_row_and_value(tmp_path, kind, text, expected):
    path = write(tmp_path / "feedback.csv", text)
    with pytest.raises(ChemloopError, match="feedback.csv") as err:
        read_feedback(path, kind)
    assert expected in str(err.value)


def test_every_bad_row_is_reported_at_once(tmp_path):
    rows = "".join(f"not_a_smiles_{i},x\n" for i in range(12))
    with pytest.raises(ChemloopError) as err:
        read_feedback(write(tmp_path / "bad.csv", "smiles,value\n" + rows), "values")
    message = str(err.value)
    assert "12 bad row(s) of 12" in message and "row 2:" in message and "and 14 more" in message


def test_cli_reports_bad_feedback_and_exits_2(tmp_path):
    bad = write(tmp_path / "ratings.csv", "smiles,rating\nCCO,3\nCCN,7\n")
    result = runner.invoke(
        app, ["reward", "fit", "--data", str(bad), "--kind", "ratings", "--output", str(tmp_path / "m")]
    )
    assert result.exit_code == 2
    assert "row 3" in result.output and "'7'" in result.output
    result = runner.invoke(
        app, ["reward", "fit", "--data", str(bad), "--kind", "votes", "--output", str(tmp_path / "m")]
    )
    assert result.exit_code == 2 and "kind" in result.output
    result = runner.invoke(
        app,
        ["reward", "predict", "--model", str(tmp_path / "none"), "--smiles", str(bad), "--output", "x.csv"],
    )
    assert result.exit_code == 2 and "no reward model folder" in result.output


@pytest.mark.slow
def test_cli_fit_evaluate_predict(tmp_path, molecules):
    data = tmp_path / "values.csv"
    with data.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["smiles", "value"])
        writer.writerows(
            (s, f"{v:.3f}") for s, v in zip(molecules[:30], prop(molecules[:30], QED.qed), strict=True)
        )
    options = ["--data", str(data), "--kind", "values", "--ensemble", "2", "--epochs", "10"]
    result = runner.invoke(app, ["reward", "fit", *options, "--output", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    report = tmp_path / "cv.json"
    evaluate = ["reward", "evaluate", *options, "--folds", "2", "--features", "fingerprints"]
    result = runner.invoke(app, [*evaluate, "--output", str(report)])
    assert result.exit_code == 0, result.output
    assert "spearman" in result.output and json.loads(report.read_text())["winner"] == "fingerprints"
    smiles = write(tmp_path / "in.smi", "CCO\nc1ccccc1\nC1CC\n")
    predict = ["reward", "predict", "--model", str(tmp_path / "m"), "--smiles", str(smiles)]
    result = runner.invoke(app, [*predict, "--output", str(tmp_path / "p.csv")])
    assert result.exit_code == 2 and "line 3: 'C1CC'" in result.output
    result = runner.invoke(app, [*predict, "--output", str(tmp_path / "p.csv"), "--skip-invalid"])
    assert result.exit_code == 0, result.output
    with (tmp_path / "p.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["smiles"] for r in rows] == ["CCO", "c1ccccc1"] and all(float(r["std"]) >= 0 for r in rows)


@pytest.mark.slow
def test_preferences_beside_a_few_values_sharpen_the_ranking():
    """8 measured values alone rank 200 unseen molecules poorly; 300 chemists' choices among
    other molecules (here: whichever has the higher QED) join the same fit and fix much of it."""
    smiles = load_moses("test")[:400]
    qed = np.array([QED.qed(Chem.MolFromSmiles(s)) for s in smiles])
    values = ValueData(smiles[:8], qed[:8])
    rng = np.random.default_rng(0)
    a, b = rng.integers(8, 200, 300), rng.integers(8, 200, 300)
    keep = a != b
    pairs = PreferenceData(
        [smiles[i] for i in a[keep]],
        [smiles[j] for j in b[keep]],
        ["a" if qed[i] > qed[j] else "b" for i, j in zip(a[keep], b[keep], strict=True)],
    )
    config = RewardConfig(kind="values", ensemble=3, hidden=64, epochs=60)
    held_out = smiles[200:]

    def rho(model):
        return spearmanr(model.predict(held_out)[0], qed[200:]).statistic

    alone, joint = rho(RewardModel.fit(values, config)), rho(RewardModel.fit(values, config, pairs=pairs))
    assert joint > 0.65 and joint > alone + 0.15, (alone, joint)
