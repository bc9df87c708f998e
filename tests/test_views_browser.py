"""The molecule grid in real headless Chromium: card view, a Copy SMILES button under the pages'
Content-Security-Policy, ticked molecules downloaded as an SD file RDKit reads back, and why a
molecule was proposed (the nearest measured molecule: a sortable column, the detail page)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdkit import Chem
from sqlalchemy import select
from web_support import PROPOSED, SEED, TINY_REWARD, add_round, seed_csv, settings_for

from chemloop.chem.mol import canonical, molecule_key
from chemloop.loop.campaign import init_campaign
from chemloop.loop.config import CampaignConfig
from chemloop.loop.store import Proposal, ProposalExplanation, session_scope
from chemloop.serve.app import create_app
from chemloop.serve.live import live_server

CHROMIUM = Path("/usr/bin/chromium")


def _demo_app(tmp_path: Path, database: str):
    """A web app whose campaign ``demo`` has seed values and one proposed round."""
    app = create_app(settings_for(tmp_path, database))
    seed = seed_csv(tmp_path / "seed.csv", SEED)
    config = {"campaign": {"seed_data": str(seed)}, "reward": TINY_REWARD}
    init_campaign(app.state.workspace.factory, "demo", CampaignConfig.model_validate(config))
    add_round(app.state.workspace.factory, "demo")
    return app


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_cards_copy_and_download_ticked_molecules(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    app = _demo_app(tmp_path, "cards.db")
    with live_server(app) as base, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"]
        )
        context = browser.new_context(accept_downloads=True)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        page = context.new_page()
        page.set_default_timeout(10_000)
        refused = []  # the page's scripts must run under its CSP without a violation
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)

        page.goto(base + "/campaigns/demo/molecules")
        page.get_by_role("link", name="Cards").click()
        page.wait_for_url("**view=cards**")
        card = page.locator("li.mol-card").filter(has_text="N#Cc1ccccc1")
        button = card.get_by_role("button", name="Copy SMILES")
        button.click()  # hidden until the script shows it: clickable means grid.js ran
        page.wait_for_function(
            "() => [...document.querySelectorAll('button.copy')].some(b => b.textContent == 'Copied')"
        )
        assert page.evaluate("navigator.clipboard.readText()") == "N#Cc1ccccc1"

        for smiles in ("CCO", "c1ccc2ccccc2c1"):
            page.locator(f'input[name="key"][value="{molecule_key(canonical(smiles))}"]').check()
        with page.expect_download() as info:
            page.get_by_role("button", name="Download SDF").click()
        path = tmp_path / "ticked.sdf"
        info.value.save_as(path)
        mols = [m for m in Chem.SDMolSupplier(str(path)) if m is not None]
        assert sorted(Chem.MolToSmiles(m) for m in mols) == ["CCO", "c1ccc2ccccc2c1"]
        assert {m.GetProp("round") for m in mols} == {"0", "1"}
        assert not refused, refused
        browser.close()


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_the_grid_sorts_by_nearest_measured_and_the_detail_page_says_why(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    app = _demo_app(tmp_path, "why.db")
    factory = app.state.workspace.factory
    explained, nearest = canonical(PROPOSED[3][0]), canonical("N#Cc1ccccc1")
    with session_scope(factory) as session:
        proposal = session.scalar(select(Proposal).where(Proposal.smiles == explained))
        session.add(
            ProposalExplanation(
                proposal_id=proposal.id,
                nearest_smiles=nearest,
                nearest_similarity=0.2468,
                nearest_value=3.0,
                out_of_domain=True,
            )
        )
    with live_server(app) as base, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"]
        )
        page = browser.new_page()
        page.set_default_timeout(10_000)
        page.goto(base + "/campaigns/demo/molecules")
        page.get_by_role("link", name="Nearest measured").click()
        page.wait_for_url("**sort=nearest_similarity**")
        header = page.locator("th", has=page.get_by_role("link", name="Nearest measured"))
        assert header.get_attribute("aria-sort") in ("ascending", "descending")
        if header.get_attribute("aria-sort") == "ascending":  # blanks sort last either way
            page.get_by_role("link", name="Nearest measured").click()
            page.wait_for_url("**order=desc**")
        first = page.locator("table.grid tbody tr").first
        assert first.locator("td.smiles a").inner_text() == explained
        assert first.locator(".badge.ood").is_visible() and "0.25" in first.inner_text()

        first.locator("td.smiles a").click()
        page.get_by_role("heading", name="Why it was proposed").wait_for()
        drawing = page.get_by_alt_text(f"Structure of {nearest}")
        drawing.wait_for()
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=drawing.element_handle())
        assert "Tanimoto 0.25, measured 3.00" in page.content()
        page.locator(f'a[href$="/molecules/{molecule_key(nearest)}"]').first.click()
        page.wait_for_url(f"**/molecules/{molecule_key(nearest)}")
        assert page.locator("h1.smiles").inner_text() == nearest
        browser.close()
