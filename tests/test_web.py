"""The web app for chemists: every page through TestClient (sign-in sessions, the headers every page
carries, uploads, campaign names). Real browser sessions are in test_web_browser.py."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from web_support import KEY, PROPOSED, SEED, TINY_REWARD, add_round, count, seed_csv, settings_for

from chemloop.chem.mol import canonical, molecule_key
from chemloop.dock.poses import pose_path
from chemloop.jobs import JobManager
from chemloop.loop.campaign import init_campaign, record_preference
from chemloop.loop.campaign_reads import molecules
from chemloop.loop.config import CampaignConfig
from chemloop.loop.review import next_pair
from chemloop.loop.store import (
    Campaign,
    Measurement,
    Preference,
    Proposal,
    ProposalExplanation,
    Rating,
    get_campaign,
    session_scope,
)
from chemloop.serve.app import create_app
from chemloop.serve.deps import SESSION_COOKIE
from chemloop.serve.security import Sessions
from chemloop.serve.web.plot import best_so_far
from chemloop.serve.web.templating import TEMPLATES


@pytest.fixture
def server(tmp_path):
    """(client, factory, settings) with campaign ``demo``: 4 seed values and one proposed round."""
    settings = settings_for(tmp_path, "web.db")
    app = create_app(settings)
    factory = app.state.workspace.factory
    seed = seed_csv(tmp_path / "s.csv", SEED)
    config = CampaignConfig.model_validate({"campaign": {"seed_data": str(seed)}, "reward": TINY_REWARD})
    init_campaign(factory, "demo", config)
    add_round(factory, "demo")
    return TestClient(app), factory, settings


def sign_in(client: TestClient) -> str:
    """Sign ``client`` in through the form; returns the session token its cookie holds."""
    response = client.post("/sign-in", data={"key": KEY, "next": "/campaigns/demo"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/campaigns/demo"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    token = response.cookies[SESSION_COOKIE]
    assert KEY not in response.headers["set-cookie"] and len(token) >= 40  # a random token, not the key
    return token


# --- read-only pages ----------------------------------------------------------------------------


def test_index_and_dashboard(server):
    client, _, _ = server
    index = client.get("/")
    assert index.status_code == 200 and 'href="/campaigns/demo"' in index.text
    assert "Sign in with the API key" in index.text and 'action="/campaigns"' not in index.text
    page = client.get("/campaigns/demo")
    assert page.status_code == 200
    assert '<h2 id="rounds-title">Rounds</h2>' in page.text and 'class="plot"' in page.text
    assert "N#Cc1ccccc1" in page.text  # the best seed molecule is among the molecules tested
    assert "Not fitted yet" in page.text  # 4 values: too few for a reward model
    assert client.get("/campaigns/nope").status_code == 404


def test_best_so_far_plot_is_a_staircase():
    plot = best_so_far({0: 3.0, 1: 2.0, 2: 5.0}, [(0, 3.0), (1, 2.0), (2, 5.0), (2, 1.0)])
    ys = [y for _, y, _ in plot.best]
    assert ys[0] == ys[1] > ys[2]  # round 1 did not beat the seed; round 2 did (higher is up: smaller y)
    assert len(plot.measured) == 4 and plot.line.startswith("M")
    assert best_so_far({}, []) is None


def test_molecule_grid_filters_sorts_and_escapes(server):
    client, _, _ = server
    page = client.get("/campaigns/demo/molecules")
    assert page.status_code == 200 and "9 of 9 molecules" in page.text
    assert "/depict.svg?smiles=N%23Cc1ccccc1" in page.text  # '#' is URL-encoded in links
    assert "C[C@H](N)C(=O)O" in page.text
    alerts = client.get("/campaigns/demo/molecules", params={"alerts": "yes"}).text
    assert "O=C1C=CC(=O)C=C1" in alerts and "N#Cc1ccccc1" not in alerts
    assert "3 of 9" in client.get("/campaigns/demo/molecules", params={"q": "CCCCC1"}).text
    assert "1 of 9" in client.get("/campaigns/demo/molecules", params={"smarts": "C#N"}).text
    bad = client.get("/campaigns/demo/molecules", params={"smarts": "C(("})
    assert bad.status_code == 200 and "not valid SMARTS" in bad.text
    ordered = client.get("/campaigns/demo/molecules", params={"sort": "predicted_mean", "order": "desc"}).text
    assert ordered.index("c1ccc2ccccc2c1") < ordered.index("C=CC(=O)Nc1ccccc1") < ordered.index("CCCCCCCC")
    assert 'aria-sort="descending"' in ordered
    round1 = client.get("/campaigns/demo/molecules", params={"round": "1", "measured": "no"}).text
    assert "5 of 9" in round1
    svg = client.get("/depict.svg", params={"smiles": "N#Cc1ccccc1"})
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "default-src 'none'" in svg.headers["content-security-policy"]
    assert client.get("/depict.svg", params={"smiles": "not a smiles"}).status_code == 400


def test_detail_page_and_pose_download(tmp_path):
    app = create_app(settings_for(tmp_path, "p.db"))
    client, factory = TestClient(app), app.state.workspace.factory
    poses = tmp_path / "poses"
    vina = {"type": "vina", "params": {"target": "DRD2", "poses_dir": str(poses)}}
    init_campaign(factory, "docked", CampaignConfig.model_validate({"score": {"components": [vina]}}))
    add_round(factory, "docked", rows=PROPOSED[:2])
    docked, undocked = molecules(factory, "docked")
    file = pose_path(poses, "DRD2", docked["smiles"])
    file.parent.mkdir(parents=True)
    file.write_text("pose\n$$$$\n")

    page = client.get(f"/campaigns/docked/molecules/{docked['key']}")
    assert page.status_code == 200 and "Molecular weight" in page.text and "quinone" in page.text
    link = f"/campaigns/docked/molecules/{docked['key']}/pose/DRD2"
    assert link in page.text
    download = client.get(link)
    assert download.status_code == 200 and download.text == "pose\n$$$$\n"
    assert "attachment" in download.headers["content-disposition"]
    other = client.get(f"/campaigns/docked/molecules/{undocked['key']}")
    assert "No pose for this molecule yet" in other.text
    # Only a configured target, and only a file named from the molecule: no path from the request.
    assert client.get(f"/campaigns/docked/molecules/{docked['key']}/pose/..%2F..%2Fetc").status_code == 404
    assert client.get(f"/campaigns/docked/molecules/{docked['key']}/pose/ABL1").status_code == 404
    assert client.get(f"/campaigns/docked/molecules/{undocked['key']}/pose/DRD2").status_code == 404
    assert client.get("/campaigns/docked/molecules/0123456789abcdef").status_code == 404


def test_detail_page_without_docking(server):
    client, factory, _ = server
    key = molecule_key(canonical("N#Cc1ccccc1"))
    page = client.get(f"/campaigns/demo/molecules/{key}")
    assert page.status_code == 200 and "this campaign does not dock" in page.text
    assert '<h1 class="smiles">N#Cc1ccccc1</h1>' in page.text


def test_pages_show_the_parent_compounds_properties(server):
    """A pH-7 ammonium, as the prior writes it, shows its amine's properties (as written its SA
    score is 1-1.7 higher and it counts one more H-bond donor), and says whose they are."""
    client, factory, _ = server
    ammonium = canonical("CC(C)[NH+]1CCN(c2ccc(C(=O)NCc3ccc(Cl)cc3)cc2)CC1")
    add_round(factory, "demo", rows=[(ammonium, 2.0, 0.5)], number=2)
    page = client.get(f"/campaigns/demo/molecules/{molecule_key(ammonium)}").text
    amine = canonical("CC(C)N1CCN(c2ccc(C(=O)NCc3ccc(Cl)cc3)cc2)CC1")
    assert f'Properties of the parent compound, <span class="smiles">{amine}</span>' in page
    donors = page.split("H-bond donors</th>")[1].split("</td>")[0]
    assert donors.endswith(">1")  # the amide NH; the ammonium's NH+ is not the compound's
    plain = client.get(f"/campaigns/demo/molecules/{molecule_key(canonical('N#Cc1ccccc1'))}").text
    assert "<h2>Properties</h2>" in plain


def test_grid_and_detail_say_why_a_molecule_was_proposed(server):
    client, factory, _ = server
    explained, unexplained = canonical(PROPOSED[2][0]), canonical(PROPOSED[1][0])
    with session_scope(factory) as session:
        proposal = session.scalar(select(Proposal).where(Proposal.smiles == explained))
        session.add(
            ProposalExplanation(
                proposal_id=proposal.id,
                nearest_smiles=canonical("N#Cc1ccccc1"),
                nearest_similarity=0.123456,
                nearest_value=3.0,
                out_of_domain=True,
            )
        )
    grid = client.get("/campaigns/demo/molecules", params={"sort": "nearest_similarity", "order": "desc"})
    assert grid.status_code == 200 and "Nearest measured" in grid.text
    assert "0.12" in grid.text and "0.123456" not in grid.text  # rounded for people
    assert grid.text.count("out of domain</span>") == 1
    assert grid.text.index(explained) < grid.text.index(unexplained)  # blanks sort last
    detail = client.get(f"/campaigns/demo/molecules/{molecule_key(explained)}")
    assert "Why it was proposed" in detail.text and "Out of domain" in detail.text
    assert f"/campaigns/demo/molecules/{molecule_key(canonical('N#Cc1ccccc1'))}" in detail.text
    assert "Tanimoto 0.12, measured 3.00" in detail.text
    plain = client.get(f"/campaigns/demo/molecules/{molecule_key(unexplained)}")
    assert plain.status_code == 200 and "Why it was proposed" not in plain.text


# --- state changes need the key -----------------------------------------------------------------


def test_actions_without_the_key_are_refused(server):
    client, factory, _ = server
    pair = {"smiles_a": "CCO", "smiles_b": "Oc1ccccc1", "choice": "a"}
    refused = [
        client.post("/campaigns", data={"name": "new"}),
        client.post("/campaigns/demo/review/choice", json=pair),
        client.post("/campaigns/demo/review/rating", json={"smiles": "CCO", "rating": 3}),
        client.post("/campaigns/demo/upload", files={"file": ("r.csv", "smiles,value\nCCO,1\n")}),
        client.post("/campaigns/demo/upload/confirm", data={"token": "0" * 64}),
    ]
    assert [r.status_code for r in refused] == [401] * 5
    assert count(factory, Preference, "demo") == count(factory, Rating, "demo") == 0
    wrong = client.post("/sign-in", data={"key": "not-the-key"}, follow_redirects=False)
    assert wrong.status_code == 401 and SESSION_COOKIE not in wrong.cookies
    offsite = client.post("/sign-in", data={"key": KEY, "next": "//evil.example"}, follow_redirects=False)
    assert offsite.headers["location"] == "/"


def test_a_signed_in_request_from_another_origin_is_refused(server):
    client, factory, _ = server
    sign_in(client)
    rating = {"smiles": "CCO", "rating": 3}
    for headers in ({"Sec-Fetch-Site": "same-site"}, {"Origin": "http://localhost:3000"}):
        forged = client.post("/campaigns/demo/review/rating", json=rating, headers=headers)
        assert forged.status_code == 403
    assert count(factory, Rating, "demo") == 0
    own = client.post("/campaigns/demo/review/rating", json=rating, headers={"Sec-Fetch-Site": "same-origin"})
    assert own.status_code == 200 and count(factory, Rating, "demo") == 1


def test_a_sign_in_is_a_session_token_that_sign_out_ends(server):
    client, factory, _ = server
    token = sign_in(client)
    rating = {"smiles": "CCO", "rating": 3}
    assert client.post(RATING, json=rating).status_code == 200
    # Only a token the server handed out signs a browser in; the key itself in the cookie does not.
    assert TestClient(client.app, cookies={SESSION_COOKIE: KEY}).post(RATING, json=rating).status_code == 401
    assert client.get("/sign-out").status_code == 405  # a link or an image cannot sign anybody out
    offsite = client.post("/sign-out", headers={"Origin": "http://localhost:3000"}, follow_redirects=False)
    assert offsite.status_code == 403
    out = client.post("/sign-out", follow_redirects=False)
    assert out.status_code == 303 and SESSION_COOKIE not in client.cookies
    replayed = TestClient(client.app, cookies={SESSION_COOKIE: token})  # a copy of the cookie died too
    assert replayed.post(RATING, json=rating).status_code == 401
    assert "Sign in with the API key" in replayed.get("/campaigns/demo/review").text
    assert count(factory, Rating, "demo") == 1


def test_the_session_cookie_is_secure_over_https(server):
    client, _, _ = server

    def cookie_flags(base_url: str) -> set[str]:
        response = TestClient(client.app, base_url=base_url).post(
            "/sign-in", data={"key": KEY}, follow_redirects=False
        )
        return {part.strip().lower() for part in response.headers["set-cookie"].split(";")[1:]}

    assert {"secure", "httponly", "samesite=strict"} <= cookie_flags("https://testserver")
    assert "secure" not in cookie_flags("http://testserver")


def test_sessions_expire_and_are_bounded():
    now = [0.0]
    sessions = Sessions(lifetime_s=60, limit=3, clock=lambda: now[0])
    tokens = [sessions.create() for _ in range(4)]
    assert len(sessions) == 3 and not sessions.valid(tokens[0])  # the oldest made room
    assert all(sessions.valid(t) for t in tokens[1:]) and not sessions.valid("made-up")
    now[0] = 61.0
    assert not any(sessions.valid(t) for t in tokens) and len(sessions) == 0


PAGES = (
    "/",
    "/campaigns/demo",
    "/campaigns/demo/molecules",
    "/campaigns/demo/review",
    "/sign-in",
    "/campaigns/x",
)
INLINE = re.compile(r"<script(?![^>]*\bsrc=)|<style|<[^>]*\s(?:style|on[a-z]+)\s*=", re.IGNORECASE)


def test_pages_cannot_be_framed_sniffed_or_made_to_run_other_scripts(server):
    client, _, _ = server
    sign_in(client)
    for url in PAGES:
        response = client.get(url)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy, url
        assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy, url
        assert response.headers["x-frame-options"] == "DENY", url
        assert response.headers["x-content-type-options"] == "nosniff", url
        assert response.headers["referrer-policy"] == "same-origin", url
        assert not INLINE.search(response.text), url  # nothing inline for the policy to block
    # A depiction keeps its own, stricter policy.
    svg = client.get("/depict.svg", params={"smiles": "CCO"})
    assert svg.headers["content-security-policy"].startswith("default-src 'none'")
    # Every template, including pages no test above renders: no inline script, style or handler.
    for template in TEMPLATES.glob("*.html"):
        assert not INLINE.search(template.read_text()), template.name


@pytest.mark.parametrize(
    "unusable",
    [{"X-API-Key": ""}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}],
    ids=["empty-key", "basic", "empty-bearer"],
)
def test_headers_without_a_key_do_not_skip_the_origin_check(server, unusable):
    client, factory, _ = server
    sign_in(client)
    forged = client.post(
        RATING, json={"smiles": "CCO", "rating": 3}, headers={**unusable, "Origin": "http://localhost:3000"}
    )
    assert forged.status_code == 403 and count(factory, Rating, "demo") == 0


def test_error_pages_escape_what_the_request_sent(server):
    client, _, _ = server
    page = client.get("/campaigns/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")  # <img src=x onerror=alert(1)>
    assert page.status_code == 404
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text


def test_propose_from_the_dashboard_starts_a_job(server, tmp_path):
    client, _, _ = server
    client.app.state.workspace.jobs = JobManager(tmp_path / "queued", max_running=0)  # jobs wait, never run
    assert client.post("/campaigns/demo/propose").status_code == 401
    assert "to upload the results" in client.get("/campaigns/demo").text  # round 1 waits for results
    sign_in(client)
    started = client.post("/campaigns/demo/propose", data={"batch": "6"}, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"] == "/campaigns/demo"
    [job] = client.app.state.workspace.jobs.list()
    assert (job.kind, job.params) == ("propose", {"campaign": "demo", "batch": 6})
    page = client.get("/campaigns/demo").text
    assert "<td>queued</td>" in page and 'http-equiv="refresh"' in page  # refreshes until it is done
    assert "Propose" not in page.split('id="plot-title"')[0].split("</dl>")[1]  # one round at a time
    assert 'action="/campaigns/demo/propose"' not in page  # the job's progress is the one thing to watch
    assert client.post("/campaigns/nope/propose").status_code == 404


def test_create_campaign_through_the_form(server, tmp_path):
    client, factory, _ = server
    sign_in(client)
    assert 'action="/campaigns"' in client.get("/").text
    seed = ("seed.csv", "smiles,value\nCCO,1.5\nc1ccccc1N,2\n", "text/csv")
    form = {"name": "web-made", "batch": "8", "acquisition": "ei", "components": ["alerts", "qed"]}
    made = client.post("/campaigns", data=form, files={"seed": seed}, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/campaigns/web-made"
    with session_scope(factory) as session:
        config = CampaignConfig.model_validate_json(get_campaign(session, "web-made").config_json)
    assert config.campaign.batch == 8 and config.campaign.acquisition == "ei"
    assert [c.type for c in config.score.components] == ["alerts", "qed"]
    assert count(factory, Measurement, "web-made") == 2
    assert not list((tmp_path / "runs" / "uploads").glob("*"))  # the staged seed file is gone

    bad_seed = ("seed.csv", "smiles,value\nCCO,1\nnot-a-smiles,2\nCCN,x\n", "text/csv")
    refused = client.post("/campaigns", data={"name": "bad-seed"}, files={"seed": bad_seed})
    assert refused.status_code == 400 and "row 3" in refused.text and "row 4" in refused.text
    assert "not-a-smiles" in refused.text
    plugin = '[[score.components]]\ntype = "python"\npath = "/tmp/x.py"\n'
    for toml, why in [
        (plugin, "python"),
        ('[campaign]\nseed_data = "/etc/passwd"\n', "seed_data"),
        ('[campaign]\nmodel = "/somewhere"\n', "model"),
        ("[campaign\n", "not valid TOML"),
    ]:
        response = client.post("/campaigns", data={"name": "refused", "toml": toml})
        assert response.status_code == 400 and why in response.text, toml
    assert client.post("/campaigns", data={"name": "has/slash"}).status_code == 400
    assert client.post("/campaigns", data={"name": "demo"}).status_code == 400  # exists already
    for core, why in [("c1ccccc1", "no attachment point"), ("*c1ccc([Sn])cc1", "[Sn]")]:
        response = client.post("/campaigns", data={"name": "no-core", "core": core})
        assert response.status_code == 400 and why in response.text, core
    kept = client.post(
        "/campaigns", data={"name": "kept-core", "core": " *c1ccccc1 "}, follow_redirects=False
    )
    assert kept.status_code == 303
    with session_scope(factory) as session:
        assert set(session.scalars(select(Campaign.name))) == {"demo", "web-made", "kept-core"}
        config = CampaignConfig.model_validate_json(get_campaign(session, "kept-core").config_json)
    assert config.run.prompt.text == "*c1ccccc1"
    assert "Core kept" in client.get("/campaigns/kept-core").text


def test_upload_preview_stores_nothing_until_confirmed(server):
    client, factory, settings = server
    sign_in(client)
    before = count(factory, Measurement, "demo")
    bad = "smiles,value\nO=C1C=CC(=O)C=C1,2.5\nnot-a-smiles,1\n\nCCCCCCCC,abc\n"
    preview = client.post("/campaigns/demo/upload", files={"file": ("lab.csv", bad, "text/csv")})
    assert preview.status_code == 422
    assert "row 3: smiles &#39;not-a-smiles&#39; is not a valid SMILES" in preview.text
    assert "row 5: value &#39;abc&#39; is not a number" in preview.text
    # Nothing stored; only the good rows can be, and only when asked (the file waits for that).
    assert "Store 3 rows" not in preview.text and "Store the 1 good row, leave out 2 bad" in preview.text
    assert count(factory, Measurement, "demo") == before

    foreign = "smiles,value\nO=C1C=CC(=O)C=C1,2.5\nc1ccncc1,1.0\n"
    refused = client.post("/campaigns/demo/upload", files={"file": ("lab.csv", foreign, "text/csv")})
    assert refused.status_code == 422 and "never proposed" in refused.text and "row 3" in refused.text

    ok = client.post(
        "/campaigns/demo/upload", files={"file": ("lab.csv", foreign, "text/csv")}, data={"external": "true"}
    )
    assert ok.status_code == 200 and "Store 2 rows" in ok.text and "external" in ok.text
    assert count(factory, Measurement, "demo") == before
    token = ok.text.split('name="token" value="')[1].split('"')[0]
    stored = client.post(
        "/campaigns/demo/upload/confirm", data={"token": token, "external": "true"}, follow_redirects=False
    )
    assert stored.status_code == 303 and stored.headers["location"] == "/campaigns/demo?imported=2"
    assert count(factory, Measurement, "demo") == before + 2
    assert "Stored 2 rows" in client.get(stored.headers["location"]).text
    again = client.post("/campaigns/demo/upload/confirm", data={"token": token, "external": "true"})
    assert again.status_code == 400 and "no longer waiting" in again.text
    assert client.post("/campaigns/demo/upload/confirm", data={"token": "../../x"}).status_code == 400


def test_uploads_waiting_for_confirmation_expire_and_are_capped(server):
    client, _, settings = server
    assert settings.upload_ttl_seconds == 3600  # the default: an hour to confirm a preview
    settings.max_staged_uploads = 2
    sign_in(client)
    staged = Path(settings.runs_dir) / "uploads"

    def preview(n: int) -> str:  # a good file, different each time: it waits for the confirm
        text = f"smiles,value\nO=C1C=CC(=O)C=C1,{n}\n"
        page = client.post("/campaigns/demo/upload", files={"file": (f"lab{n}.csv", text, "text/csv")})
        assert page.status_code == 200 and "Store 1 row<" in page.text
        token = page.text.split('name="token" value="')[1].split('"')[0]
        then = time.time() - 100 + 10 * n  # staged in this order, seconds apart
        os.utime(staged / token, (then, then))
        return token

    tokens = [preview(n) for n in range(3)]
    assert sorted(p.name for p in staged.iterdir()) == sorted(tokens[1:])  # the oldest made room
    gone = client.post("/campaigns/demo/upload/confirm", data={"token": tokens[0]})
    assert gone.status_code == 400 and "no longer waiting" in gone.text
    hours_ago = time.time() - 2 * 3600
    os.utime(staged / tokens[1], (hours_ago, hours_ago))
    expired = client.post("/campaigns/demo/upload/confirm", data={"token": tokens[1]})
    assert expired.status_code == 400 and "no longer waiting" in expired.text
    assert not (staged / tokens[1]).exists()
    stored = client.post("/campaigns/demo/upload/confirm", data={"token": tokens[2]}, follow_redirects=False)
    assert stored.status_code == 303


def test_upload_errors_name_the_file_not_the_server_folder(server):
    client, _, settings = server
    sign_in(client)
    folders = {str(Path(settings.runs_dir)), str(Path(settings.runs_dir).resolve())}
    wrong = "smile,val\nCCO,1\n"
    preview = client.post("/campaigns/demo/upload", files={"file": ("my lab.csv", wrong, "text/csv")})
    assert preview.status_code == 422 and "my lab.csv: columns" in preview.text
    assert "Preview of my lab.csv" in preview.text
    created = client.post(
        "/campaigns", data={"name": "seeded"}, files={"seed": ("seed 1.csv", wrong, "text/csv")}
    )
    assert created.status_code == 400 and "seed 1.csv: columns" in created.text
    assert not any(folder in page.text for folder in folders for page in (preview, created))


def test_campaigns_named_before_the_naming_rule_are_listed_and_readable(server):
    client, factory, _ = server
    config = CampaignConfig().model_dump_json()
    with session_scope(factory) as session:  # names an older version stored, past today's rule
        for name in ("lab/2024", "Größe ü", ".."):
            session.execute(insert(Campaign.__table__).values(name=name, config_json=config))
    index = client.get("/")
    assert index.status_code == 200 and 'href="/campaigns/demo"' in index.text
    assert "lab/2024" in index.text and "/campaigns/lab%2F2024" not in index.text
    assert 'href="/campaigns/.."' not in index.text
    legacy = "/campaigns/Gr%C3%B6%C3%9Fe%20%C3%BC"
    assert f'href="{legacy}"' in index.text
    assert client.get(legacy).status_code == 200 and client.get(legacy + "/molecules").status_code == 200
    assert client.get("/api" + legacy).json()["campaign"] == "Größe ü"
    sign_in(client)
    for name in ("new/one", ".hidden", "x" * 101):
        refused = client.post("/campaigns", data={"name": name})
        assert refused.status_code == 400 and "letters, digits" in refused.text, name


# --- review -------------------------------------------------------------------------------------


def test_next_pair_prefers_close_estimates_and_skips_done_pairs(server):
    _, factory, _ = server
    a, b = next_pair(factory, "demo")
    # Estimates: measured values for the seed, predictions for round 1; 2.0 (seed phenol) meets 2.0
    # (the quinone's prediction): the closest pair.
    assert {a["smiles"], b["smiles"]} == {"Oc1ccccc1", "O=C1C=CC(=O)C=C1"}
    record_preference(factory, "demo", a["smiles"], b["smiles"], "a")
    c, d = next_pair(factory, "demo")
    assert {c["smiles"], d["smiles"]} != {a["smiles"], b["smiles"]}
    e, f = next_pair(factory, "demo", skipped=[(c["smiles"], d["smiles"])])
    assert {e["smiles"], f["smiles"]} not in ({a["smiles"], b["smiles"]}, {c["smiles"], d["smiles"]})


def test_review_says_when_every_pair_is_done(server):
    client, factory, _ = server
    init_campaign(factory, "pair", CampaignConfig())
    add_round(factory, "pair", rows=PROPOSED[:2])
    sign_in(client)
    a, b = next_pair(factory, "pair")
    last = client.post(
        "/campaigns/pair/review/choice",
        json={"smiles_a": a["smiles"], "smiles_b": b["smiles"], "choice": "a"},
    )
    assert last.status_code == 200 and last.json()["pair"] is None
    assert "No pairs left to compare" in client.get("/campaigns/pair/review").text
    out = client.post("/sign-out", follow_redirects=False)
    assert out.status_code == 303 and SESSION_COOKIE not in client.cookies


CHOICE, RATING = "/campaigns/demo/review/choice", "/campaigns/demo/review/rating"


def test_review_page_and_json_actions(server):
    client, factory, _ = server
    page = client.get("/campaigns/demo/review")
    assert page.status_code == 200 and "Sign in with the API key" in page.text and "disabled" in page.text
    sign_in(client)
    page = client.get("/campaigns/demo/review")
    assert 'data-signed-in="yes"' in page.text and "data:image/svg+xml;base64," in page.text
    a, b = next_pair(factory, "demo")
    answer = client.post(CHOICE, json={"smiles_a": a["smiles"], "smiles_b": b["smiles"], "choice": "b"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["recorded"]["preferred"] == "b" and body["pair"]["a"]["image"].startswith("data:image/svg")
    shown = {body["pair"]["a"]["smiles"], body["pair"]["b"]["smiles"]}
    pair = {f"smiles_{k}": body["pair"][k]["smiles"] for k in "ab"}
    skip = client.post(CHOICE, json={**pair, "choice": "skip"}).json()
    assert skip["recorded"] is None and {skip["pair"]["a"]["smiles"], skip["pair"]["b"]["smiles"]} != shown
    rated = client.post(RATING, json={"smiles": "OCC", "rating": 4})
    assert rated.status_code == 200 and rated.json()["recorded"]["smiles"] == "CCO"
    assert client.post(RATING, json={"smiles": "CCO", "rating": 6}).status_code == 422
    same = client.post(CHOICE, json={"smiles_a": "CCO", "smiles_b": "OCC", "choice": "a"})
    assert same.status_code == 400 and "same molecule" in same.json()["detail"]
    assert count(factory, Preference, "demo") == 1 and count(factory, Rating, "demo") == 1
