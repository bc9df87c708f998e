"""The design-make-test loop on SQLite with the shipped prior and tiny settings."""

import csv
import os
import uuid

import pytest
from rdkit import Chem
from rdkit.Chem import QED
from sqlalchemy import func, select
from typer.testing import CliRunner

from chemloop.cli import app
from chemloop.errors import ChemloopError
from chemloop.loop import campaign, campaign_reads, reward_store
from chemloop.loop import results as loop_results
from chemloop.loop.config import CampaignConfig, load_campaign_config
from chemloop.loop.store import Campaign, RewardModelVersion, connect, get_campaign, session_scope

runner = CliRunner()
SEED = [
    "CCO",
    "c1ccccc1O",
    "CC(=O)Nc1ccc(O)cc1",
    "CCN(CC)CC",
    "c1ccc2ccccc2c1",
    "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
    "O=C(O)c1ccccc1O",
    "CN1CCC[C@H]1c1cccnc1",
    "Clc1ccccc1",
    "CCCCCCCC",
]


def lab(smiles: str) -> float:
    """The simulated assay: 10 × QED, a value with the spread of a pIC50."""
    return round(10 * QED.qed(Chem.MolFromSmiles(smiles)), 4)


def write_values(path, smiles):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["smiles", "value"])
        writer.writerows([s, lab(s)] for s in smiles)
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Each campaign test runs on SQLite, and on PostgreSQL where CI provides a server
    (``CHEMLOOP_TEST_POSTGRES``: a SQLAlchemy URL, e.g. postgresql+psycopg://user@127.0.0.1/db)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'campaigns.db'}"
    url = os.environ.get("CHEMLOOP_TEST_POSTGRES")
    if not url:
        pytest.skip("no PostgreSQL server (set CHEMLOOP_TEST_POSTGRES; .ci/run starts one)")
    return url


@pytest.fixture
def campaign_setup(tmp_path, database_url):
    write_values(tmp_path / "seed.csv", SEED)
    (tmp_path / "campaign.toml").write_text(
        "[campaign]\nbatch = 4\ncandidates = 120\nrl_steps = 2\nrl_batch_size = 16\nseed_data = 'seed.csv'\n"
        "[reward]\nensemble = 2\nhidden = 32\nepochs = 20\ncv_folds = 2\n"
        "[[score.components]]\ntype = 'alerts'\nfilter = true\nparams = { catalogs = ['PAINS'] }\n"
    )
    factory = connect(database_url)
    name = f"test-{uuid.uuid4().hex[:12]}"  # unique per test and per run, also on a shared PostgreSQL server
    campaign.init_campaign(factory, name, load_campaign_config(tmp_path / "campaign.toml"))
    return factory, name, tmp_path


def _proposed(path):
    with path.open() as handle:
        return [row["smiles"] for row in csv.DictReader(handle)]


@pytest.mark.slow
def test_init_propose_import_propose(campaign_setup):
    factory, name, tmp = campaign_setup
    first = campaign.propose(factory, name, output=tmp / "round1.csv")
    assert first.round == 1 and len(first.smiles) == 4 == len(_proposed(tmp / "round1.csv"))
    assert all(
        m is not None and s is not None
        for m, s in zip(first.predicted_mean, first.predicted_std, strict=True)
    )
    assert not set(first.smiles) & {Chem.CanonSmiles(s) for s in SEED}  # never re-proposes what was tested
    loop_results.import_results(factory, name, write_values(tmp / "results1.csv", first.smiles))
    second = campaign.propose(factory, name, output=tmp / "round2.csv")
    assert second.round == 2 and not set(second.smiles) & set(first.smiles)
    report = campaign_reads.status(factory, name)
    assert [r["round"] for r in report["rounds"]] == [1, 2]
    assert report["rounds"][0]["measured"] == 4 and report["rounds"][1]["measured"] == 0
    assert report["rounds"][0]["best"] == max(lab(s) for s in first.smiles)
    assert report["molecules_tested"] == 14 and report["reward_model"]["measurements"] == 14


@pytest.mark.slow
def test_a_kill_mid_propose_stores_nothing_and_the_next_propose_works(campaign_setup, monkeypatch):
    factory, name, tmp = campaign_setup

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # as if the process died while choosing the batch

    with monkeypatch.context() as patch:
        patch.setattr(campaign, "select_in_parts", killed)
        with pytest.raises(KeyboardInterrupt):
            campaign.propose(factory, name, output=tmp / "lost.csv")
    assert campaign_reads.status(factory, name)["rounds"] == [] and not (tmp / "lost.csv").exists()
    assert campaign.propose(factory, name, output=tmp / "round1.csv").round == 1


@pytest.mark.slow
def test_import_twice_changes_nothing_and_unknown_molecules_need_external(campaign_setup):
    factory, name, tmp = campaign_setup
    proposed = campaign.propose(factory, name, output=tmp / "round1.csv").smiles
    results = write_values(tmp / "results.csv", proposed)
    assert loop_results.import_results(factory, name, results)["imported"] == 4
    again = loop_results.import_results(factory, name, results)
    assert again["imported"] == 0 and "already imported" in again["note"]
    assert campaign_reads.status(factory, name)["molecules_tested"] == 14

    outsider = write_values(tmp / "outsider.csv", [proposed[0], "CC(=O)Oc1ccccc1C(=O)O"])
    with pytest.raises(ChemloopError, match=r"row 3: CC\(=O\)Oc1ccccc1C\(=O\)O.*--external"):
        loop_results.import_results(factory, name, outsider)
    assert campaign_reads.status(factory, name)["molecules_tested"] == 14  # the rejected file stored nothing
    external = loop_results.import_results(factory, name, outsider, external=True)
    assert external["imported"] == 1  # the proposed molecule's value is stored already
    assert external["left_out"] == [{"row": 2, "message": "already stored from results.csv"}]
    assert campaign_reads.status(factory, name)["molecules_tested"] == 15


@pytest.mark.slow
def test_bad_result_rows_are_named(campaign_setup):
    factory, name, tmp = campaign_setup
    (tmp / "bad.csv").write_text("smiles,value\nCCO,1.0\nC1CC,2.0\nCCN,high\n")
    with pytest.raises(ChemloopError, match=r"row 3.*'C1CC'.*row 4.*'high'"):
        loop_results.import_results(factory, name, tmp / "bad.csv", external=True)
    (tmp / "cols.csv").write_text("smile,val\nCCO,1\n")
    with pytest.raises(ChemloopError, match="none of"):
        loop_results.import_results(factory, name, tmp / "cols.csv")
    with pytest.raises(ChemloopError, match="no campaign named 'nope'"):
        campaign_reads.status(factory, "nope")


@pytest.mark.slow
def test_campaign_commands(tmp_path):
    write_values(tmp_path / "seed.csv", SEED)
    (tmp_path / "c.toml").write_text(
        "[campaign]\nbatch = 3\ncandidates = 100\nrl_steps = 1\nrl_batch_size = 16\nseed_data = 'seed.csv'\n"
        "[reward]\nensemble = 2\nhidden = 32\nepochs = 20\ncv_folds = 2\n"
    )
    db = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    assert (
        runner.invoke(app, ["campaign", "init", "demo", "--config", str(tmp_path / "c.toml"), *db]).exit_code
        == 0
    )
    result = runner.invoke(app, ["campaign", "propose", "demo", "--output", str(tmp_path / "r1.csv"), *db])
    assert result.exit_code == 0, result.output
    proposed = _proposed(tmp_path / "r1.csv")
    write_values(tmp_path / "outsider.csv", [proposed[0], "CC(=O)Oc1ccccc1C(=O)O"])
    refused = runner.invoke(app, ["campaign", "import", "demo", str(tmp_path / "outsider.csv"), *db])
    assert refused.exit_code == 2 and "row 3: CC(=O)Oc1ccccc1C(=O)O" in " ".join(refused.output.split())
    write_values(tmp_path / "m1.csv", proposed)
    assert runner.invoke(app, ["campaign", "import", "demo", str(tmp_path / "m1.csv"), *db]).exit_code == 0
    status = runner.invoke(app, ["campaign", "status", "demo", "--json", *db])
    assert status.exit_code == 0 and '"molecules_tested": 13' in status.output
    bad = runner.invoke(app, ["campaign", "init", "demo2", "--config", str(tmp_path / "nope.toml"), *db])
    assert bad.exit_code == 2 and "nope.toml" in bad.output


def test_example_campaign_config_is_valid():
    config = load_campaign_config("examples/campaign/campaign.toml")
    assert config.campaign.seed_data.exists() and config.campaign.batch == 12
    assert all(c.filter for c in config.score.components)  # constraints; the reward model is the objective


@pytest.mark.parametrize(
    ("line", "named"),
    [
        (
            'rl_kappa = "hot"',
            "campaign.rl_kappa: Input should be a valid number, unable to parse string as a number"
            " or Input should be 'auto'",
        ),
        (
            "rl_kappa = -20",
            "campaign.rl_kappa: Input should be greater than or equal to -10 or Input should be 'auto'",
        ),
        ("batch = 0", "campaign.batch: Input should be greater than or equal to 1"),
    ],
)
def test_a_bad_campaign_key_is_named_once_whatever_types_it_takes(tmp_path, line, named):
    (tmp_path / "campaign.toml").write_text(f"[campaign]\n{line}\n")
    with pytest.raises(ChemloopError) as err:
        load_campaign_config(tmp_path / "campaign.toml")
    assert str(err.value).endswith(f"campaign.toml: {named}")


@pytest.mark.slow
def test_preferences_and_ratings_are_stored_and_feed_the_next_fit(campaign_setup):
    factory, name, tmp = campaign_setup
    before = campaign_reads.status(factory, name)
    assert before["reward_model"]["feedback"] == {"values": 10, "preferences": 0, "ratings": 0}
    assert not before["reward_model_stale"]
    (tmp / "ratings.csv").write_text("smiles,rating\nClc1ccccc1,5\n")
    assert loop_results.import_results(factory, name, tmp / "ratings.csv", external=True)["kind"] == "ratings"
    assert not campaign_reads.status(factory, name)["reward_model_stale"]  # an import refits at once
    # Single choices (the web app's clicks) are cheap: stored now, fitted by the next propose.
    stored = campaign.record_preference(factory, name, "OC1=CC=CC=C1", "CCO", "A")
    assert (stored["smiles_a"], stored["preferred"]) == ("Oc1ccccc1", "a")  # canonical, lower case
    campaign.record_rating(factory, name, "CCN(CC)CC", 2)
    campaign.record_rating(factory, name, "c1ccc2ccccc2c1", 4)
    status = campaign_reads.status(factory, name)
    assert (status["preferences"], status["ratings"], status["reward_model_stale"]) == (1, 3, True)
    # The next propose refits on everything first: values, the choice, and the pairs the ratings imply.
    campaign.propose(factory, name, output=tmp / "round1.csv")
    after = campaign_reads.status(factory, name)
    assert after["reward_model"]["feedback"] == {"values": 10, "preferences": 1, "ratings": 3}
    assert not after["reward_model_stale"]
    with session_scope(factory) as session:  # the pairs reached the fit: 1 choice + 3 rated molecules → 3
        model = reward_store.latest(session, get_campaign(session, name).id)
    assert model.metadata["pairs"] == 1 + 3


@pytest.mark.slow
def test_bad_feedback_is_refused_and_named(campaign_setup):
    factory, name, _ = campaign_setup
    cases = [
        (
            lambda: campaign.record_preference(factory, name, "CCO", "CCN", "c"),
            "preferred must be 'a' or 'b'",
        ),
        (lambda: campaign.record_preference(factory, name, "CCO", "OCC", "a"), "same molecule"),
        (lambda: campaign.record_preference(factory, name, "C1CC", "CCO", "a"), "'C1CC'"),
        (lambda: campaign.record_rating(factory, name, "CCO", 6), "from 1 to 5, not 6"),
        (lambda: campaign.record_rating(factory, "nope", "CCO", 3), "no campaign named 'nope'"),
    ]
    for call, message in cases:
        with pytest.raises(ChemloopError, match=message):
            call()
    status = campaign_reads.status(factory, name)
    assert (status["preferences"], status["ratings"]) == (0, 0)


def test_one_name_rule_wherever_a_campaign_is_created(tmp_path):
    db = f"sqlite:///{tmp_path / 'names.db'}"
    factory = connect(db)
    for bad in ("a/b", "", " lead", "../up", "x" * 101, "tab\there"):
        with pytest.raises(ChemloopError, match="letters, digits"):
            campaign.init_campaign(factory, bad, CampaignConfig())
    with pytest.raises(ChemloopError, match="letters, digits"):  # the store's row, whoever makes it
        Campaign(name="a/b", config_json="{}")
    (tmp_path / "c.toml").write_text("[campaign]\nbatch = 3\n")
    result = runner.invoke(
        app, ["campaign", "init", "lab/2024", "--config", str(tmp_path / "c.toml"), "--db", db]
    )
    assert result.exit_code != 0 and "letters, digits" in result.output
    assert campaign.init_campaign(factory, "Lead series 2.1_b-x", CampaignConfig())["campaign"]
    assert [c["campaign"] for c in campaign_reads.list_campaigns(factory)] == ["Lead series 2.1_b-x"]


@pytest.mark.slow
def test_only_the_newest_reward_models_are_kept(campaign_setup):
    factory, name, _ = campaign_setup
    with session_scope(factory) as session:
        campaign_id = get_campaign(session, name).id
        config = CampaignConfig.model_validate_json(get_campaign(session, name).config_json)
    for _ in range(reward_store.KEPT_FITS + 2):  # the seed's fit, then more
        assert reward_store.refit(factory, campaign_id, config)
    with session_scope(factory) as session:
        ids = session.scalars(
            select(RewardModelVersion.id).where(RewardModelVersion.campaign_id == campaign_id)
        ).all()
        newest = session.scalar(select(func.max(RewardModelVersion.id)))
    assert len(ids) == reward_store.KEPT_FITS and newest in ids
    latest = campaign_reads.status(factory, name)["reward_model"]
    assert latest["measurements"] == 10  # the latest still loads


@pytest.mark.slow
def test_the_same_results_in_another_file_layout_are_already_imported(campaign_setup):
    """Duplicates are recognised by the parsed rows: CRLF, row order and SMILES spelling do not hide them."""
    factory, name, tmp = campaign_setup
    first = write_values(tmp / "first.csv", ["CCCN", "Cc1ccccc1O"])
    assert loop_results.import_results(factory, name, first, external=True)["imported"] == 2
    same = tmp / "same.csv"
    same.write_bytes(f"value,smiles\r\n{lab('Cc1ccccc1O')},Oc1ccccc1C\r\n{lab('CCCN')},NCCC\r\n".encode())
    again = loop_results.import_results(factory, name, same, external=True)
    assert again["imported"] == 0 and "already imported" in again["note"]
    assert campaign_reads.status(factory, name)["molecules_tested"] == len(SEED) + 2


@pytest.mark.slow
def test_concurrent_imports_of_the_same_results_store_them_once(campaign_setup):
    from concurrent.futures import ThreadPoolExecutor

    factory, name, tmp = campaign_setup
    results = write_values(tmp / "results.csv", ["CCN", "CCCl"])
    with ThreadPoolExecutor(6) as pool:
        answers = list(
            pool.map(lambda _: loop_results.import_results(factory, name, results, external=True), range(6))
        )
    assert sorted(a["imported"] for a in answers) == [0, 0, 0, 0, 0, 2]
    assert campaign_reads.status(factory, name)["molecules_tested"] == len(SEED) + 2


def test_results_for_a_proposed_molecule_in_another_protonation_state_or_salt_are_its_own(tmp_path):
    """The model writes pH-7 forms; a lab registers the neutral parent or a salt. Such a row is the
    proposed molecule's result, stored under the proposed SMILES; only a new parent needs --external."""
    from web_support import add_round

    from chemloop.loop.campaign import init_campaign
    from chemloop.loop.store import Measurement, Preference

    factory = connect(f"sqlite:///{tmp_path / 'forms.db'}")
    init_campaign(factory, "forms", CampaignConfig())
    ammonium, carboxylate = "C[NH+]1CCN(c2ccccc2)CC1", "O=C([O-])Cc1ccccc1"
    add_round(factory, "forms", rows=[(ammonium, 5.0, 0.5), (carboxylate, 4.0, 0.5)])
    values = tmp_path / "values.csv"
    values.write_text("smiles,value\nCN1CCN(c2ccccc2)CC1.Cl,6.5\nOC(=O)Cc1ccccc1,5.5\n")
    assert loop_results.import_results(factory, "forms", values, fit_reward=False)["imported"] == 2
    prefs = tmp_path / "prefs.csv"
    prefs.write_text("smiles_a,smiles_b,preferred\nCN1CCN(c2ccccc2)CC1,OC(=O)Cc1ccccc1,a\n")
    assert loop_results.import_results(factory, "forms", prefs, fit_reward=False)["imported"] == 1
    with session_scope(factory) as session:
        stored = {
            (m.smiles, m.value, m.round_number, m.external) for m in session.scalars(select(Measurement))
        }
        pair = session.scalars(select(Preference)).one()
        assert stored == {
            (Chem.CanonSmiles(ammonium), 6.5, 1, False),
            (Chem.CanonSmiles(carboxylate), 5.5, 1, False),
        }
        assert (pair.smiles_a, pair.smiles_b) == (Chem.CanonSmiles(ammonium), Chem.CanonSmiles(carboxylate))
    other = tmp_path / "other.csv"
    other.write_text("smiles,value\nCN1CCN(c2ccccc2)CC1C,6.0\n")  # another parent: not proposed
    with pytest.raises(ChemloopError, match="never proposed"):
        loop_results.import_results(factory, "forms", other, fit_reward=False)
