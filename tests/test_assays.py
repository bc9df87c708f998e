"""Assays (name, unit, direction), column mapping, censored results and storing only the good rows:
in the readers, the campaign store, the reward model's feedback, the service layer and every face."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient
from rdkit import Chem
from sqlalchemy import select
from sqlalchemy import text as text_sql
from typer.testing import CliRunner
from web_support import KEY, PROPOSED, SEED, TINY_REWARD, add_round, count, seed_csv, settings_for

from chemloop.chem.mol import canonical
from chemloop.cli import app as cli_app
from chemloop.errors import ChemloopError
from chemloop.jobs import JobManager
from chemloop.loop import reward_store
from chemloop.loop.assay import Assay, censored_pairs, check_assay, utility_qualifier
from chemloop.loop.campaign import init_campaign
from chemloop.loop.campaign_reads import molecules, status
from chemloop.loop.columns import ColumnChoice, ColumnsError, map_columns
from chemloop.loop.config import CampaignConfig
from chemloop.loop.results import read_results, rows_digest
from chemloop.loop.store import (
    AssayDefinition,
    CensoredMeasurement,
    CompoundId,
    Measurement,
    connect,
    get_campaign,
    session_scope,
)
from chemloop.reward.data import CsvTable, FeedbackError, csv_table
from chemloop.serve.app import create_app
from chemloop.serve.web.review import card as review_card
from chemloop.services import campaigns
from chemloop.services.workspace import Workspace

SARIN = "CC(C)OP(C)(=O)F"  # withheld by the dual-use guard: never echoed back
AUTH = {"X-API-Key": KEY}


def table(text: str, source: str = "lab.csv") -> CsvTable:
    return csv_table(text.encode(), source)


# --- columns ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "smiles", "value", "id_"),
    [
        ("SMILES,pIC50", "SMILES", "pIC50", None),
        ("Compound ID,canonical_smiles,IC50 (nM)", "canonical_smiles", "IC50 (nM)", "Compound ID"),
        ("name,Smiles,% Inhibition", "Smiles", "% Inhibition", "name"),
        ("id,compound_id,smiles,measured,pIC50", "smiles", "pIC50", "compound_id"),  # an export, filled in
        ("id,compound_id,smiles,parent_smiles,measured,measurements", "smiles", "measured", "compound_id"),
        ("smiles,value,pIC50", "smiles", "value", None),  # "value" wins over another value header
    ],
)
def test_common_headers_are_recognised(header, smiles, value, id_):
    mapped, found = map_columns(
        table(f"{header}\n" + ",".join(["CCO", "5"] + [""] * (header.count(",") - 1)))
    )
    assert (found.smiles, found.value, found.id) == (smiles, value, id_)
    assert {"smiles", "value"} <= mapped.columns


def test_unrecognised_or_ambiguous_columns_are_asked_for():
    with pytest.raises(ColumnsError) as unknown:
        map_columns(table("structure,readout\nCCO,5\n"))
    assert unknown.value.header == ["structure", "readout"] and "lab.csv: columns" in str(unknown.value)
    with pytest.raises(ColumnsError, match="values"):  # two value columns: which one?
        map_columns(table("smiles,pIC50,IC50\nCCO,5,10\n"))
    mapped, found = map_columns(table("smiles,pIC50,IC50\nCCO,5,10\n"), ColumnChoice(value="ic50"))
    assert found.value == "IC50" and read_results(mapped).rows == [("CCO", 10.0, None)]
    with pytest.raises(FeedbackError, match="no column 'pKi'.*'smiles', 'pIC50'"):
        map_columns(table("smiles,pIC50\nCCO,5\n"), ColumnChoice(value="pKi"))


def test_preference_and_rating_files_keep_their_columns():
    assert read_results(table("smiles_a,smiles_b,preferred\nCCO,CCN,a\n")).kind == "preferences"
    assert read_results(table("SMILES,rating\nCCO,4\n")).kind == "ratings"


# --- censored values and good rows ---------------------------------------------------------------


def test_censored_values_are_read_as_qualifier_and_number():
    found = read_results(table("SMILES,pIC50\nCCO,<5\nCCN,>= 10\nCCC,≤4.5\nCCCC,6.2\n"))
    assert found.rows == [
        ("CCO", 5.0, None, "<"),
        ("CCN", 10.0, None, ">="),
        ("CCC", 4.5, None, "<="),
        ("CCCC", 6.2, None),  # an exact value keeps its shape, and so the digest of files stored before
    ]
    assert (
        rows_digest("values", [("CCCC", 6.2, None)]) == read_results(table("smiles,value\nCCCC,6.2\n")).sha256
    )
    with pytest.raises(FeedbackError, match="row 2: value '<<5' is not a number"):
        read_results(table("smiles,value\nCCO,<<5\n"))


def test_good_rows_are_kept_only_when_asked():
    text = "smiles,value\nCCO,1\nnot-a-smiles,2\n\nCCN,abc\nCCC,<3\n"
    with pytest.raises(FeedbackError) as all_or_nothing:
        read_results(table(text))
    assert [row for row, _ in all_or_nothing.value.problems] == [3, 5]
    good = read_results(table(text), skip_bad_rows=True)
    assert good.rows == [("CCO", 1.0, None), ("CCC", 3.0, None, "<")] and good.row_numbers == [2, 6]
    assert [row for row, _ in good.skipped] == [3, 5] and "abc" in good.skipped[1][1]
    with pytest.raises(FeedbackError, match="no good rows"):
        read_results(table("smiles,value\nnope,1\n"), skip_bad_rows=True)


def test_censored_results_become_pairs_on_utilities():
    exact = [("A", 6.0), ("B", 5.0), ("C", 4.0)]
    pairs = set(censored_pairs(exact, [("L", "<", 5.0), ("H", ">=", 7.0)]))
    # "<5" loses to every result surely above 5 (the measured 6 and 5, the ">=7"), not to the 4.
    assert {("A", "L"), ("B", "L"), ("H", "L")} <= pairs and ("C", "L") not in pairs
    assert ("L", "C") not in pairs
    assert {("H", "A"), ("H", "B"), ("H", "C")} <= pairs  # ">=7" beats every measured value below 7
    assert ("B", "L") not in set(censored_pairs(exact, [("L", "<=", 5.0)]))  # 5 is not surely above "<=5"
    assert utility_qualifier("<", -1.0) == ">" and utility_qualifier("<=", 1.0) == "<="


def test_assay_input_is_checked():
    assert check_assay(" pIC50 EGFR ", "log units", "Lower") == Assay("pIC50 EGFR", "log units", "lower")
    assert check_assay("", "", "") == Assay()
    for bad in [
        ("x" * 101, "", "higher"),
        ("ok", "u" * 31, "higher"),
        ("ok", "", "sideways"),
        ("a\nb", "", ""),
    ]:
        with pytest.raises(ChemloopError):
            check_assay(*bad)


# --- campaigns ----------------------------------------------------------------------------------


@pytest.fixture
def factory(tmp_path):
    return connect(f"sqlite:///{tmp_path / 'assays.db'}")


def _config(**campaign) -> CampaignConfig:
    return CampaignConfig.model_validate({"campaign": campaign, "reward": TINY_REWARD})


def test_an_assay_and_censored_seed_values_are_stored_and_shown(factory):
    seed = read_results(table("Compound,SMILES,IC50 (nM)\nX1,CCO,<10\nX2,CCN,50\nX3,CCC,20\nX4,CCCC,>1000\n"))
    assay = Assay("IC50 EGFR", "nM", "lower")
    init_campaign(factory, "kinase", _config(min_measurements=50), seed=seed, assay=assay)
    report = status(factory, "kinase")
    assert report["assay"] == {"name": "IC50 EGFR", "unit": "nM", "direction": "lower"}
    # Lower is better: the censored <10 beats the best value, 20, and counts at its bound.
    assert report["best"] == 10.0 and report["best_bound"] == "<10" == report["best_seed_bound"]
    assert report["censored"] == 2 and report["molecules_tested"] == 4 and report["seed_measurements"] == 4
    by_smiles = {m["smiles"]: m for m in molecules(factory, "kinase")}
    assert by_smiles["CCO"]["censored"] == ["<10"] and by_smiles["CCO"]["value"] is None
    assert by_smiles["CCN"]["value"] == 50.0 and by_smiles["CCN"]["unit"] == "nM"
    with session_scope(factory) as session:
        campaign_id = get_campaign(session, "kinase").id
        stored = session.scalars(select(CensoredMeasurement).order_by(CensoredMeasurement.bound)).all()
        assert [(c.smiles, c.qualifier, c.bound) for c in stored] == [
            ("CCO", "<", 10.0),
            ("CCCC", ">", 1000.0),
        ]
        assert session.scalar(select(AssayDefinition.unit)) == "nM"
        data, pairs = reward_store._feedback(session, campaign_id, seed=0)
    # Lower is better: the model learns utilities (−value), and "<10 nM" beats every measured value.
    assert sorted(data.values) == [-50.0, -20.0]
    implied = set(zip(pairs.winners, pairs.losers, strict=True))
    assert {("CCO", "CCN"), ("CCO", "CCC"), ("CCN", "CCCC"), ("CCO", "CCCC")} <= implied
    assert ("CCN", "CCO") not in implied


def test_a_campaign_without_an_assay_keeps_todays_defaults(factory, tmp_path):
    init_campaign(factory, "old", _config(seed_data=str(seed_csv(tmp_path / "s.csv", SEED))))
    report = status(factory, "old")
    assert report["assay"] == {"name": "value", "unit": "", "direction": "higher"}
    assert report["best"] == max(SEED.values()) and report["censored"] == 0 and report["best_bound"] is None
    with session_scope(factory) as session:  # no censored rows: the stored fits' counts still match
        assert set(reward_store.feedback_counts(session, get_campaign(session, "old").id)) == {
            "values",
            "preferences",
            "ratings",
        }


def test_the_reward_model_fits_on_censored_results(factory):
    rows = "\n".join(f"{s},{v}" for s, v in [("CCO", 6), ("CCN", 6.5), ("CCCO", 7), ("CCCN", 7.2)])
    censored = "\nc1ccccc1,<4\nc1ccncc1,<4\nCC(C)O,<4\n"
    seed = read_results(table("smiles,pIC50\n" + rows + censored))
    init_campaign(factory, "fit", _config(min_measurements=6), seed=seed, assay=Assay("pIC50"))
    quality = status(factory, "fit")["reward_model"]
    assert quality is not None and quality["feedback"]["censored"] == 3  # 4 values + 3 bounds ≥ 6


def test_imports_store_good_rows_only_when_asked(tmp_path):
    workspace = Workspace(f"sqlite:///{tmp_path / 'w.db'}", tmp_path / "runs")
    init_campaign(workspace.factory, "demo", _config(min_measurements=50))
    add_round(workspace.factory, "demo")
    proposed = [s for s, _, _ in PROPOSED]
    text = f"Smiles,pIC50\n{proposed[0]},5\nnot-a-smiles,1\n{proposed[1]},<4\nc1ccncc1,6\n{SARIN},2\n"
    with pytest.raises(FeedbackError):
        campaigns.import_results(workspace, "demo", text.encode(), "lab.csv")
    assert count(workspace.factory, Measurement, "demo") == 0
    done = campaigns.import_results(workspace, "demo", text.encode(), "lab.csv", skip_bad_rows=True)
    assert done["imported"] == 2 and [s["row"] for s in done["skipped"]] == [3, 5, 6]
    assert "never proposed" in done["skipped"][1]["message"]  # c1ccncc1: a molecule from elsewhere
    assert count(workspace.factory, Measurement, "demo") == 1
    assert count(workspace.factory, CensoredMeasurement, "demo") == 1

    found = campaigns.preview_results(workspace, "demo", text.encode(), "lab.csv")
    table = campaigns.read_table(text.encode(), "lab.csv")
    bad = list(csv.reader(io.StringIO(campaigns.bad_rows_csv(table, campaigns.bad_rows(found, False)))))
    assert bad[0] == ["row", "problem", "Smiles", "pIC50"]
    assert [r[0] for r in bad[1:]] == ["3", "5", "6"] and bad[1][2:] == ["not-a-smiles", "1"]
    assert bad[3][2:] == [] and SARIN not in str(bad)  # the withheld molecule is not written back


# --- faces --------------------------------------------------------------------------------------


def test_cli_creates_and_imports_with_an_assay_columns_and_good_rows(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    config = tmp_path / "campaign.toml"
    config.write_text(
        "[reward]\nensemble = 2\nhidden = 16\nepochs = 5\ncv_folds = 0\n[campaign]\nmin_measurements = 50\n"
    )
    seed = tmp_path / "seed.csv"
    seed.write_text("structure,readout\nCCO,5\nCCN,<4\nbad,3\n")
    runner = CliRunner()
    base = ["campaign", "init", "cli", "--config", str(config), "--seed", str(seed), "--db", db]
    refused = runner.invoke(cli_app, base)
    assert refused.exit_code != 0 and "structure" in refused.output
    named = ["--smiles-column", "structure", "--value-column", "readout", "--unit", "log units"]
    again = runner.invoke(cli_app, [*base, *named, "--assay-name", "pIC50 EGFR"])
    assert again.exit_code != 0 and "row 4" in again.output  # all or nothing without the opt-in
    out = tmp_path / "bad.csv"
    made = runner.invoke(
        cli_app, [*base, *named, "--assay-name", "pIC50 EGFR", "--skip-bad-rows", "--bad-rows", str(out)]
    )
    assert made.exit_code == 0, made.output
    assert "2 seed measurements" in made.output and "row 4" in made.output
    assert out.read_text().splitlines() == [
        "row,problem,structure,readout",
        "4,smiles 'bad' is not a valid SMILES,bad,3",
    ]
    shown = runner.invoke(cli_app, ["campaign", "status", "cli", "--db", db])
    assert (
        "assay: pIC50 EGFR (log units), higher is better" in shown.output
        and "best 5 log units" in shown.output
    )


@pytest.fixture
def client(tmp_path):
    settings = settings_for(tmp_path, "faces.db")
    application = create_app(settings)
    application.state.workspace.jobs = JobManager(tmp_path / "queued", max_running=0)  # fits wait
    init_campaign(application.state.workspace.factory, "demo", _config(min_measurements=50))
    add_round(application.state.workspace.factory, "demo")
    return TestClient(application)


def test_api_takes_an_assay_censored_seeds_and_named_columns(client):
    seed = [
        {"smiles": "CCO", "value": 5.0, "compound_id": "KI-001"},
        {"smiles": "CCN", "value": 4.0, "qualifier": "<"},
    ]
    body = {"name": "api", "seed": seed, "assay": {"name": "Ki", "unit": "nM", "direction": "lower"}}
    created = client.post("/api/campaigns", json=body, headers=AUTH)
    assert created.status_code == 201, created.text
    assert created.json()["assay"] == {"name": "Ki", "unit": "nM", "direction": "lower"}
    assert created.json()["censored"] == 1
    listed = {m["smiles"]: m for m in client.get("/api/campaigns/api/molecules").json()}
    assert listed["CCN"]["censored"] == ["<4"] and listed["CCO"]["unit"] == "nM"
    assert listed["CCO"]["compound_id"] == "KI-001" and listed["CCN"]["compound_id"] is None
    refused = client.post("/api/campaigns", json={"name": "x", "assay": {"direction": "up"}}, headers=AUTH)
    assert refused.status_code == 422

    proposed = PROPOSED[0][0]
    text = f"structure,readout\n{proposed},<3\nnope,2\n".encode()
    dry = client.post(
        "/api/campaigns/demo/results", files={"file": ("r.csv", text)}, data={"dry_run": "true"}, headers=AUTH
    )
    assert dry.json()["header"] == ["structure", "readout"] and not dry.json()["ok"]
    columns = {"smiles_column": "structure", "value_column": "readout"}
    dry = client.post(
        "/api/campaigns/demo/results",
        files={"file": ("r.csv", text)},
        data={"dry_run": "true", **columns},
        headers=AUTH,
    )
    assert dry.json()["good_rows"] == 1 and dry.json()["columns"]["smiles"] == "structure"
    stored = client.post(
        "/api/campaigns/demo/results",
        files={"file": ("r.csv", text)},
        data={**columns, "skip_bad_rows": "true"},
        headers=AUTH,
    )
    assert stored.status_code == 200, stored.text
    assert stored.json()["imported"] == 1 and stored.json()["skipped"][0]["row"] == 3
    # Two preference rows between molecules never proposed: no good row, not minus two.
    pairs = b"smiles_a,smiles_b,preferred\nCCCl,CCBr,a\nCCI,CCF,b\n"
    files = {"file": ("p.csv", pairs)}
    dry = client.post("/api/campaigns/demo/results", files=files, data={"dry_run": "true"}, headers=AUTH)
    assert dry.json()["kind"] == "preferences" and dry.json()["good_rows"] == 0, dry.text


def _sign_in(client: TestClient) -> None:
    response = client.post("/sign-in", data={"key": KEY, "next": "/"}, follow_redirects=False)
    assert response.status_code == 303


def _token(page: str, field: str = "token") -> str:
    return page.split(f'name="{field}" value="')[1].split('"')[0]


def test_web_create_asks_for_columns_and_stores_good_rows_on_request(client, tmp_path):
    _sign_in(client)
    factory = client.app.state.workspace.factory
    seed = ("seed.csv", "structure,readout\nCCO,5\nCCN,<4\nnope,3\n", "text/csv")
    form = {"name": "web", "assay_name": "pIC50 EGFR", "unit": "log units", "direction": "higher"}
    asked = client.post("/campaigns", data=form, files={"seed": seed})
    assert asked.status_code == 400 and 'id="smiles_column"' in asked.text
    assert '<option value="readout"' in asked.text and 'value="pIC50 EGFR"' in asked.text
    token = _token(asked.text, "seed_token")
    columns = {"seed_token": token, "smiles_column": "structure", "value_column": "readout"}
    bad = client.post("/campaigns", data={**form, **columns})
    assert bad.status_code == 400 and "row 4" in bad.text and 'name="skip_bad_rows"' in bad.text
    # Said once: a summary in words, then the bad row listed under it.
    assert "seed.csv: 1 bad row of 3, listed below; nothing was stored." in bad.text
    assert bad.text.count("is not a valid SMILES") == 1 and "row(s)" not in bad.text
    assert "the name, the assay and the seed file still apply" in " ".join(bad.text.split())  # beside TOML
    made = client.post(
        "/campaigns", data={**form, **columns, "skip_bad_rows": "true"}, follow_redirects=False
    )
    assert made.status_code == 303 and made.headers["location"] == "/campaigns/web"
    assert count(factory, Measurement, "web") == 1 and count(factory, CensoredMeasurement, "web") == 1
    page = client.get("/campaigns/web").text
    assert "pIC50 EGFR (log units)" in page and "higher is better" in page
    assert "&lt;4 log units" in client.get("/campaigns/web/molecules").text
    gone = client.post("/campaigns", data={**form, "name": "web2", "seed_token": token})
    assert gone.status_code == 400 and "no longer waiting" in gone.text  # the seed went with the campaign


def test_web_upload_leaves_out_bad_rows_on_request_and_offers_them_as_csv(client):
    _sign_in(client)
    factory = client.app.state.workspace.factory
    proposed = [s for s, _, _ in PROPOSED]
    text = f"ID,SMILES,pIC50\nA,{proposed[0]},6.5\nB,not-a-smiles,1\nC,{proposed[1]},<4\n"
    preview = client.post("/campaigns/demo/upload", files={"file": ("lab.csv", text, "text/csv")})
    assert preview.status_code == 422 and "SMILES from column <strong>SMILES</strong>" in preview.text
    assert "compound ids: ID" in preview.text and "Store the 2 good rows, leave out 1 bad" in preview.text
    assert '<td class="row-check">ok (censored: &lt;4)</td>' in preview.text  # stored as a bound, said so
    assert f'<td class="smiles">{proposed[0]}</td>' in preview.text  # SMILES in the monospace font
    token = _token(preview.text)
    download = client.get("/campaigns/demo/upload/bad-rows.csv", params={"token": token})
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert download.text.splitlines() == [
        "row,problem,ID,SMILES,pIC50",
        "3,smiles 'not-a-smiles' is not a valid SMILES,B,not-a-smiles,1",
    ]
    whole = client.post("/campaigns/demo/upload/confirm", data={"token": token})
    assert whole.status_code == 400 and "row 3" in whole.text  # without the opt-in: all or nothing
    assert count(factory, Measurement, "demo") == 0
    stored = client.post("/campaigns/demo/upload/confirm", data={"token": token, "skip_bad_rows": "true"})
    assert stored.status_code == 200 and "Stored 2 rows; left out 1 bad row." in stored.text
    assert "row 3: smiles" in stored.text and "bad-rows.csv?token=" in stored.text
    assert count(factory, Measurement, "demo") == 1 and count(factory, CensoredMeasurement, "demo") == 1


def lab_sd_file(proposed: list[str]) -> bytes:
    """An SD file as a registration system writes one: titles, data items, a 3D record with its
    stereo in the coordinates, and a record whose molecule block is broken."""
    from rdkit.Chem import AllChem

    from chemloop.chem.sdf import sd_text

    first = sd_text([("LAB-1", proposed[0], {"Batch": "B1", "pIC50 (log units)": "6.5"})])
    lactate = Chem.AddHs(Chem.MolFromSmiles("C[C@H](O)C(=O)O"))
    AllChem.EmbedMolecule(lactate, randomSeed=1)
    lactate.SetProp("_Name", "LAB-2")
    lactate.SetProp("pIC50 (log units)", "<4")
    three_d = Chem.MolToMolBlock(lactate) + ">  <pIC50 (log units)>\n<4\n\n$$$$\n"
    broken = "LAB-3\n\n\n  9  9  0  0  0  0  0  0  0  0999 V2000\nM  END\n>  <pIC50 (log units)>\n5\n\n$$$$\n"
    return (first + three_d + broken).encode()


def test_an_sd_file_of_results_reads_by_record_with_its_items_title_and_stereo(tmp_path):
    workspace = Workspace(f"sqlite:///{tmp_path / 'w.db'}", tmp_path / "runs")
    init_campaign(workspace.factory, "demo", _config(min_measurements=50))
    add_round(workspace.factory, "demo")
    data = lab_sd_file([s for s, _, _ in PROPOSED])
    table = campaigns.read_table(data, "lab.sdf")
    assert table.header == ["smiles", "Batch", "pIC50 (log units)", "name"]
    assert table.lines[1][0] == "C[C@H](O)C(=O)O" and table.lines[1][2:] == ["<4", "LAB-2"]
    with pytest.raises(FeedbackError, match=r"row 4: record 3: RDKit cannot read its molecule block"):
        campaigns.import_results(workspace, "demo", data, "lab.sdf", external=True)
    done = campaigns.import_results(workspace, "demo", data, "lab.SDF", external=True, skip_bad_rows=True)
    assert done["imported"] == 2 and [s["row"] for s in done["skipped"]] == [4]
    ids = {m["smiles"]: m["compound_id"] for m in molecules(workspace.factory, "demo") if m["compound_id"]}
    assert ids == {PROPOSED[0][0]: "LAB-1", "C[C@H](O)C(=O)O": "LAB-2"}
    bad = campaigns.bad_rows_csv(table, [(4, "broken")]).splitlines()
    assert bad[0] == "row,problem,smiles,Batch,pIC50 (log units),name" and bad[1].startswith("4,broken,")
    with pytest.raises(FeedbackError, match="holds no SD records"):
        campaigns.read_table(b"not an SD file", "lab.sdf")
    pentavalent = Chem.MolToMolBlock(Chem.MolFromSmiles("C(C)(C)(C)(C)C", sanitize=False))
    refused = campaigns.read_table(f"{pentavalent}>  <pIC50>\n5\n\n$$$$\n".encode(), "one.sd")
    assert list(refused.unreadable) == [2] and "record 1: RDKit cannot read" in refused.unreadable[2]
    assert "valence" in refused.unreadable[2]  # RDKit's own reason


def test_web_upload_previews_an_sd_file_as_its_table(client):
    _sign_in(client)
    data = lab_sd_file([s for s, _, _ in PROPOSED])
    sd_file = {"file": ("lab.sdf", data, "chemical/x-mdl-sdfile")}
    preview = client.post("/campaigns/demo/upload", files=sd_file, data={"external": "true"})
    assert preview.status_code == 422 and f'<td class="smiles">{PROPOSED[0][0]}</td>' in preview.text
    assert "record 3: RDKit cannot read its molecule block" in preview.text
    assert "compound ids: name" in preview.text and "Store the 2 good rows, leave out 1 bad" in preview.text
    token = _token(preview.text)
    download = client.get("/campaigns/demo/upload/bad-rows.csv", params={"token": token, "external": "true"})
    assert download.text.splitlines()[1].startswith("4,record 3: RDKit cannot read its molecule block,")


def test_the_bad_rows_of_a_file_that_cannot_be_read_are_a_header_alone(client):
    workspace = client.app.state.workspace
    latin1 = "SMILES,pIC50\nCCO,5\nCaf\xe9,6\n".encode("latin-1")  # not UTF-8: no rows to read
    found = campaigns.preview_results(workspace, "demo", latin1, "lab.csv")
    assert "is not UTF-8 text" in found["file_error"] and found["table"] is None
    assert campaigns.bad_rows_csv(found["table"], campaigns.bad_rows(found, False)) == "row,problem\n"


def test_pages_show_censored_results_as_written_with_the_unit(client):
    factory = client.app.state.workspace.factory
    rows = "SMILES,pIC50\nOc1ccccc1,6.8\nNc1ccccc1,>8\nClc1ccccc1,<5\nCCO,5.5\n"
    assay = Assay("pIC50 EGFR", "log units", "higher")
    init_campaign(
        factory, "series", _config(min_measurements=50), seed=read_results(table(rows)), assay=assay
    )
    aniline, chloro = canonical("Nc1ccccc1"), canonical("Clc1ccccc1")

    page = client.get("/campaigns/series/series").text
    benzene = page.split("<tbody>")[1].split("</tr>")[0]  # the most populous scaffold
    cells = [c.split("</td>")[0] for c in benzene.split("<td")[1:]]
    assert cells[1:4] == [' class="num">3', ' class="num">3', ' class="num result">&gt;8 log units']
    assert aniline in cells[4]  # the ">8" is the best, as on the dashboard
    rgroups = page.split('id="rgroups-title"')[1]
    chloro_row = rgroups.split(f'<td class="smiles small">{chloro}</td>')[1].split("</tr>")[0]
    assert '<td class="num result">&lt;5 log units</td>' in chloro_row  # not "–"

    review = client.get("/campaigns/series/review").text
    shown = re.findall(r"<dt>Measured</dt><dd>([^<]*)</dd>", review)
    assert len(shown) == 2 and all(text.endswith(" log units") for text in shown), shown
    predicted = {**molecules(factory, "series")[0], "predicted_mean": 6.1, "predicted_std": 0.4}
    assert dict(review_card("series", predicted)["facts"])["Predicted"] == "6.10 ± 0.40 log units"


def test_web_upload_lets_the_user_choose_the_columns(client):
    _sign_in(client)
    proposed = PROPOSED[0][0]
    preview = client.post(
        "/campaigns/demo/upload",
        files={"file": ("lab.csv", f"structure,readout\n{proposed},5\n", "text/csv")},
    )
    assert preview.status_code == 422 and 'aria-label="Choose the columns"' in preview.text
    token = _token(preview.text)
    chosen = {"token": token, "smiles_column": "structure", "value_column": "readout"}
    again = client.post("/campaigns/demo/upload", data=chosen)
    assert again.status_code == 200 and "Store 1 row<" in again.text
    assert 'name="value_column" value="readout"' in again.text  # the confirm carries the choice
    stored = client.post("/campaigns/demo/upload/confirm", data=chosen, follow_redirects=False)
    assert stored.status_code == 303


def test_no_error_of_the_flow_names_a_server_path_or_internals(client, tmp_path):
    _sign_in(client)
    folders = {str(tmp_path), str(tmp_path.resolve()), "runs/uploads", "Traceback", "Error:", "sqlalchemy"}
    pages = []
    for text in ["", "smile,val\nCCO,1\n", "SMILES,pIC50\nnope,x\n", "\xff\xfe", "smiles,value\n"]:
        pages.append(
            client.post(
                "/campaigns/demo/upload", files={"file": ("a b.csv", text.encode("latin-1"), "text/csv")}
            )
        )
        pages.append(
            client.post(
                "/campaigns",
                data={"name": "p"},
                files={"seed": ("a b.csv", text.encode("latin-1"), "text/csv")},
            )
        )
    pages.append(client.post("/campaigns/demo/upload", data={"token": "0" * 64}))
    pages.append(
        client.post("/campaigns/demo/upload/confirm", data={"token": "f" * 64, "skip_bad_rows": "true"})
    )
    pages.append(client.get("/campaigns/demo/upload/bad-rows.csv", params={"token": "a" * 64}))
    pages.append(client.post("/campaigns", data={"name": "p", "seed_token": "b" * 64}))
    named = {"smiles_column": "/etc/passwd", "value_column": "x"}
    pages.append(
        client.post("/campaigns/demo/upload", files={"file": ("a.csv", b"smiles,value\nCCO,1\n")}, data=named)
    )
    api = client.post("/api/campaigns/demo/results", files={"file": ("a.csv", b"x,y\n1,2\n")}, headers=AUTH)
    pages.append(api)
    assert all(p.status_code < 500 for p in pages)
    assert api.status_code == 422 and "a.csv: columns" in api.text
    for page in pages:
        assert not any(secret in page.text for secret in folders), page.text[:500]


# --- compound ids -------------------------------------------------------------------------------


def test_compound_ids_are_read_with_the_rows_and_too_long_ones_are_bad_rows():
    found = read_results(table("Compound ID,SMILES,pIC50\nEGFR-0042,CCO,6.5\n,CCN,<4\n\nX 7 ,CCC,5\n"))
    assert found.ids == ["EGFR-0042", None, "X 7"] and found.row_numbers == [2, 3, 5]
    assert read_results(table("SMILES,pIC50\nCCO,6\n")).ids == []  # no id column: no ids
    long_id = "A" * 101
    text = f"id,smiles,value\n{long_id},CCO,1\nB,nope,2\nC,CCN,3\n"
    with pytest.raises(FeedbackError) as bad:
        read_results(table(text))
    assert [row for row, _ in bad.value.problems] == [2, 3]  # the long id and the bad SMILES, at once
    assert "longer than 100 characters" in str(bad.value) and long_id not in str(bad.value)
    kept = read_results(table(text), skip_bad_rows=True)
    assert kept.ids == ["C"] and [row for row, _ in kept.skipped] == [2, 3]


def test_compound_ids_are_stored_and_shown_on_the_pages_the_api_and_the_exports(client):
    _sign_in(client)
    factory = client.app.state.workspace.factory
    first, second = PROPOSED[0][0], PROPOSED[2][0]
    text = f"Compound ID,SMILES,pIC50\nEGFR-0042,{first},6.5\nEGFR-0043,{second},<4\nEGFR-0042,{first},6.7\n"
    preview = client.post("/campaigns/demo/upload", files={"file": ("lab.csv", text, "text/csv")})
    stored = client.post(
        "/campaigns/demo/upload/confirm", data={"token": _token(preview.text)}, follow_redirects=False
    )
    assert stored.status_code == 303, stored.text
    assert count(factory, CompoundId, "demo") == 2  # each molecule's id once per file
    # A later file names the first molecule again under another id: both are kept, first stored first.
    campaigns.import_results(
        client.app.state.workspace, "demo", f"name,smiles,value\nALT-1,{first},6.6\n".encode(), "b.csv"
    )
    listed = {m["smiles"]: m for m in client.get("/api/campaigns/demo/molecules").json()}
    assert listed[first]["compound_id"] == "EGFR-0042; ALT-1"
    assert listed[canonical(second)]["compound_id"] == "EGFR-0043"
    assert listed[PROPOSED[1][0]]["compound_id"] is None  # proposed, never measured

    key = listed[canonical(second)]["key"]
    page = client.get(f"/campaigns/demo/molecules/{key}").text
    assert "<dt>Compound ID</dt><dd>EGFR-0043</dd>" in page
    grid = client.get("/campaigns/demo/molecules").text
    assert ">Compound ID" in grid and "EGFR-0042; ALT-1</td>" in grid
    cards = client.get("/campaigns/demo/molecules", params={"view": "cards"}).text
    assert "<dt>Compound ID</dt><dd>EGFR-0043</dd>" in cards

    rows = list(csv.DictReader(io.StringIO(client.get("/api/campaigns/demo/export").text)))
    header = list(rows[0])
    assert header[:3] == ["id", "compound_id", "smiles"]
    exported = {r["smiles"]: r for r in rows}
    assert exported[canonical(second)]["compound_id"] == "EGFR-0043"
    assert exported[canonical(second)]["id"] == key  # beside chemloop's own id, not instead of it
    assert exported[PROPOSED[1][0]]["compound_id"] == ""
    sdf = client.get("/api/campaigns/demo/export", params={"format": "sdf"}).content
    records = {m.GetProp("_Name"): m for m in Chem.ForwardSDMolSupplier(io.BytesIO(sdf)) if m is not None}
    assert records[key].GetProp("compound_id") == "EGFR-0043"  # the record keeps chemloop's id as name
    assert not records[listed[PROPOSED[1][0]]["key"]].HasProp("compound_id")  # blank: left out


def test_a_database_made_before_compound_ids_gains_their_table(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    factory = connect(url)
    init_campaign(factory, "old", _config(min_measurements=50))
    with factory() as session, session.begin():  # as a database made before the table existed
        session.execute(text_sql("DROP TABLE compound_id"))
    reopened = connect(url)
    assert read_results(table("id,smiles,value\nK-1,CCO,5\n")).ids == ["K-1"]
    workspace = Workspace(url, tmp_path / "runs")
    campaigns.import_results(workspace, "old", b"id,smiles,value\nK-1,CCO,5\n", "r.csv", external=True)
    assert [m["compound_id"] for m in molecules(reopened, "old")] == ["K-1"]
