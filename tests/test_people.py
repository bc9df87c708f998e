"""Named users and who did what: keys stored hashed, sign-in as a user, attribution of preferences,
ratings, uploads and notes, the review counter and undo, AI-judged pairs with overrule, archive and
delete of campaigns, through the service layer, the web app, the HTTP API and the CLI."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner
from web_support import KEY, PROPOSED, SEED, TINY_REWARD, add_round, count, seed_csv, settings_for

from chemloop.chem.mol import canonical, molecule_key
from chemloop.cli import app as cli_app
from chemloop.errors import ChemloopError
from chemloop.jobs import JobManager
from chemloop.loop.campaign import init_campaign, record_preference
from chemloop.loop.config import CampaignConfig
from chemloop.loop.review import next_pair
from chemloop.loop.store import (
    Attribution,
    Base,
    Note,
    Preference,
    PreferenceSource,
    Rating,
    User,
    get_campaign,
    session_scope,
)
from chemloop.loop.users import key_digest
from chemloop.serve.app import create_app
from chemloop.services import campaign_feedback, campaigns, users
from chemloop.services.workspace import Workspace

CHOICE, UNDO = "/campaigns/demo/review/choice", "/campaigns/demo/review/undo"


@pytest.fixture
def server(tmp_path):
    """(app, factory) with campaign ``demo``: 4 seed values and one proposed round."""
    app = create_app(settings_for(tmp_path, "people.db"))
    app.state.workspace.jobs = JobManager(tmp_path / "jobs", max_running=0)  # jobs queue, never run
    factory = app.state.workspace.factory
    seed = seed_csv(tmp_path / "s.csv", SEED)
    init_campaign(
        factory,
        "demo",
        CampaignConfig.model_validate({"campaign": {"seed_data": str(seed)}, "reward": TINY_REWARD}),
    )
    add_round(factory, "demo")
    return app, factory


def browser(app, key: str) -> TestClient:
    client = TestClient(app)
    response = client.post("/sign-in", data={"key": key}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def judged(factory, name: str, a: str, b: str, preferred: str = "a") -> int:
    """A pair as `chemloop campaign judge` stores it (a preference with its source)."""
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        row = Preference(
            campaign_id=campaign.id, smiles_a=canonical(a), smiles_b=canonical(b), preferred=preferred
        )
        session.add(row)
        session.flush()
        session.add(
            PreferenceSource(
                preference_id=row.id,
                judge="rules",
                constitution="medchem.toml",
                principle="no-pains",
                reason="B carries a PAINS alert",
            )
        )
        return row.id


# --- users ----------------------------------------------------------------------------------------


def test_user_keys_are_stored_hashed_and_identify_their_user(server):
    app, factory = server
    workspace = app.state.workspace
    key = users.add(workspace, "alice")
    with session_scope(factory) as session:
        stored = session.scalar(select(User).where(User.name == "alice"))
        assert stored.key_sha256 == key_digest(key) and key not in stored.key_sha256
    assert users.identify(workspace, key, KEY) == "alice"
    assert users.identify(workspace, KEY, KEY) == users.ADMIN  # the shared key still works
    assert users.identify(workspace, key + "x", KEY) is None
    assert [u["name"] for u in users.list_all(workspace)] == ["alice"]
    with pytest.raises(ChemloopError, match="already exists"):
        users.add(workspace, "alice")
    for bad in ("admin", "", "a b", "-x", "x" * 65):
        with pytest.raises(ChemloopError, match="user name"):
            users.add(workspace, bad)
    users.remove(workspace, "alice")
    assert users.identify(workspace, key, KEY) is None
    with pytest.raises(ChemloopError, match="no user named 'alice'"):
        users.remove(workspace, "alice")


def test_users_cli_adds_lists_and_removes(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    added = runner.invoke(cli_app, ["users", "add", "bob", "--db", db])
    assert added.exit_code == 0, added.output
    key = added.output.strip().splitlines()[-1]
    assert len(key) >= 40
    listed = runner.invoke(cli_app, ["users", "list", "--db", db])
    assert "bob" in listed.output and key not in listed.output
    assert runner.invoke(cli_app, ["users", "add", "bob", "--db", db]).exit_code == 2
    assert runner.invoke(cli_app, ["users", "remove", "bob", "--db", db]).exit_code == 0
    assert "no named users" in runner.invoke(cli_app, ["users", "list", "--db", db]).output
    assert runner.invoke(cli_app, ["users", "remove", "bob", "--db", db]).exit_code == 2


def test_a_user_signs_in_with_their_key_and_their_name_shows(server):
    app, factory = server
    key = users.add(app.state.workspace, "carol")
    carol = browser(app, key)
    page = carol.get("/campaigns/demo/review")
    assert "Signed in as <strong>carol</strong>" in page.text
    admin = browser(app, KEY)
    assert "Signed in as <strong>admin</strong>" in admin.get("/").text
    # Removed by the CLI (another process): the key and the sign-in made with it stop at once.
    users.remove(app.state.workspace, "carol")
    assert "Signed in as" not in carol.get("/campaigns/demo/review").text
    a, b = next_pair(factory, "demo")
    refused = carol.post(CHOICE, json={"smiles_a": a["smiles"], "smiles_b": b["smiles"], "choice": "a"})
    assert refused.status_code == 401 and count(factory, Preference, "demo") == 0
    assert TestClient(app).post("/sign-in", data={"key": key}, follow_redirects=False).status_code == 401


# --- who did what, counter and undo ---------------------------------------------------------------


def choose(client: TestClient, factory, choice: str = "a") -> dict:
    a, b = next_pair(factory, "demo")
    response = client.post(CHOICE, json={"smiles_a": a["smiles"], "smiles_b": b["smiles"], "choice": choice})
    assert response.status_code == 200, response.text
    return response.json()


def test_review_counts_pairs_and_undoes_only_your_last_one(server):
    app, factory = server
    dana = browser(app, users.add(app.state.workspace, "dana"))
    admin = browser(app, KEY)
    first = choose(dana, factory)
    assert first["counts"]["text"] == "1 pair recorded in this campaign, 1 by you"
    second = choose(dana, factory, "b")
    theirs = choose(admin, factory)
    assert theirs["counts"]["text"] == "3 pairs recorded in this campaign, 1 by you"
    page = dana.get("/campaigns/demo/review").text
    assert (
        "3 pairs recorded in this campaign, 2 by you" in page
        and 'data-undo-url="/campaigns/demo/review/undo"' in page
    )
    assert (
        "3 pairs recorded in this campaign</p>" in TestClient(app).get("/campaigns/demo/review").text
    )  # a reader

    undone = dana.post(UNDO)
    assert undone.status_code == 200
    body = undone.json()
    last = second["recorded"]
    assert (
        body["undone"]["id"] == last["id"] and body["counts"]["by_you"] == 1 and body["counts"]["total"] == 2
    )
    assert {body["pair"]["a"]["smiles"], body["pair"]["b"]["smiles"]} == {last["smiles_a"], last["smiles_b"]}
    with session_scope(factory) as session:
        left = set(session.scalars(select(Preference.id)))
        assert last["id"] not in left and theirs["recorded"]["id"] in left  # the admin's pair stays
        assert (
            session.scalar(
                select(func.count())
                .select_from(Attribution)
                .where(Attribution.row_id == last["id"], Attribution.kind == "preference")
            )
            == 0
        )
    assert dana.post(UNDO).status_code == 200
    nothing = dana.post(UNDO)
    assert nothing.status_code == 400 and "nothing to undo" in nothing.json()["detail"]
    assert count(factory, Preference, "demo") == 1
    assert TestClient(app).post(UNDO).status_code == 401


def test_feedback_uploads_and_notes_name_their_user_on_the_molecule_page(server):
    app, factory = server
    erin = browser(app, users.add(app.state.workspace, "erin"))
    a, b = next_pair(factory, "demo")
    erin.post(CHOICE, json={"smiles_a": a["smiles"], "smiles_b": b["smiles"], "choice": "a"})
    assert (
        erin.post("/campaigns/demo/review/rating", json={"smiles": a["smiles"], "rating": 4}).status_code
        == 200
    )
    preview = erin.post(
        "/campaigns/demo/upload",
        files={"file": ("lab.csv", f"smiles,value\n{a['smiles']},7.5\n")},
        data={"external": "true"},
    )
    token = preview.text.split('name="token" value="')[1].split('"')[0]
    confirmed = erin.post(
        "/campaigns/demo/upload/confirm", data={"token": token, "external": "true"}, follow_redirects=False
    )
    assert confirmed.status_code == 303, confirmed.text
    url = f"/campaigns/demo/molecules/{a['key']}"
    note = erin.post(
        url + "/notes",
        data={"text": "  Make the <b>methyl</b> analogue\nnext round "},
        follow_redirects=False,
    )
    assert note.status_code == 303 and note.headers["location"] == url + "#notes"
    page = erin.get(url).text
    assert "Make the &lt;b&gt;methyl&lt;/b&gt; analogue\nnext round" in page and "<b>methyl" not in page
    assert "<strong>erin</strong>" in page
    assert "Rated 4 of 5 by erin" in page
    assert (
        "Measured 7.50 from <code>lab.csv</code>,\n        uploaded by erin" in page
        or "uploaded by erin" in page
    )
    assert "Preferred over" in page and "by erin" in page
    # Notes: bounded, never blank, only on the campaign's molecules, only signed in.
    assert erin.post(url + "/notes", data={"text": "x" * 2001}).status_code == 400
    assert erin.post(url + "/notes", data={"text": "   "}).status_code in (400, 422)
    assert (
        erin.post("/campaigns/demo/molecules/0123456789abcdef/notes", data={"text": "hi"}).status_code == 404
    )
    assert TestClient(app).post(url + "/notes", data={"text": "hi"}).status_code == 401
    with session_scope(factory) as session:
        assert [n.author for n in session.scalars(select(Note))] == ["erin"]


# --- AI-judged pairs --------------------------------------------------------------------------------


def test_review_lists_judged_pairs_and_a_chemist_overrules_one(server):
    app, factory = server
    pid = judged(factory, "demo", "CCO", "O=C1C=CC(=O)C=C1", "a")
    reader = TestClient(app).get("/campaigns/demo/review").text
    assert (
        "Pairs an AI judge decided" in reader and "B carries a PAINS alert" in reader and "no-pains" in reader
    )
    assert (
        f"/campaigns/demo/review/judged/{pid}/overrule" in reader
        and f'href="/campaigns/demo/molecules/{molecule_key("CCO")}"' in reader
    )
    frank = browser(app, users.add(app.state.workspace, "frank"))
    done = frank.post(f"/campaigns/demo/review/judged/{pid}/overrule", follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("#judged")
    with session_scope(factory) as session:
        assert session.get(Preference, pid).preferred == "b" and session.get(PreferenceSource, pid) is None
    assert campaign_feedback.judged_preferences(app.state.workspace, "demo") == []
    page = frank.get(f"/campaigns/demo/molecules/{molecule_key('CCO')}").text
    assert "by frank (overruling a judge)" in page
    assert (
        frank.post(f"/campaigns/demo/review/judged/{pid}/overrule").status_code == 400
    )  # not judged any more


# --- archive and delete ---------------------------------------------------------------------------


def test_archived_campaigns_leave_the_list_and_take_no_rounds_or_results(server, tmp_path):
    app, factory = server
    workspace = app.state.workspace
    admin = browser(app, KEY)
    assert admin.post("/campaigns/demo/archive", follow_redirects=False).status_code == 303
    index = admin.get("/").text
    assert 'href="/campaigns/demo"' not in index and "Show archived campaigns" in index
    shown = admin.get("/", params={"archived": "true"}).text
    assert 'href="/campaigns/demo"' in shown and "archived</small>" in shown
    assert "is <strong>archived</strong>" in admin.get("/campaigns/demo/manage").text
    with pytest.raises(ChemloopError, match="archived"):
        campaigns.start_propose(workspace, "demo")
    with pytest.raises(ChemloopError, match="archived"):
        campaigns.import_results(workspace, "demo", b"smiles,value\nCCO,1\n", "r.csv", external=True)
    assert admin.post("/campaigns/demo/propose", follow_redirects=False).status_code == 409
    assert admin.post("/campaigns/demo/unarchive", follow_redirects=False).status_code == 303
    assert 'href="/campaigns/demo"' in admin.get("/").text


def test_delete_needs_the_name_and_removes_every_row_in_one_go(server):
    app, factory = server
    workspace = app.state.workspace
    admin = browser(app, KEY)
    choose(admin, factory)
    admin.post("/campaigns/demo/review/rating", json={"smiles": "CCO", "rating": 2})
    judged(factory, "demo", "CCO", "c1ccc2ccccc2c1")
    campaign_feedback.add_note(workspace, "demo", molecule_key("CCO"), "admin", "seed")
    campaigns.archive(workspace, "demo", "admin")
    init_campaign(factory, "other", CampaignConfig())
    record_preference(factory, "other", "CCO", "CCN", "a")
    wrong = admin.post("/campaigns/demo/delete", data={"confirm": "dem"})
    assert wrong.status_code == 400 and "exact name" in wrong.text and campaigns.exists(workspace, "demo")
    gone = admin.post("/campaigns/demo/delete", data={"confirm": "demo"}, follow_redirects=False)
    assert gone.status_code == 303 and not campaigns.exists(workspace, "demo")
    with session_scope(factory) as session:  # only the other campaign's rows are left, in every table
        other = get_campaign(session, "other").id
        for table in Base.metadata.sorted_tables:
            if "campaign_id" in table.c:
                ids = set(session.scalars(select(table.c.campaign_id)))
                assert ids <= {other}, table.name
        assert session.scalar(select(func.count()).select_from(PreferenceSource)) == 0
        assert session.scalar(select(func.count()).select_from(Rating)) == 0
    assert admin.get("/campaigns/demo").status_code == 404


def test_campaign_archive_and_delete_from_the_cli(tmp_path):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    from chemloop.loop.store import connect

    init_campaign(connect(db), "keep", CampaignConfig())
    runner = CliRunner()
    assert runner.invoke(cli_app, ["campaign", "archive", "keep", "--db", db]).exit_code == 0
    refused = runner.invoke(cli_app, ["campaign", "import", "keep", str(tmp_path / "x.csv"), "--db", db])
    assert refused.exit_code == 2 and "archived" in refused.output
    assert runner.invoke(cli_app, ["campaign", "archive", "keep", "--undo", "--db", db]).exit_code == 0
    unconfirmed = runner.invoke(cli_app, ["campaign", "delete", "keep", "--db", db])
    assert unconfirmed.exit_code == 1 and "--yes" in unconfirmed.output
    assert runner.invoke(cli_app, ["campaign", "delete", "keep", "--yes", "--db", db]).exit_code == 0
    assert (
        "no campaign named 'keep'"
        in runner.invoke(cli_app, ["campaign", "status", "keep", "--db", db]).output
    )


# --- the HTTP API -----------------------------------------------------------------------------------


def test_api_counts_undo_notes_judged_archive_and_delete(server):
    app, factory = server
    client = TestClient(app)
    gina = {"X-API-Key": users.add(app.state.workspace, "gina")}
    a, b = next_pair(factory, "demo")
    pair = {"smiles_a": a["smiles"], "smiles_b": b["smiles"], "preferred": "a"}
    recorded = client.post("/api/campaigns/demo/preferences", json=pair, headers=gina).json()
    counts = client.get("/api/campaigns/demo/preferences/counts", headers=gina).json()
    assert counts == {"campaign": "demo", "total": 1, "by_you": 1, "by_user": {"gina": 1}}
    assert client.get("/api/campaigns/demo/preferences/counts").json()["by_you"] is None
    assert client.post("/api/campaigns/demo/preferences/undo").status_code == 401
    undone = client.post("/api/campaigns/demo/preferences/undo", headers=gina)
    assert undone.status_code == 200 and undone.json()["id"] == recorded["id"]
    assert client.post("/api/campaigns/demo/preferences/undo", headers=gina).status_code == 404

    key = a["key"]
    note = client.post(
        f"/api/campaigns/demo/molecules/{key}/notes", json={"text": "<script>x</script>"}, headers=gina
    )
    assert note.status_code == 201 and note.json()["author"] == "gina"
    assert client.get(f"/api/campaigns/demo/molecules/{key}/notes").json()[0]["text"] == "<script>x</script>"
    too_long = client.post(
        f"/api/campaigns/demo/molecules/{key}/notes", json={"text": "x" * 2001}, headers=gina
    )
    assert too_long.status_code == 422
    assert (
        client.post(
            "/api/campaigns/demo/molecules/0123456789abcdef/notes", json={"text": "x"}, headers=gina
        ).status_code
        == 404
    )

    pid = judged(factory, "demo", "CCO", "O=C1C=CC(=O)C=C1")
    listed = client.get("/api/campaigns/demo/judged").json()
    assert [p["id"] for p in listed] == [pid] and listed[0]["principle"] == "no-pains"
    over = client.post(f"/api/campaigns/demo/judged/{pid}/overrule", headers=gina)
    assert over.status_code == 200 and over.json() == {
        "campaign": "demo",
        "id": pid,
        "preferred": "b",
        "overruled": "rules",
    }

    assert client.post("/api/campaigns/demo/archive", headers=gina).json() == {
        "campaign": "demo",
        "archived": True,
    }
    assert [c["campaign"] for c in client.get("/api/campaigns").json()] == []
    assert client.get("/api/campaigns", params={"archived": True}).json()[0]["archived"] is True
    propose = client.post("/api/campaigns/demo/propose", json={}, headers=gina)
    assert propose.status_code == 409 and "archived" in propose.text
    assert client.delete("/api/campaigns/demo", params={"confirm": "nope"}, headers=gina).status_code == 422
    deleted = client.delete("/api/campaigns/demo", params={"confirm": "demo"}, headers=gina)
    assert deleted.status_code == 200 and deleted.json()["rows"]["campaign"] == 1
    assert client.get("/api/campaigns/demo").status_code == 404


# --- archived campaigns are read-only for feedback; deletion waits for jobs; who imported what ------


def test_an_archived_campaign_takes_no_feedback_but_notes_over_http_and_the_web_app(server):
    app, factory = server
    workspace = app.state.workspace
    client = TestClient(app)
    hana = {"X-API-Key": users.add(workspace, "hana")}
    web = browser(app, KEY)
    a, b = next_pair(factory, "demo")
    pair = {"smiles_a": a["smiles"], "smiles_b": b["smiles"], "preferred": "a"}
    assert client.post("/api/campaigns/demo/preferences", json=pair, headers=hana).status_code == 201
    pid = judged(factory, "demo", "CCO", "O=C1C=CC(=O)C=C1")
    campaigns.archive(workspace, "demo", "admin")
    before = (count(factory, Preference, "demo"), count(factory, Rating, "demo"))

    refused = [
        client.post("/api/campaigns/demo/preferences", json=pair, headers=hana),
        client.post("/api/campaigns/demo/ratings", json={"smiles": "CCO", "rating": 3}, headers=hana),
        client.post(f"/api/campaigns/demo/judged/{pid}/overrule", headers=hana),
        client.post("/api/campaigns/demo/preferences/undo", headers=hana),
        web.post(CHOICE, json={"smiles_a": a["smiles"], "smiles_b": b["smiles"], "choice": "b"}),
        web.post("/campaigns/demo/review/rating", json={"smiles": a["smiles"], "rating": 5}),
        web.post(UNDO),
        web.post(f"/campaigns/demo/review/judged/{pid}/overrule"),
    ]
    assert [r.status_code for r in refused] == [409] * len(refused)
    assert "campaign &#39;demo&#39; is archived; unarchive it to overrule judged pairs" in refused[-1].text
    api_messages = [r.json()["detail"][0]["msg"] for r in refused[:4]]
    assert api_messages[0] == "campaign 'demo' is archived; unarchive it to record preferences"
    assert api_messages[1] == "campaign 'demo' is archived; unarchive it to record ratings"
    assert refused[4].json()["detail"] == api_messages[0]  # the review page's script shows it
    assert (count(factory, Preference, "demo"), count(factory, Rating, "demo")) == before
    with session_scope(factory) as session:
        assert session.get(PreferenceSource, pid) is not None  # the judged pair stands as judged

    page = web.get("/campaigns/demo/review").text
    assert "This campaign is <strong>archived</strong>" in page
    assert 'id="review"' not in page and 'id="card-a"' not in page  # no pair offered
    assert 'id="review-archived"' in page
    note = client.post(
        f"/api/campaigns/demo/molecules/{a['key']}/notes", json={"text": "still worth a look"}, headers=hana
    )
    assert note.status_code == 201  # notes are comments, not feedback: still open

    campaigns.unarchive(workspace, "demo")
    assert client.post("/api/campaigns/demo/preferences", json=pair, headers=hana).status_code == 201
    assert 'id="card-a"' in web.get("/campaigns/demo/review").text


def test_delete_is_refused_while_any_job_of_the_campaign_is_queued(server):
    app, _ = server
    workspace = app.state.workspace
    web = browser(app, KEY)
    fit = campaigns.start_fit(workspace, "demo", "import")  # a refit after an import: queued, never run
    refused = TestClient(app).delete(
        "/api/campaigns/demo", params={"confirm": "demo"}, headers={"X-API-Key": KEY}
    )
    assert refused.status_code == 409 and campaigns.exists(workspace, "demo")
    message = refused.json()["detail"][0]["msg"]
    assert "a reward-model refit after an import" in message and fit.id in message
    assert "wait for it to finish or cancel it first" in message
    page = web.post("/campaigns/demo/delete", data={"confirm": "demo"})
    assert page.status_code == 409 and fit.id in page.text and campaigns.exists(workspace, "demo")
    with pytest.raises(ChemloopError, match="cannot be deleted"):
        campaigns.delete_campaign(workspace, "demo", "demo")
    workspace.jobs.cancel(fit.id)
    assert campaigns.delete_campaign(workspace, "demo", "demo")["deleted"] is True


def _file_users(factory, name: str) -> list[str]:
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        return list(
            session.scalars(
                select(Attribution.user)
                .where(Attribution.campaign_id == campaign.id, Attribution.kind == "file")
                .order_by(Attribution.id)
            )
        )


def test_cli_imports_and_seeds_are_attributed_to_the_login_name(tmp_path, monkeypatch):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    workspace = Workspace(db, tmp_path / "runs")
    config = tmp_path / "campaign.toml"
    config.write_text("[campaign]\nmin_measurements = 50\n")
    seed = seed_csv(tmp_path / "seed.csv", SEED)
    monkeypatch.setattr("getpass.getuser", lambda: "mchem")
    runner = CliRunner()
    made = runner.invoke(
        cli_app, ["campaign", "init", "lab", "--config", str(config), "--seed", str(seed), "--db", db]
    )
    assert made.exit_code == 0, made.output
    add_round(workspace.factory, "lab")
    results = tmp_path / "r.csv"
    results.write_text(f"smiles,value\n{PROPOSED[0][0]},4.5\n")

    def nobody() -> str:
        raise OSError("no login name")

    monkeypatch.setattr("getpass.getuser", nobody)  # e.g. a container without a user entry
    imported = runner.invoke(cli_app, ["campaign", "import", "lab", str(results), "--db", db])
    assert imported.exit_code == 0, imported.output
    assert _file_users(workspace.factory, "lab") == ["cli:mchem", "cli"]  # the seed file, the import
    measured = campaign_feedback.molecule_activity(workspace, "lab", canonical("CCO"))["measurements"]
    assert [m["user"] for m in measured] == ["cli:mchem"]
    with pytest.raises(ChemloopError, match="reserved"):
        users.add(workspace, "cli")  # no named user can pass for the command line


def test_a_web_created_campaigns_seed_file_names_its_creator(server):
    app, factory = server
    ines = browser(app, users.add(app.state.workspace, "ines"))
    seed = ("seed.csv", "smiles,value\nCCO,1\nCCN,2\n", "text/csv")
    made = ines.post("/campaigns", data={"name": "fresh"}, files={"seed": seed}, follow_redirects=False)
    assert made.status_code == 303, made.text
    assert _file_users(factory, "fresh") == ["ines"]
    page = ines.get(f"/campaigns/fresh/molecules/{molecule_key('CCO')}").text
    assert "uploaded by ines" in page
    gina = {"X-API-Key": users.add(app.state.workspace, "gina")}
    body = {"name": "api", "seed": [{"smiles": "CCO", "value": 1.0}]}
    assert TestClient(app).post("/api/campaigns", json=body, headers=gina).status_code == 201
    assert _file_users(factory, "api") == ["gina"]
