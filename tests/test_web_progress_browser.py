"""The dashboard's round guide and job progress in real headless Chromium, under the pages'
Content-Security-Policy: upload a round's results from its next-step block, watch the refit's bar
follow the job's stored progress without a reload, and see the page move on when the job ends."""

from __future__ import annotations

import json

import pytest
from test_web_browser import BROWSER_ARGS, CHROMIUM
from web_support import KEY, PROPOSED, SEED, TINY_REWARD, add_round, seed_csv, settings_for

from chemloop.jobs import JobManager
from chemloop.loop.campaign import init_campaign
from chemloop.loop.config import CampaignConfig
from chemloop.serve.app import create_app
from chemloop.serve.live import live_server


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_browser_follows_a_refit_and_moves_on_to_the_next_round(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    app = create_app(settings_for(tmp_path, "live.db"))
    config = CampaignConfig.model_validate(
        {"campaign": {"seed_data": str(seed_csv(tmp_path / "s.csv", SEED))}, "reward": TINY_REWARD}
    )
    init_campaign(app.state.workspace.factory, "demo", config)
    add_round(app.state.workspace.factory, "demo")
    jobs = JobManager(tmp_path / "queued", max_running=0)  # the refit waits: the test moves it along
    app.state.workspace.jobs = jobs
    results = tmp_path / "round1.csv"
    results.write_text("smiles,value\n" + "".join(f"{s},{m}\n" for s, m, _ in PROPOSED))

    with live_server(app) as base, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page()
        page.set_default_timeout(15_000)
        refused = []  # what the Content-Security-Policy blocked, as the browser reports it
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)

        page.goto(base + "/sign-in")
        page.get_by_label("API key").fill(KEY)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(base + "/")

        page.goto(base + "/campaigns/demo")
        heading = "Next: make and test these 5 molecules, then upload the results"
        assert page.get_by_role("heading", name=heading).is_visible()
        assert page.locator(".round-cards li").count() == 5
        page.locator("#round-file").set_input_files(str(results))
        page.get_by_role("button", name="Preview").click()
        page.get_by_role("button", name="Store 5 rows").click()
        page.wait_for_url(base + "/campaigns/demo?imported=5")
        box = page.locator(".job-progress")
        assert "waiting for another job to finish" in box.inner_text()

        [job] = jobs.list()
        progress = {"fraction": 0.4, "message": "cross-validating the reward model: 2/5 folds"}
        (job.folder / "progress.json").write_text(json.dumps(progress))  # as the job's process writes it
        page.wait_for_function("() => document.querySelector('.job-progress progress').value === 40")
        assert box.locator(".job-step").inner_text() == "cross-validating the reward model: 2/5 folds"
        assert box.locator(".job-percent").inner_text() == "(40%)"

        jobs.cancel(job.id)  # the job ends: the page reloads itself and offers the next round
        page.get_by_role("heading", name="Results of round 1 are in: propose the next round").wait_for()
        assert page.locator(".job-progress").count() == 0
        assert page.get_by_role("button", name="Propose the next round").first.is_visible()
        browser.close()
    assert not refused
