"""A medicinal chemist's round, end to end, in real headless Chromium under the pages'
Content-Security-Policy: a named user signs in, creates a campaign from an assay file with a
censored value and a bad row, proposes a round, downloads it for the lab, uploads its results, compares
pairs (and undoes one), writes a note, filters and exports the grid, and archives the campaign.
Every job runs for real (tiny settings); each page visited is screenshotted into the folder named
by ``CHEMLOOP_SCREENSHOTS`` when it is set, for a person to look at."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from rdkit import Chem
from test_web_browser import BROWSER_ARGS, CHROMIUM
from web_support import settings_for

from chemloop.chem.mol import canonical, molecule_key
from chemloop.serve.app import create_app
from chemloop.serve.live import live_server
from chemloop.services import users

NAME = "indoles"
UNIT = "log units"
# An indole series with its pIC50s as the lab sent them: one beyond the assay's range, one broken row.
SEED = [
    ("c1ccc2[nH]ccc2c1", "5.1"),
    ("Cc1cc2ccccc2[nH]1", "5.4"),
    ("COc1ccc2[nH]ccc2c1", "6.0"),
    ("Clc1ccc2[nH]ccc2c1", "6.3"),
    ("Fc1ccc2[nH]ccc2c1", "6.1"),
    ("OCCc1c[nH]c2ccccc12", "5.8"),
    ("NC(=O)c1c[nH]c2ccccc12", "6.6"),
    ("CC(=O)Nc1ccc2[nH]ccc2c1", "6.8"),
    ("Cn1ccc2ccccc21", "5.7"),
    ("O=C(O)Cc1c[nH]c2ccccc12", "<5"),
    ("C1CC(", "5.9"),  # not a molecule: the row the form lists and leaves out
    ("CC(=O)Nc1ccc(O)cc1", "4.6"),
    ("Brc1ccc2[nH]ccc2c1", "6.4"),
]
# A propose small enough for a test: no RL, one fine-tuning epoch, few candidates, a tiny ensemble.
TOML = """[campaign]
batch = 5
candidates = 64
rl_steps = 0
finetune_epochs = 1
[reward]
ensemble = 2
hidden = 16
epochs = 5
cv_folds = 2
"""
JOB = 300_000  # ms a background job may take on a busy 2-core machine
MW = (125.0, 165.0)  # the grid's filter: molecular weight in Da


class Shots:
    """Full-page screenshots, numbered in the order the pages were visited (none without a folder)."""

    def __init__(self, folder: str | None) -> None:
        self.folder = Path(folder) if folder else None
        self.count = 0
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, page, name: str) -> None:
        if self.folder is None:
            return
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)


def _seed_file(path: Path) -> Path:
    path.write_text("SMILES,pIC50\n" + "".join(f"{s},{v}\n" for s, v in SEED))
    return path


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_a_chemists_round_end_to_end(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    app = create_app(settings_for(tmp_path, "round.db"))
    key = users.add(app.state.workspace, "hana")  # as `chemloop users add hana` does
    seed = _seed_file(tmp_path / "indoles.csv")
    shot = Shots(os.environ.get("CHEMLOOP_SCREENSHOTS"))

    with live_server(app) as base, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        refused = []  # what the Content-Security-Policy blocked, as the browser reports it
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        dashboard = f"{base}/campaigns/{NAME}"

        # 1. Sign in with her own key: the header names her.
        page.goto(base + "/sign-in")
        shot(page, "sign-in")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(base + "/")
        assert page.locator("header .user").inner_text() == "Signed in as hana"
        shot(page, "start")

        # 2. Create the campaign: the bad row is listed, the good ones stored, the first fit runs.
        page.get_by_label("Name", exact=True).fill(NAME)
        page.get_by_label("What the values measure").fill("pIC50 EGFR")
        page.get_by_label("Unit").fill(UNIT)
        page.get_by_label("Better values are").select_option("higher")
        page.get_by_label("Seed results (CSV").set_input_files(str(seed))
        page.locator("details summary").click()
        page.get_by_label("Campaign TOML").fill(TOML)
        page.get_by_role("button", name="Create campaign").click()
        problems = page.get_by_role("alert")
        assert "row 12: " in problems.inner_text() and "C1CC(" in problems.inner_text()
        assert "Seed results: indoles.csv (uploaded" in page.locator(".notice").inner_text()
        shot(page, "create-bad-row")
        page.get_by_label("Store only the good seed rows").check()
        page.get_by_role("button", name="Create campaign").click()
        page.wait_for_url(dashboard)
        assert page.get_by_role("heading", name=NAME, exact=True).is_visible()
        assert page.locator(".assay").inner_text() == f"pIC50 EGFR ({UNIT}), higher is better"
        assert (
            "Fitting the first reward model on the seed results" in page.locator(".job-progress").inner_text()
        )
        shot(page, "dashboard-create-job")
        page.get_by_role("heading", name="Next: propose the first round").wait_for(timeout=JOB)
        assert page.locator(".job-progress").count() == 0
        assert "12 seed results are in." in page.locator(".next-step").inner_text()
        shot(page, "dashboard-created")

        # 3. Propose a round: its progress, then the cards to make and test, and the lab's SD file.
        page.get_by_role("button", name="Propose the first round").click()
        page.wait_for_url(dashboard)
        assert "Proposing" in page.locator(".job-progress .job-title").inner_text()
        shot(page, "dashboard-propose-job")
        heading = "Next: make and test these 5 molecules, then upload the results"
        page.get_by_role("heading", name=heading).wait_for(timeout=JOB)
        cards = page.locator(".round-cards li")
        assert cards.count() == 5
        for i in range(5):
            predicted = cards.nth(i).locator("dt:has-text('Predicted') + dd").inner_text()
            assert predicted.endswith(UNIT) and " ± " in predicted, predicted
        shot(page, "round-cards")
        with page.expect_download() as info:
            page.locator(".next-step").get_by_role("link", name="SDF", exact=True).click()
        sdf = tmp_path / "round1.sdf"
        info.value.save_as(sdf)
        mols = [m for m in Chem.SDMolSupplier(str(sdf)) if m is not None]
        assert len(mols) == 5
        shown = {cards.nth(i).locator("code").inner_text() for i in range(5)}
        assert {m.GetProp("id") for m in mols} == shown == {m.GetProp("_Name") for m in mols}
        assert {m.GetProp("round") for m in mols} == {"1"} and {m.GetProp("unit") for m in mols} == {UNIT}
        assert all(float(m.GetProp("predicted")) == float(m.GetProp("predicted")) for m in mols)
        proposed = [Chem.MolToSmiles(m) for m in mols]

        # 4. Upload the lab's results from the dashboard: one beyond the assay's range.
        values = [f"{5.5 + 0.4 * i:.1f}" for i in range(4)] + [">8"]
        results = tmp_path / "round1_results.csv"
        results.write_text(
            "SMILES,pIC50\n" + "".join(f"{s},{v}\n" for s, v in zip(proposed, values, strict=True))
        )
        page.locator("#round-file").set_input_files(str(results))
        page.locator(".next-step").get_by_role("button", name="Preview").click()
        assert "5 data rows" in page.get_by_role("status").first.inner_text()
        assert page.locator("table.preview tbody tr").count() == 5
        shot(page, "upload-preview")
        page.get_by_role("button", name="Store 5 rows").click()
        page.wait_for_url(dashboard + "?imported=5")
        shot(page, "dashboard-refit-job")
        page.get_by_role("heading", name="Results of round 1 are in: propose the next round").wait_for(
            timeout=JOB
        )
        assert "5 of the 5 molecules proposed were measured" in page.locator(".next-step").inner_text()
        assert page.get_by_role("heading", name="Predicted against measured").is_visible()
        assert page.locator(".parity svg.plot circle.measured").count() >= 4
        reading = page.locator("#model-reading").inner_text()
        assert "over 2 folds" in reading and not reading.startswith("Not fitted"), reading
        # The ">8" molecule is surely the best tested: it heads the table, written as measured.
        best = page.locator("section[aria-labelledby=tested-title] tbody tr").first
        assert (
            best.locator("td").nth(1).inner_text() == proposed[4]  # after its drawing
            and best.locator("td").nth(3).inner_text() == f">8 {UNIT}"
            and best.get_by_role("img", name=f"Structure of {proposed[4]}").is_visible()
        )
        shot(page, "dashboard-results-in")

        # 5. Review: two pairs by clicking, the counter, undo; a note; who recorded the pair.
        page.goto(dashboard + "/review")
        review, counter = page.locator("#review"), page.locator("#review-count")

        def act(do) -> None:  # one action that swaps the pair; waits until the page has timed it
            swaps = int(review.get_attribute("data-swaps"))
            do()
            page.wait_for_function(
                "n => Number(document.getElementById('review').dataset.swaps) > n", arg=swaps
            )

        assert counter.inner_text() == "0 pairs recorded in this campaign, 0 by you"
        winner, loser = (page.locator(f"#card-{s}").get_attribute("data-smiles") for s in "ab")
        act(lambda: page.get_by_role("button", name="A is better").click())
        act(lambda: page.get_by_role("button", name="B is better").click())
        assert counter.inner_text() == "2 pairs recorded in this campaign, 2 by you"
        shot(page, "review")
        act(lambda: page.get_by_role("button", name="Undo my last pair").click())
        assert counter.inner_text() == "1 pair recorded in this campaign, 1 by you"
        shot(page, "review-undone")

        page.goto(f"{dashboard}/molecules/{molecule_key(canonical(winner))}")
        note = "Make the 5-fluoro analogue next; the NH looks important."
        page.get_by_label("Add a note as hana").fill(note)
        page.get_by_role("button", name="Add note").click()
        added = page.locator("ul.notes li")
        assert added.count() == 1
        assert (
            added.locator(".who strong").inner_text() == "hana"
            and added.locator(".text").inner_text() == note
        )
        who = " ".join(page.locator("ul.activity").inner_text().split())
        assert f"Preferred over {loser} by hana" in who, who  # who recorded the pair
        shot(page, "molecule")
        page.goto(f"{dashboard}/molecules/{molecule_key(canonical('Clc1ccc2[nH]ccc2c1'))}")
        who = " ".join(page.locator("ul.activity").inner_text().split())
        assert f"Measured 6.30 {UNIT} from indoles.csv, uploaded by hana" in who, who  # the seed file is hers

        # 6. The grid: a molecular-weight window, the cards, and the filtered CSV.
        page.goto(dashboard + "/molecules")
        total = len(SEED) - 1 + 5
        assert page.locator(".grid-bar [role=status]").inner_text() == f"{total} of {total} molecules."
        page.get_by_label("MW (Da) minimum").fill(str(MW[0]))
        page.get_by_label("MW (Da) maximum").fill(str(MW[1]))
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url("**mw_min=**")
        status = page.locator(".grid-bar [role=status]").inner_text()
        kept = int(status.split(" of ")[0])
        assert 0 < kept < total and status == f"{kept} of {total} molecules."
        assert page.locator("table.grid tbody tr").count() == kept
        shot(page, "grid-table")
        page.get_by_role("link", name="Cards", exact=True).click()
        page.wait_for_url("**view=cards**")
        assert page.locator("li.mol-card").count() == kept
        on_cards = {page.locator("li.mol-card code").nth(i).inner_text() for i in range(kept)}
        shot(page, "grid-cards")
        with page.expect_download() as info:
            page.locator(".downloads").get_by_role("link", name="CSV", exact=True).click()
        rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
        assert {r["id"] for r in rows} == on_cards and len(rows) == kept
        assert all(MW[0] <= float(r["mw_da"]) <= MW[1] and r["unit"] == UNIT for r in rows)
        everything = page.request.get(f"{dashboard}/export?format=csv").text()
        inside = {
            r["id"] for r in csv.DictReader(io.StringIO(everything)) if MW[0] <= float(r["mw_da"]) <= MW[1]
        }
        assert inside == on_cards  # the filter left out nothing in the window

        page.goto(dashboard + "/series")
        assert page.locator("table.sar tbody tr").count() >= 2
        rgroups = page.locator("section[aria-labelledby=rgroups-title]")
        assert rgroups.locator("th").last.inner_text() == "pIC50 EGFR"
        # The "<5" seed is tested: counted with its scaffold, shown as written with the unit.
        censored = rgroups.locator("tbody tr").filter(has_text=canonical("O=C(O)Cc1c[nH]c2ccccc12"))
        assert censored.locator("td").last.inner_text() == f"<5 {UNIT}"
        shot(page, "scaffolds")

        # 7. Archive: the start page hides the campaign until archived ones are shown.
        page.goto(dashboard + "/manage")
        shot(page, "manage")
        page.get_by_role("button", name="Archive this campaign").click()
        assert "This campaign is archived" in page.locator("main").inner_text()
        shot(page, "manage-archived")
        page.goto(base + "/")
        assert page.get_by_role("link", name=NAME, exact=True).count() == 0
        shot(page, "start-archived-hidden")
        page.get_by_role("link", name="Show archived campaigns").click()
        row = page.locator("tbody tr").filter(has=page.get_by_role("link", name=NAME, exact=True))
        assert row.count() == 1 and row.locator(".tag").inner_text() == "archived"
        shot(page, "start-archived-shown")
        browser.close()
    assert not refused, refused
