"""The web app in real headless Chromium (Playwright driving Debian's /usr/bin/chromium): one session
records preferences by clicking and by keyboard, one uses the API reference under the pages'
Content-Security-Policy."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from sqlalchemy import func, select
from web_support import KEY, SEED, add_round, seed_csv, settings_for

from chemloop.loop.campaign import init_campaign
from chemloop.loop.config import CampaignConfig
from chemloop.loop.store import (
    CensoredMeasurement,
    Measurement,
    Preference,
    Rating,
    get_campaign,
    session_scope,
)
from chemloop.loop.users import add_user
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


def signed_in_page(browser, base: str, key: str, landing: str = "/", **page_options):
    """A page of ``browser`` signed in with ``key``, on ``landing`` (where sign-in sends it)."""
    page = browser.new_page(**page_options)
    page.set_default_timeout(10_000)
    page.goto(base + "/sign-in" + ("" if landing == "/" else f"?next={landing}"))
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + landing)
    return page


def seeded_campaign(factory, name: str, tmp_path: Path, rows=None) -> None:
    """A campaign with the four seed results and one proposed round (``rows``: web_support's by default)."""
    seed = seed_csv(tmp_path / f"{name}-seed.csv", SEED)
    init_campaign(factory, name, CampaignConfig.model_validate({"campaign": {"seed_data": str(seed)}}))
    add_round(factory, name, **({} if rows is None else {"rows": rows}))


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
        page = signed_in_page(browser, base, KEY)

        page.get_by_label("Name", exact=True).fill("browser")
        page.get_by_label("Molecules per round").fill("6")
        page.get_by_label("Seed results (CSV").set_input_files(str(seed))
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


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_browser_undo_takes_back_the_last_pair(live, tmp_path):
    """A named user records two pairs, undoes the last by button and the first by key: each comes
    back on screen to decide again, and the counter follows."""
    sync_api = pytest.importorskip("playwright.sync_api")
    base, factory = live
    seeded_campaign(factory, "undo", tmp_path)
    key = add_user(factory, "hana")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = signed_in_page(browser, base, key, "/campaigns/undo/review")
        assert page.get_by_text("Signed in as hana").is_visible()
        review, counter = page.locator("#review"), page.locator("#review-count")

        def act(do) -> None:  # one action that swaps the pair; waits until the page has timed it
            swaps = int(review.get_attribute("data-swaps"))
            do()
            page.wait_for_function(
                "n => Number(document.getElementById('review').dataset.swaps) > n", arg=swaps
            )

        def shown() -> set[str]:
            return {page.locator(f"#card-{s}").get_attribute("data-smiles") for s in "ab"}

        first = shown()
        act(lambda: page.get_by_role("button", name="A is better").click())
        second = shown()
        act(lambda: page.keyboard.press("ArrowRight"))
        assert counter.text_content() == "2 pairs recorded in this campaign, 2 by you"
        act(lambda: page.get_by_role("button", name="Undo my last pair").click())
        assert shown() == second and counter.text_content() == "1 pair recorded in this campaign, 1 by you"
        assert "Undone: B is better" in page.locator("#review-status").text_content()
        act(lambda: page.keyboard.press("u"))
        assert shown() == first and counter.text_content() == "0 pairs recorded in this campaign, 0 by you"
        assert page.get_by_role("button", name="Undo my last pair").is_disabled()
        browser.close()
    with session_scope(factory) as session:
        assert session.scalars(select(Preference)).all() == []


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_browser_upload_with_chosen_columns_stores_the_good_rows(live, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    base, factory = live
    init_campaign(factory, "lab", CampaignConfig.model_validate({"campaign": {"min_measurements": 50}}))
    add_round(factory, "lab")
    results = tmp_path / "results.csv"
    results.write_text("structure,readout\nO=C1C=CC(=O)C=C1,<4\nnot-a-smiles,5\nCCCCCCCC,6.1\n")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = signed_in_page(browser, base, KEY, "/campaigns/lab/upload")
        page.get_by_label("Results (CSV or SD file)").set_input_files(str(results))
        page.get_by_role("button", name="Preview", exact=True).click()
        page.get_by_label("SMILES column").select_option("structure")
        page.get_by_label("Value column").select_option("readout")
        page.get_by_role("button", name="Preview with these columns").click()
        assert page.get_by_text("row 3: smiles 'not-a-smiles' is not a valid SMILES").first.is_visible()
        with page.expect_download() as download:
            page.get_by_role("link", name="Download the bad rows (CSV)").click()
        assert "not-a-smiles" in Path(download.value.path()).read_text()
        page.get_by_role("button", name="Store the 2 good rows, leave out 1 bad").click()
        assert page.get_by_role("status").filter(has_text="Stored 2 rows; left out 1 bad row").is_visible()
        browser.close()
    with session_scope(factory) as session:
        campaign_id = get_campaign(session, "lab").id
        assert (
            session.scalar(
                select(func.count()).select_from(Measurement).where(Measurement.campaign_id == campaign_id)
            )
            == 1
        )
        assert (
            session.scalar(
                select(func.count())
                .select_from(CensoredMeasurement)
                .where(CensoredMeasurement.campaign_id == campaign_id)
            )
            == 1
        )


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_browser_molecules_table_shows_every_column_in_a_laptop_window(live, tmp_path):
    """At 1280 px the molecules table, drug-sized SMILES and predictions included, fits the page:
    its last column (alerts) is in view without scrolling sideways."""
    sync_api = pytest.importorskip("playwright.sync_api")
    base, factory = live
    drug_sized = [  # proposals of a real campaign: long SMILES, two-decimal predictions
        ("COc1ccc(NC(=O)c2ccccc2C(=O)Nc2ccc(C)cc2C)c(OC)c1", 0.35, 0.02),
        ("Cc1ccc(OCC(=O)Nc2cccc(NC(=O)COc3ccc(C)cc3C)c2)c(C)c1", 0.36, 0.01),
        ("CCNC(=O)c1cccc(NC(=O)c2ccccc2NC(=O)COc2ccc(C)cc2C)c1", 0.31, 0.02),
    ]
    seeded_campaign(factory, "wide", tmp_path, rows=drug_sized)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        viewport = {"width": 1280, "height": 800}
        page = signed_in_page(browser, base, KEY, "/campaigns/wide/molecules", viewport=viewport)
        region = page.get_by_role("region", name="Molecules table (scrolls sideways)")
        client, scroll = region.evaluate("element => [element.clientWidth, element.scrollWidth]")
        browser.close()
    assert scroll <= client, f"the table is {scroll} px wide in a {client}-px page"
