"""The campaign dashboard leading through a round: the next step (make and test the proposed
molecules, upload their results, propose the next round), and the campaign's work in the background
(create's first fit, an import's refit) with its progress, through TestClient."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from web_support import KEY, PROPOSED, SEED, TINY_REWARD, add_round, seed_csv, settings_for

from chemloop.chem.mol import canonical, molecule_key
from chemloop.jobs import JobManager
from chemloop.loop.assay import Assay
from chemloop.loop.campaign import init_campaign
from chemloop.loop.config import CampaignConfig
from chemloop.loop.store import Proposal, ProposalExplanation, session_scope
from chemloop.serve.app import create_app
from chemloop.serve.web.best import best_text, ranked_points, round_best_texts, round_best_values

RESULTS = "smiles,value\n" + "".join(f"{s},{m + 0.1}\n" for s, m, _ in PROPOSED)  # round 1, measured


def _server(tmp_path, reward=TINY_REWARD, max_running: int | None = 0):
    """(client, factory) with campaign ``demo``: 4 seed values and round 1 proposed, nothing of it
    measured. ``max_running=0``: jobs wait in the queue and never run (None: they run)."""
    app = create_app(settings_for(tmp_path, "web.db"))
    factory = app.state.workspace.factory
    config = CampaignConfig.model_validate(
        {"campaign": {"seed_data": str(seed_csv(tmp_path / "s.csv", SEED))}, "reward": reward}
    )
    init_campaign(factory, "demo", config)
    add_round(factory, "demo")
    if max_running is not None:
        app.state.workspace.jobs = JobManager(tmp_path / "queued", max_running=max_running)
    return TestClient(app), factory


def _sign_in(client: TestClient) -> None:
    response = client.post("/sign-in", data={"key": KEY, "next": "/"}, follow_redirects=False)
    assert response.status_code == 303


def _upload(client: TestClient, text: str) -> str:
    """Preview and confirm a results file as the chemist does; returns where the confirm leads."""
    preview = client.post("/campaigns/demo/upload", files={"file": ("lab.csv", text, "text/csv")})
    assert preview.status_code == 200, preview.text
    token = preview.text.split('name="token" value="')[1].split('"')[0]
    stored = client.post("/campaigns/demo/upload/confirm", data={"token": token}, follow_redirects=False)
    assert stored.status_code == 303
    return stored.headers["location"]


def test_a_proposal_without_the_series_core_is_marked_outside_the_trust_region(tmp_path):
    """Measured benzylpiperidines form a series; an open-chain benzylamine as similar by ECFP4 as
    the region needs lacks their core, and its card says so."""
    app = create_app(settings_for(tmp_path, "web.db"))
    factory = app.state.workspace.factory
    series = {
        "COc1ccc(C[NH+]2CCC(OC(C)(C)C)CC2)cc1": 1.0,
        "CC1CC[NH+](Cc2ccc(C#N)cc2F)CC1": 2.0,
        "CNC(=O)[C@@H]1CCC[NH+](Cc2ccc(Cl)c(F)c2)C1": 3.0,
        "CO[C@H]1CCC[NH+](Cc2cccc(Cl)c2Cl)C1": 2.5,
    }
    config = CampaignConfig.model_validate(
        {"campaign": {"seed_data": str(seed_csv(tmp_path / "s.csv", series))}, "reward": TINY_REWARD}
    )
    init_campaign(factory, "demo", config)
    open_chain, piperidine = (
        canonical("COc1ccc(C[NH2+]C(C)(C)C)cc1"),
        canonical("COc1ccc(C[NH+]2CCC(C)CC2)cc1"),
    )
    add_round(factory, "demo", rows=[(open_chain, 2.0, 0.5), (piperidine, 2.5, 0.5)])
    with session_scope(factory) as session:
        for smiles, similarity in ((open_chain, 0.55), (piperidine, 0.66)):
            proposal = session.query(Proposal).filter_by(smiles=smiles).one()
            session.add(
                ProposalExplanation(
                    proposal_id=proposal.id,
                    nearest_smiles=next(iter(series)),
                    nearest_similarity=similarity,
                    nearest_value=1.0,
                    out_of_domain=False,
                )
            )
    page = TestClient(app).get("/campaigns/demo").text
    card = " ".join(page.split("<code>" + molecule_key(open_chain))[1].split("</li>")[0].split())
    assert (
        "Outside the campaign's trust region</strong>: it lacks the series&#39; core c1ccc(CN2CCCCC2)cc1"
        in card
    )
    inside = page.split("<code>" + molecule_key(piperidine))[1].split("</li>")[0]
    assert "trust region" not in inside


def test_a_proposed_round_leads_to_making_and_uploading_it(tmp_path):
    client, factory = _server(tmp_path)
    naphthalene = canonical("c1ccc2ccccc2c1")
    acrylamide = canonical("C=CC(=O)Nc1ccccc1")  # as far from the seed, on a measured scaffold (benzene)
    with session_scope(factory) as session:  # why each was proposed, as propose stores it
        for smiles, similarity in ((naphthalene, 0.1), (acrylamide, 0.05)):
            proposal = session.query(Proposal).filter_by(smiles=smiles).one()
            session.add(
                ProposalExplanation(
                    proposal_id=proposal.id,
                    nearest_smiles="c1ccccc1O",
                    nearest_similarity=similarity,
                    nearest_value=2.0,
                    out_of_domain=True,
                )
            )
    page = client.get("/campaigns/demo").text
    assert "Next: make and test these 5 molecules, then upload the results" in page
    for smiles, mean, std in PROPOSED:  # a card each: drawing, ID, prediction
        key = molecule_key(canonical(smiles))
        assert f'href="/campaigns/demo/molecules/{key}"' in page and f"<code>{key}</code>" in page
        assert f"{mean:.2f} ± {std:.2f}" in page
    assert "/depict.svg?smiles=c1ccc2ccccc2c1&amp;w=260&amp;h=200" in page
    card = " ".join(page.split("<code>" + molecule_key(naphthalene))[1].split("</li>")[0].split())
    assert "Tanimoto 0.10, measured 2.00" in card and "out of the reward model's domain" in card
    # Below the trust region's similarity and on no measured scaffold: said in words. The seeds share
    # no core and are 0.125 similar to each other (10th percentile), so the region needs that, not 0.5.
    outside = (
        "<strong>Outside the campaign's trust region</strong>: its nearest measured molecule is only 0.10"
    )
    assert outside in card
    assert "similar (the region needs 0.12) and no measured molecule shares its scaffold" in card
    inside = page.split("<code>" + molecule_key(acrylamide))[1].split("</li>")[0]
    assert "Tanimoto 0.05" in inside and "trust region" not in inside  # kept in by its scaffold
    assert page.count("trust region") == 1
    # One action leads: upload the results; proposing early is a secondary choice, once.
    assert page.count('action="/campaigns/demo/propose"') == 0  # not signed in: neither
    assert 'href="/campaigns/demo/export?round=1&amp;format=csv"' in page
    assert 'href="/campaigns/demo/export?round=1&amp;format=sdf"' in page
    lab_file = client.get("/campaigns/demo/export", params={"round": "1", "format": "csv"})
    assert lab_file.status_code == 200 and len(lab_file.text.strip().splitlines()) == 1 + 5
    sdf = client.get("/campaigns/demo/export", params={"round": "1", "format": "sdf"})
    assert sdf.status_code == 200 and sdf.text.count("$$$$") == 5  # the round's file, as the link gets it
    assert "Sign in with the API key</a> to upload the results" in page  # not signed in: no form
    assert 'id="round-file"' not in page and "job-progress.js" not in page  # no job: nothing polls

    _sign_in(client)
    page = client.get("/campaigns/demo").text
    form = page.split('aria-labelledby="round-upload-title"')[0].rsplit("<form", 1)[1]
    assert 'action="/campaigns/demo/upload"' in form and 'enctype="multipart/form-data"' in form
    assert "Upload the results of round 1" in page and 'id="round-file"' in page
    assert page.count('action="/campaigns/demo/propose"') == 1 and "Propose the next round" not in page
    assert '<button type="submit" class="secondary">Propose round 2 now</button>' in page


def test_an_upload_refits_in_the_background_then_offers_the_next_round(tmp_path):
    client, _ = _server(tmp_path)
    _sign_in(client)
    location = _upload(client, RESULTS)
    assert location == "/campaigns/demo?imported=5"  # stored now: the page does not wait for the refit
    [job] = client.app.state.workspace.jobs.list()
    assert (job.kind, job.status, job.params) == ("import", "queued", {"campaign": "demo"})

    page = client.get(location).text
    assert "Stored 5 rows; the reward model is being refitted on them." in page
    assert "Refitting the reward model on the new results" in page
    assert f'data-poll="/api/jobs/{job.id}"' in page and "waiting for another job to finish" in page
    assert '<script src="/static/job-progress.js" defer></script>' in page
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page  # without JS
    assert "Results of round 1 are in" not in page  # the job is the next thing to watch
    polled = client.get(f"/api/jobs/{job.id}").json()  # what the page's script reads
    assert polled["kind"] == "import" and polled["status"] == "queued" and polled["progress"] == {}
    assert {"elapsed_s", "remaining_s", "estimate_from", "started", "finished"} <= set(polled)

    anonymous = TestClient(client.app)
    cancel = f"/campaigns/demo/jobs/{job.id}/cancel"
    assert anonymous.post(cancel).status_code == 401
    assert client.post("/campaigns/nope/jobs/0123456789ab/cancel").status_code == 404
    assert client.post("/campaigns/demo/jobs/0123456789ab/cancel").status_code == 404
    cancelled = client.post(cancel, follow_redirects=False)
    assert cancelled.status_code == 303 and cancelled.headers["location"] == "/campaigns/demo"
    assert client.get(f"/api/jobs/{job.id}").json()["status"] == "cancelled"

    page = client.get("/campaigns/demo").text
    assert "Results of round 1 are in: propose the next round" in page
    assert "5 of the 5 molecules proposed were measured (best 3.60)" in page
    assert "Propose the next round</button>" in page and "data-poll" not in page
    assert page.count('action="/campaigns/demo/propose"') == 1  # one propose form, with its batch size
    assert 'name="batch"' in page.split('action="/campaigns/demo/propose"')[1].split("</form>")[0]
    assert "<td>Refitting the reward model on the new results</td><td>cancelled</td>" in page
    # The results stay stored without the cancelled refit; the next propose refits first.
    assert client.get("/api/campaigns/demo").json()["reward_model_stale"] is True


def test_create_stores_at_once_and_fits_the_first_model_in_the_background(tmp_path):
    client, factory = _server(tmp_path)
    _sign_in(client)
    seed = "smiles,value\n" + "".join(f"{s},{v}\n" for s, v in [*SEED.items(), ("CCCN", 1.2), ("CCOC", 0.7)])
    files = {"seed": ("seed.csv", seed, "text/csv")}
    made = client.post("/campaigns", data={"name": "fresh"}, files=files, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/campaigns/fresh"
    [job] = [j for j in client.app.state.workspace.jobs.list() if j.params == {"campaign": "fresh"}]
    assert (job.kind, job.status) == ("create", "queued")
    page = client.get("/campaigns/fresh").text
    assert "Fitting the first reward model on the seed results" in page
    assert "Next: propose the first round" not in page  # after the fit
    client.post(f"/campaigns/fresh/jobs/{job.id}/cancel")
    page = client.get("/campaigns/fresh").text
    assert "Next: propose the first round" in page and "6 seed results are in." in page
    assert "Propose the first round</button>" in page
    assert page.count('action="/campaigns/fresh/propose"') == 1 and "Propose the next round" not in page


def test_a_censored_result_on_the_good_side_is_the_best_everywhere_on_the_dashboard(tmp_path):
    app = create_app(settings_for(tmp_path, "web.db"))
    app.state.workspace.jobs = JobManager(tmp_path / "queued", max_running=0)
    factory = app.state.workspace.factory
    config = CampaignConfig.model_validate(
        {"campaign": {"seed_data": str(seed_csv(tmp_path / "s.csv", SEED))}, "reward": TINY_REWARD}
    )
    init_campaign(factory, "demo", config, assay=Assay("pIC50 EGFR", "log units", "higher"))
    add_round(factory, "demo")
    client = TestClient(app)
    _sign_in(client)
    (a, _, _), (b, _, _), (c, _, _) = PROPOSED[:3]
    _upload(client, f"smiles,value\n{a},>8\n{b},3.1\n{c},<2\n")  # the best came back beyond the range
    [job] = app.state.workspace.jobs.list()
    client.post(f"/campaigns/demo/jobs/{job.id}/cancel")
    page = client.get("/campaigns/demo").text
    assert '<dt>Best measured</dt><dd class="best">&gt;8 log units</dd>' in page  # not the seed's 3.00
    rounds = page.split('id="rounds-title"')[1].split("</table>")[0]
    assert "3.10 log units" not in rounds  # round 1's best is its ">8", not its best exact value
    assert '<td class="num">&gt;8 log units</td>' in rounds
    assert "3 of the 5 molecules proposed were measured (best &gt;8 log units)" in page
    tested = page.split('id="tested-title"')[1].split("</table>")[0]
    assert tested.index(canonical(a)) < tested.index(canonical("N#Cc1ccccc1"))  # ranked first too


def test_the_best_of_a_lower_is_better_assay_is_a_censored_result_below_the_best_value():
    nanomolar = Assay("IC50", "nM", "lower")
    found = [
        {"round": 1, "external": False, "value": 20.0, "censored": []},
        {"round": 1, "external": False, "value": None, "censored": ["<10"]},
        {"round": 1, "external": False, "value": None, "censored": [">1000"]},  # worse than a bound
        {"round": 2, "external": False, "value": None, "censored": [">1000"]},
    ]
    assert best_text(found, nanomolar) == "<10 nM"
    assert round_best_texts(found, nanomolar, [1, 2]) == {1: "<10 nM", 2: "–"}
    # The best-so-far plot: the "<10" at its bound, the ">1000"s (worse than a bound) left out.
    assert round_best_values(found, nanomolar, [1, 2]) == {1: 10.0, 2: None}
    assert ranked_points(found, nanomolar) == [(1, 20.0), (1, 10.0)]
    assert best_text(found[:1], Assay()) == "20.00"  # no unit: the number alone


@pytest.mark.slow
def test_a_running_refit_shows_its_progress_to_every_reader_and_can_be_cancelled(tmp_path):
    # A reward model that takes minutes to fit, so the job is surely still running while it is read.
    slow = {"ensemble": 2, "hidden": 64, "epochs": 100_000, "cv_folds": 4}
    client, _ = _server(tmp_path, reward=slow, max_running=None)
    client.app.state.workspace.jobs = JobManager(
        tmp_path / "jobs", db_url=client.app.state.workspace.db_url, threads=1
    )
    _sign_in(client)
    _upload(client, RESULTS)
    [job] = client.app.state.workspace.jobs.list()
    other = TestClient(client.app)  # a second browser, not signed in
    deadline = time.monotonic() + 120
    found = other.get(f"/api/jobs/{job.id}").json()
    while not found["progress"].get("stage") and time.monotonic() < deadline:
        time.sleep(0.5)
        found = other.get(f"/api/jobs/{job.id}").json()
    assert found["status"] == "running", found
    progress = found["progress"]
    assert progress["stage"] == "cross-validating the reward model" and progress["unit"] == "folds"
    assert progress["total"] == 4 and 0 <= progress["done"] < 4 and 0 <= progress["fraction"] < 1
    assert progress["message"] == f"cross-validating the reward model: {progress['done']}/4 folds"
    assert found["elapsed_s"] > 0 and found["started"] is not None
    assert (job.folder / "progress.json").is_file()  # stored, so a reload or a restart sees it too
    page = other.get("/campaigns/demo").text
    assert "cross-validating the reward model: " in page and "elapsed" in page
    assert 'class="job-cancel"' not in page  # only a signed-in chemist may cancel
    mine = client.get("/campaigns/demo").text
    assert 'class="inline job-cancel"' in mine
    client.post(f"/campaigns/demo/jobs/{job.id}/cancel")
    stopped = other.get(f"/api/jobs/{job.id}").json()
    assert stopped["status"] == "cancelled" and stopped["finished"] is not None
    assert stopped["remaining_s"] is None


def test_a_proposal_written_as_an_ion_names_the_parent_to_make_on_its_card(tmp_path):
    app = create_app(settings_for(tmp_path, "ions.db"))
    factory = app.state.workspace.factory
    init_campaign(factory, "ions", CampaignConfig())
    ammonium, neutral = "C[NH+]1CCN(c2ccccc2)CC1", "CC(=O)Nc1ccc(O)cc1"
    add_round(factory, "ions", rows=[(ammonium, 5.0, 0.5), (neutral, 4.0, 0.5)])
    page = TestClient(app).get("/campaigns/ions").text
    card = " ".join(page.split("<code>" + molecule_key(canonical(ammonium)))[1].split("</li>")[0].split())
    assert 'To make: the parent <span class="smiles">CN1CCN(c2ccccc2)CC1</span>' in card
    assert page.count("To make: the parent") == 1  # a neutral proposal is made as written


def test_a_result_for_the_neutral_parent_previews_as_the_proposed_molecule(tmp_path):
    """The lab files the parent (or a salt): the preview says which proposal the row is stored under,
    on the page and through the API, and the import attaches it to that proposal."""
    app = create_app(settings_for(tmp_path, "forms.db"))
    factory = app.state.workspace.factory
    init_campaign(factory, "demo", CampaignConfig.model_validate({"reward": TINY_REWARD}))
    ammonium = canonical("C[NH+]1CCN(c2ccccc2)CC1")
    add_round(factory, "demo", rows=[(ammonium, 5.0, 0.5)])
    client = TestClient(app)
    _sign_in(client)
    lab = "smiles,value\nCN1CCN(c2ccccc2)CC1.Cl,6.0\n"
    preview = client.post("/campaigns/demo/upload", files={"file": ("lab.csv", lab, "text/csv")}).text
    assert f"stored as the proposed {ammonium}, the same compound" in preview
    assert "was never proposed" not in preview
    api = client.post(
        "/api/campaigns/demo/results",
        files={"file": ("lab.csv", lab)},
        data={"dry_run": "true"},
        headers={"X-API-Key": KEY},
    ).json()
    assert api["ok"] and api["other_forms"] == [
        {"row": 2, "written": "CN1CCN(c2ccccc2)CC1.Cl", "proposed": ammonium}
    ]
    _upload(client, lab)
    grid = client.get("/api/campaigns/demo/molecules").json()
    assert {m["smiles"]: m["value"] for m in grid if m["value"] is not None} == {ammonium: 6.0}
