"""A results sheet filled in as results come back: rows whose value is still blank are left out (not
bad rows), and the sheet imported again with more values stores only what is new."""

from __future__ import annotations

import csv
import io
import os
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from web_support import KEY, PROPOSED, add_round, count, settings_for

from chemloop.chem.mol import canonical
from chemloop.loop import results as loop_results
from chemloop.loop.campaign import init_campaign
from chemloop.loop.config import CampaignConfig
from chemloop.loop.store import Measurement, Preference, Rating, session_scope
from chemloop.loop.store import connect as loop_connect
from chemloop.reward.data import FeedbackError, csv_table
from chemloop.serve.app import create_app
from chemloop.services import campaigns
from chemloop.services.workspace import Workspace

SMILES = [canonical(s) for s, _, _ in PROPOSED]


def _sheet(values: list[float | None]) -> str:
    """The round's five proposals as exported, ``measured`` filled in where a value is given."""
    cells = ["" if v is None else str(v) for v in values] + [""] * (len(SMILES) - len(values))
    return "compound_id,smiles,measured\n" + "".join(
        f"C-{i},{s},{v}\n" for i, (s, v) in enumerate(zip(SMILES, cells, strict=True), start=1)
    )


@pytest.fixture
def campaign(tmp_path):
    """(workspace, factory) with campaign ``demo``: round 1 proposed (the five PROPOSED), nothing measured."""
    workspace = Workspace(f"sqlite:///{tmp_path / 'fill.db'}", tmp_path / "runs")
    factory = workspace.factory
    init_campaign(factory, "demo", CampaignConfig())
    add_round(factory, "demo")
    return workspace, factory


def _import(workspace: Workspace, text: str, filename: str = "round1.csv") -> dict:
    return campaigns.import_results(workspace, "demo", text.encode(), filename, fit_reward=False)


def _stored_values(factory) -> list[tuple[str, float]]:
    with session_scope(factory) as session:
        return sorted((m.smiles, m.value) for m in session.scalars(select(Measurement)))


def test_rows_without_a_value_yet_are_left_out_not_bad(campaign):
    workspace, factory = campaign
    done = _import(workspace, _sheet([6.1, None, 5.2, None, None]))
    assert done["imported"] == 2 and done["skipped"] == []
    assert done["left_out"] == [{"row": n, "message": "no value yet"} for n in (3, 5, 6)]
    assert _stored_values(factory) == sorted([(SMILES[0], 6.1), (SMILES[2], 5.2)])


def test_the_sheet_imported_again_stores_only_the_new_results(campaign):
    workspace, factory = campaign
    _import(workspace, _sheet([6.1, None, 5.2]), "first.csv")
    again = _import(workspace, _sheet([6.1, 4.4, 5.2, 7.0]), "round1.csv")
    assert again["imported"] == 2
    assert again["left_out"] == [
        {"row": 2, "message": "already stored from first.csv"},
        {"row": 4, "message": "already stored from first.csv"},
        {"row": 6, "message": "no value yet"},
    ]
    assert _stored_values(factory) == sorted(
        [(SMILES[0], 6.1), (SMILES[1], 4.4), (SMILES[2], 5.2), (SMILES[3], 7.0)]
    )
    # A changed value is a new measurement (a repeat of the assay), stored beside the first.
    third = _import(workspace, _sheet([6.3, 4.4]), "retest.csv")
    assert third["imported"] == 1 and [i["row"] for i in third["left_out"]] == [3, 4, 5, 6]
    assert count(factory, Measurement, "demo") == 5


def test_nothing_new_stores_nothing_and_says_so(campaign):
    workspace, factory = campaign
    _import(workspace, _sheet([6.1, 4.4]), "first.csv")
    part = f"smiles,value\n{SMILES[1]},4.4\n{SMILES[2]},\n"
    again = _import(workspace, part, "part.csv")
    assert again["imported"] == 0 and "every result in part.csv is already stored" in again["note"]
    assert [i["row"] for i in again["left_out"]] == [2, 3]
    assert count(factory, Measurement, "demo") == 2


def test_replicates_within_one_file_are_all_stored(campaign):
    workspace, factory = campaign
    done = _import(workspace, f"smiles,value\n{SMILES[0]},6.1\n{SMILES[0]},6.1\n")
    assert done["imported"] == 2 and done["left_out"] == []


def test_a_salt_of_a_stored_result_is_the_same_result(tmp_path):
    workspace = Workspace(f"sqlite:///{tmp_path / 'salt.db'}", tmp_path / "runs")
    init_campaign(workspace.factory, "demo", CampaignConfig())
    ammonium = "C[NH+]1CCN(c2ccccc2)CC1"
    add_round(workspace.factory, "demo", rows=[(ammonium, 5.0, 0.5)])
    _import(workspace, f"smiles,value\n{ammonium},6.5\n", "first.csv")
    salt = _import(workspace, "smiles,value\nCN1CCN(c2ccccc2)CC1.Cl,6.5\n", "salt.csv")
    assert salt["imported"] == 0 and salt["left_out"][0]["message"] == "already stored from first.csv"


def test_preferences_and_ratings_imported_again_are_not_stored_twice(campaign):
    workspace, factory = campaign
    a, b, c = SMILES[:3]
    _import(workspace, f"smiles_a,smiles_b,preferred\n{a},{b},a\n", "prefs.csv")
    mirrored = _import(workspace, f"smiles_a,smiles_b,preferred\n{b},{a},b\n{a},{c},\n{b},{c},b\n")
    assert mirrored["imported"] == 1
    assert mirrored["left_out"] == [
        {"row": 2, "message": "already stored from prefs.csv"},
        {"row": 3, "message": "no choice yet"},
    ]
    assert count(factory, Preference, "demo") == 2
    _import(workspace, f"smiles,rating\n{a},4\n{b},\n", "ratings.csv")
    again = _import(workspace, f"smiles,rating\n{a},4\n{b},2\n")
    assert again["imported"] == 1 and count(factory, Rating, "demo") == 2


def test_a_sheet_with_no_result_yet_is_refused_naming_it():
    with pytest.raises(FeedbackError, match=r"round1\.csv: none of its 3 rows has a result yet"):
        loop_results.read_results(csv_table(b"smiles,value\nCCO,\nCCN, \nCCC,\n", "round1.csv"))


def test_a_blank_value_with_a_std_is_still_a_bad_row():
    with pytest.raises(FeedbackError, match=r"row 2: value '' is not a number"):
        loop_results.read_results(csv_table(b"smiles,value,std\nCCO,,0.3\nCCN,5,\n", "lab.csv"))


def test_the_preview_shows_what_will_be_left_out(campaign):
    workspace, _ = campaign
    _import(workspace, _sheet([6.1]), "first.csv")
    found = campaigns.preview_results(workspace, "demo", _sheet([6.1, 4.4, None]).encode(), "round1.csv")
    assert found["ok"] and found["good"] == 1
    assert found["left_out"] == [(2, "already stored from first.csv")] + [
        (n, "no value yet") for n in (4, 5, 6)
    ]


def test_the_web_upload_of_a_part_filled_sheet(tmp_path):
    app = create_app(settings_for(tmp_path, "web.db"))
    factory = app.state.workspace.factory
    init_campaign(factory, "demo", CampaignConfig())
    add_round(factory, "demo")
    client = TestClient(app)
    assert client.post("/sign-in", data={"key": KEY, "next": "/"}, follow_redirects=False).status_code == 303
    preview = client.post(
        "/campaigns/demo/upload", files={"file": ("round1.csv", _sheet([6.1, None]), "text/csv")}
    )
    assert preview.status_code == 200
    assert "left out: no value yet" in preview.text and "Store 1 row<" in preview.text
    assert preview.text.count('<tr class="left-out">') == 4
    token = preview.text.split('name="token" value="')[1].split('"')[0]
    stored = client.post("/campaigns/demo/upload/confirm", data={"token": token}, follow_redirects=False)
    assert stored.status_code == 303
    page = client.get(stored.headers["location"])
    assert "Stored 1 row (4 left out: no result yet, or stored already)" in page.text


def test_the_api_lists_what_it_left_out(tmp_path):
    app = create_app(settings_for(tmp_path, "api.db"))
    init_campaign(app.state.workspace.factory, "demo", CampaignConfig())
    add_round(app.state.workspace.factory, "demo")
    client, headers = TestClient(app), {"X-API-Key": KEY}
    sheet = {"file": ("round1.csv", _sheet([6.1, None, 5.0]), "text/csv")}
    preview = client.post(
        "/api/campaigns/demo/results", files=sheet, data={"dry_run": "true"}, headers=headers
    )
    assert preview.status_code == 200 and preview.json()["good_rows"] == 2
    assert [i["row"] for i in preview.json()["left_out"]] == [3, 5, 6]
    done = client.post("/api/campaigns/demo/results", files=sheet, headers=headers)
    assert done.status_code == 200 and done.json()["imported"] == 2
    assert done.json()["left_out"][0] == {"row": 3, "message": "no value yet"}


def test_an_exported_mean_comes_back_as_already_stored(campaign):
    """The export writes a molecule's mean to 6 significant digits; filled in beside new values and
    imported, it is not stored as one more measurement."""
    workspace, factory = campaign
    _import(workspace, f"smiles,value\n{SMILES[0]},6.1234567\n{SMILES[0]},6.2\n", "replicates.csv")
    exported = campaigns.molecules(workspace, "demo")
    mean = next(m["value"] for m in exported if m["smiles"] == SMILES[0])
    again = _import(workspace, _sheet([float(f"{mean:.6g}"), 4.4]))
    assert again["imported"] == 1
    assert again["left_out"][0] == {"row": 2, "message": "already stored as the mean of its 2 measurements"}
    assert count(factory, Measurement, "demo") == 3


def test_the_command_line_says_which_rows_it_left_out_and_why(tmp_path):
    from typer.testing import CliRunner

    from chemloop.cli import app as cli_app

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    init_campaign(loop_connect(db), "demo", CampaignConfig())
    add_round(loop_connect(db), "demo")
    sheet = tmp_path / "round1.csv"
    sheet.write_text(_sheet([6.1, None, 5.0]))
    runner = CliRunner()
    first = runner.invoke(cli_app, ["campaign", "import", "demo", str(sheet), "--db", db])
    assert first.exit_code == 0, first.output
    assert "imported 2 values rows" in first.output
    assert "left out 3 row(s), no value yet: rows 3, 5, 6" in " ".join(first.output.split())
    sheet.write_text(_sheet([6.1, 4.4, 5.0]))
    again = runner.invoke(cli_app, ["campaign", "import", "demo", str(sheet), "--db", db])
    assert "left out 2 row(s), already stored from round1.csv: rows 2, 4" in " ".join(again.output.split())


def test_the_round_exported_filled_in_and_imported_again_round_trips(campaign):
    """The export of a round, its `measured` filled in where results came back: imported as it is;
    then exported again (a "<5" shown as written) and imported, nothing is stored twice."""
    from chemloop.services.export import export_campaign

    workspace, factory = campaign
    exported = list(csv.DictReader(io.StringIO(export_campaign(workspace, "demo", "csv", round_=1).content)))
    exported[0]["measured"], exported[2]["measured"] = "6.5", "<5"
    done = _import(workspace, _csv(exported), "round1.csv")
    assert done["imported"] == 2 and [i["message"] for i in done["left_out"]] == ["no value yet"] * 3
    again = export_campaign(workspace, "demo", "csv", round_=1).content
    cells = {row["smiles"]: row["measured"] for row in csv.DictReader(io.StringIO(again))}
    assert cells[exported[0]["smiles"]] == "6.5" and cells[exported[2]["smiles"]] == "<5"
    assert _import(workspace, again, "round1-again.csv")["imported"] == 0
    assert count(factory, Measurement, "demo") == 1


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database(request, tmp_path):
    """(workspace, name): a campaign with round 1 proposed, on SQLite and on PostgreSQL where CI
    provides a server (``CHEMLOOP_TEST_POSTGRES``), under a name unique to the test."""
    url = f"sqlite:///{tmp_path / 'any.db'}"
    if request.param == "postgresql":
        url = os.environ.get("CHEMLOOP_TEST_POSTGRES", "")
        if not url:
            pytest.skip("no PostgreSQL server (set CHEMLOOP_TEST_POSTGRES; .ci/run starts one)")
    workspace = Workspace(url, tmp_path / "runs")
    name = f"fill-{uuid.uuid4().hex[:12]}"
    init_campaign(workspace.factory, name, CampaignConfig())
    add_round(workspace.factory, name)
    return workspace, name


def test_concurrent_imports_sharing_a_row_store_it_once(any_database):
    """Four files, each with the same first result and one of its own, imported at once: the shared
    row is stored by one of them and left out of the other three (each import holds the campaign
    while it checks and stores)."""
    from concurrent.futures import ThreadPoolExecutor

    workspace, name = any_database
    files = [f"smiles,value\n{SMILES[0]},6.1\n{SMILES[i]},{i}.5\n".encode() for i in range(1, 5)]

    def store(data: bytes) -> dict:
        return campaigns.import_results(workspace, name, data, "lab.csv", fit_reward=False)

    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(store, files))
    assert sorted(d["imported"] for d in done) == [1, 1, 1, 2]
    assert count(workspace.factory, Measurement, name) == 5


def test_the_web_preview_of_a_sheet_with_nothing_new_offers_nothing_to_store(tmp_path):
    app = create_app(settings_for(tmp_path, "web.db"))
    workspace = app.state.workspace
    init_campaign(workspace.factory, "demo", CampaignConfig())
    add_round(workspace.factory, "demo")
    campaigns.import_results(workspace, "demo", _sheet([6.1, 4.4]).encode(), "round1.csv", fit_reward=False)
    client = TestClient(app)
    assert client.post("/sign-in", data={"key": KEY, "next": "/"}, follow_redirects=False).status_code == 303
    again = ("round1 (2).csv", _sheet([6.1, 4.4]), "text/csv")  # the same sheet, saved again
    preview = client.post("/campaigns/demo/upload", files={"file": again})
    assert preview.status_code == 200
    assert (
        "Nothing new to store" in preview.text
        and 'action="/campaigns/demo/upload/confirm"' not in preview.text
    )
    assert preview.text.count("left out: already stored from round1.csv") == 2
