"""The web app in real headless Chromium (Playwright driving Debian's /usr/bin/chromium): one session
records preferences by clicking and by keyboard, one uses the API reference under the pages'
Content-Security-Policy."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from sqlalchemy import select
from web_support import KEY, SEED, add_round, seed_csv, settings_for

from chemloop.loop.store import Preference, Rating, get_campaign, session_scope
from chemloop.serve.app import create_app
from chemloop.serve.live import live_server

CHROMIUM = Path("/usr/bin/chromium")

BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def live(tmp_path):
    """(base URL, factory): the whole app under uvicorn on a free 127.0.0.1 port, in a thread."""
    app = create_app(settings_for(tmp_path, "live.db"))
    with live_server(app) as url:
        yield url, app.state.workspace.factory


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_browser_review_session(live, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    base, factory = live
    seed = seed_csv(tmp_path / "seed.csv", SEED)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page()
        page.set_default_timeout(10_000)

        page.goto(base + "/sign-in")
        page.get_by_label("API key").fill(KEY)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(base + "/")

        page.get_by_label("Name", exact=True).fill("browser")
        page.get_by_label("Molecules per round").fill("6")
        page.get_by_label("Seed results (CSV: smiles,value[,std]), optional").set_input_files(str(seed))
        page.get_by_role("button", name="Create campaign").click()
        page.wait_for_url(base + "/campaigns/browser")
        assert page.get_by_role("heading", name="browser", exact=True).is_visible()
        add_round(factory, "browser")  # what a propose job would store: more molecules to compare

        page.goto(base + "/campaigns/browser/review")
        review = page.locator("#review")

        def act(do) -> None:  # one action that swaps the pair; waits until the page has timed it
            swaps = int(review.get_attribute("data-swaps"))
            do()
            page.wait_for_function(
                "n => Number(document.getElementById('review').dataset.swaps) > n", arg=swaps
            )

        act(lambda: page.get_by_role("button", name="A is better").click())
        act(lambda: page.get_by_role("button", name="B is better").click())
        act(lambda: page.get_by_role("button", name="Skip").click())
        act(lambda: page.get_by_role("button", name="A is better").click())
        act(lambda: page.keyboard.press("ArrowRight"))
        act(lambda: page.keyboard.press("a"))
        rated = page.locator("#card-b").get_attribute("data-smiles")
        page.get_by_role("group", name="Rate B from 1 to 5").get_by_role("button", name="4").click()
        page.wait_for_selector("#card-b [data-rating='4'][aria-pressed='true']")
        page.keyboard.press("Digit2")  # by keyboard: 2 rates A, Shift+5 rates B
        page.wait_for_selector("#card-a [data-rating='2'][aria-pressed='true']")
        page.keyboard.press("Shift+Digit5")
        page.wait_for_selector("#card-b [data-rating='5'][aria-pressed='true']")
        rated_a = page.locator("#card-a").get_attribute("data-smiles")
        times = [float(t) for t in review.get_attribute("data-times").split(",")]
        browser.close()

    with session_scope(factory) as session:
        campaign = get_campaign(session, "browser")
        prefs = session.scalars(select(Preference).where(Preference.campaign_id == campaign.id)).all()
        ratings = session.scalars(select(Rating).where(Rating.campaign_id == campaign.id)).all()
    assert [p.preferred for p in prefs] == ["a", "b", "a", "b", "a"]  # the skip stored nothing
    assert len({frozenset((p.smiles_a, p.smiles_b)) for p in prefs}) == 5  # never the same pair twice
    assert [(r.smiles, r.rating) for r in ratings] == [(rated, 4), (rated_a, 2), (rated, 5)]
    assert len(times) == 6 and all(t > 0 for t in times)
    each = ", ".join(f"{t:.0f}" for t in times)
    print(
        f"\nreview: click-to-new-pair painted over {len(times)} swaps: "
        f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms ({each})"
    )


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_browser_api_docs_render_under_the_page_policy(live):
    sync_api = pytest.importorskip("playwright.sync_api")
    base, _ = live
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page()
        refused = []  # what the Content-Security-Policy blocked, as the browser reports it
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(base + "/docs")
        page.wait_for_selector(".opblock", timeout=30_000)
        operations = page.locator(".opblock").count()
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.locator(".opblock-summary-path", has_text="/api/health").first.click()
        page.get_by_role("button", name="Try it out").first.click()
        page.get_by_role("button", name="Execute").first.click()
        page.wait_for_selector(".live-responses-table", timeout=30_000)
        browser.close()
    assert operations >= 10 and not refused
    assert requests and all(url.startswith(base) for url in requests)  # nothing fetched from elsewhere
