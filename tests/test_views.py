"""How a chemist reads a campaign: CSV and SDF exports (grid, round, selection, API, CLI), drawings,
property-range filters, the card view, the scaffold and R-group tables, plots with axes, the parity
plot, the reward model's quality in words, and the report of an optimize run."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient
from rdkit import Chem
from rdkit.Chem import rdCoordGen, rdDepictor
from typer.testing import CliRunner
from web_support import SEED, TINY_REWARD, add_round, seed_csv, settings_for

from chemloop.chem.depict import bond_crossings, closest_contact, layout
from chemloop.chem.mol import canonical, molecule_key
from chemloop.chem.sar import rgroup_table, scaffold_groups
from chemloop.cli import app as cli_app
from chemloop.loop.campaign import init_campaign
from chemloop.loop.config import CampaignConfig
from chemloop.loop.store import Measurement, Proposal, Round, get_campaign, session_scope
from chemloop.rl.report import write_report
from chemloop.serve.app import create_app
from chemloop.serve.web.plot import best_so_far, parity, readable
from chemloop.services.analysis import quality_in_words

MUSTARD = "ClCCSCCCl"  # sulfur mustard: the dual-use guard withholds it from every output


@pytest.fixture
def server(tmp_path):
    """(client, factory, db URL) with campaign ``demo``: 4 seed values, round 1 of 5 proposals of which
    two are measured, and a withheld molecule slipped into the round behind the store's back."""
    settings = settings_for(tmp_path, "views.db")
    app = create_app(settings)
    factory = app.state.workspace.factory
    seed = seed_csv(tmp_path / "s.csv", SEED)
    config = CampaignConfig.model_validate({"campaign": {"seed_data": str(seed)}, "reward": TINY_REWARD})
    init_campaign(factory, "demo", config)
    add_round(factory, "demo")
    with session_scope(factory) as session:
        campaign = get_campaign(session, "demo")
        round_ = session.query(Round).filter_by(campaign_id=campaign.id, number=1).one()
        session.add(
            Proposal(round_id=round_.id, rank=6, smiles=MUSTARD, predicted_mean=1.0, predicted_std=0.1)
        )
        for smiles, value in (("c1ccc2ccccc2c1", 3.1), ("C=CC(=O)Nc1ccccc1", 2.2)):
            session.add(
                Measurement(campaign_id=campaign.id, smiles=canonical(smiles), value=value, round_number=1)
            )
    return TestClient(app), factory, settings.db_url


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# --- export ---------------------------------------------------------------------------------------


def test_sdf_export_reads_back_with_its_properties(server):
    client, _, _ = server
    response = client.get("/api/campaigns/demo/export", params={"format": "sdf"})
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "chemical/x-mdl-sdfile"
    )
    assert 'filename="demo.sdf"' in response.headers["content-disposition"]
    mols = [m for m in Chem.ForwardSDMolSupplier(io.BytesIO(response.content)) if m is not None]
    assert len(mols) == 9  # 4 seed + 5 proposed; the withheld molecule is not among them
    by_smiles = {Chem.MolToSmiles(m): m for m in mols}
    assert canonical(MUSTARD) not in by_smiles and MUSTARD not in response.text
    naphthalene = by_smiles[canonical("c1ccc2ccccc2c1")]
    assert naphthalene.GetProp("_Name") == molecule_key(canonical("c1ccc2ccccc2c1"))
    assert naphthalene.GetProp("round") == "1" and float(naphthalene.GetProp("measured")) == 3.1
    assert (
        float(naphthalene.GetProp("predicted")) == 3.5 and float(naphthalene.GetProp("predicted_std")) == 0.3
    )
    assert float(naphthalene.GetProp("mw_da")) == pytest.approx(128.17, abs=0.01)
    assert naphthalene.GetProp("assay") == "value"
    assert naphthalene.GetNumConformers() == 1  # drawn in 2D, ready for a notebook
    quinone = by_smiles[canonical("O=C1C=CC(=O)C=C1")]
    assert "PAINS" in quinone.GetProp("alerts") and not quinone.HasProp("measured")  # blank: left out


def test_csv_export_of_a_round_of_the_grid_and_of_a_selection(server):
    client, _, _ = server
    round1 = _csv(client.get("/api/campaigns/demo/export", params={"format": "csv", "round": 1}).text)
    assert [r["rank"] for r in round1] == ["1", "2", "3", "4", "5"]
    assert {"id", "smiles", "unit", "measured", "predicted", "mw_da", "tpsa_a2", "out_of_domain"} <= set(
        round1[0]
    )
    measured = {r["smiles"]: r["measured"] for r in round1 if r["measured"]}
    assert measured == {"c1ccc2ccccc2c1": "3.1", "C=CC(=O)Nc1ccccc1": "2.2"}
    assert [r["acquisition_score"] for r in round1][3] == "1.8"  # 1.2 + 0.6 without float noise
    # The grid's download respects its filters ...
    grid = client.get("/campaigns/demo/export", params={"format": "csv", "alerts": "yes", "mw_max": "150"})
    assert grid.status_code == 200 and "attachment" in grid.headers["content-disposition"]
    assert {r["smiles"] for r in _csv(grid.text)} == {"O=C1C=CC(=O)C=C1", "CCCCCCCC", "C=CC(=O)Nc1ccccc1"}
    # ... and the ticked molecules' download holds those only.
    keys = [molecule_key("CCO"), molecule_key(canonical("Oc1ccccc1"))]
    ticked = client.get("/campaigns/demo/export", params={"format": "sdf", "key": keys})
    assert ticked.text.count("$$$$") == 2 and "CCO" in ticked.text
    assert client.get("/api/campaigns/demo/export", params={"round": 7}).status_code == 400
    assert client.get("/api/campaigns/nope/export").status_code == 404
    bad = client.get("/campaigns/demo/export", params={"format": "xls"})
    assert bad.status_code == 400 and "xls" in bad.text and "Traceback" not in bad.text


def test_an_exported_row_names_the_parent_compound_to_make():
    """A proposal written as the prior writes it (pH 7) is exported with its neutral parent too."""
    from chemloop.loop.assay import Assay
    from chemloop.services.export import export_row
    from chemloop.services.molecules import properties

    row = export_row(
        {"key": "k", "smiles": "C[NH+]1CCN(c2ccccc2)CC1.[Cl-]", "round": 1}, Assay("pIC50", "", "higher")
    )
    assert row["smiles"] == "C[NH+]1CCN(c2ccccc2)CC1.[Cl-]" and row["parent_smiles"] == "CN1CCN(c2ccccc2)CC1"
    parent = properties("CN1CCN(c2ccccc2)CC1")  # the compound's properties, not the salt's
    assert (row["mw_da"], row["clogp"], row["hbd"]) == (parent["mw"], parent["clogp"], parent["hbd"])
    assert row["hbd"] == 0 and properties("C[NH+]1CCN(c2ccccc2)CC1.[Cl-]")["hbd"] == 1


def test_cli_export_writes_the_file(server, tmp_path):
    _, _, db_url = server
    out = tmp_path / "round1.sdf"
    args = [
        "campaign",
        "export",
        "demo",
        "--format",
        "sdf",
        "--round",
        "1",
        "--output",
        str(out),
        "--db",
        db_url,
    ]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "wrote 5 molecules" in said and "1 withheld" in said
    assert len([m for m in Chem.SDMolSupplier(str(out)) if m is not None]) == 5
    bad = CliRunner().invoke(cli_app, [*args[:4], "--format", "pdf", "--output", str(out), "--db", db_url])
    assert bad.exit_code != 0 and "pdf" in bad.output


# --- drawings, filters, cards ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "smiles", ["CC1(C)C2CCC1(C)C(=O)C2", "CN1C2CCC1CC(OC(=O)c1ccccc1)C2", "C1CN2CCC1CC2", "O=C1N2CCC1CC2"]
)
def test_bridged_bicycles_are_drawn_without_crossing_bonds(smiles):
    mol = Chem.MolFromSmiles(smiles)
    drawn = layout(mol)
    assert bond_crossings(drawn) == 0 and closest_contact(drawn) >= 0.2
    own = Chem.Mol(mol)
    rdDepictor.Compute2DCoords(own)
    coordgen = Chem.Mol(mol)
    rdCoordGen.AddCoords(coordgen)
    assert closest_contact(drawn) >= min(closest_contact(coordgen), closest_contact(own))


def test_camphor_is_not_drawn_as_coordgen_or_rdkit_alone_draw_it():
    camphor = Chem.MolFromSmiles("CC1(C)C2CCC1(C)C(=O)C2")
    coordgen, own = Chem.Mol(camphor), Chem.Mol(camphor)
    rdCoordGen.AddCoords(coordgen)
    rdDepictor.Compute2DCoords(own)
    assert closest_contact(coordgen) < 0.2 and bond_crossings(own) > 0  # a methyl on a ring atom; crossings
    drawn = layout(camphor)
    assert bond_crossings(drawn) == 0 and closest_contact(drawn) > closest_contact(coordgen)
    plain = Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1")  # a molecule CoordGen draws cleanly keeps its layout
    assert layout(plain).GetConformer().GetPositions().tolist() == _coordgen(plain)


def _coordgen(mol: Chem.Mol) -> list:
    copy = Chem.Mol(mol)
    rdCoordGen.AddCoords(copy)
    return copy.GetConformer().GetPositions().tolist()


def test_grid_range_filters_card_view_and_copy_buttons(server):
    client, _, _ = server
    light = client.get("/campaigns/demo/molecules", params={"mw_max": "100"}).text
    assert "3 of 9 molecules" in light  # ethanol, alanine, phenol; the withheld one is not even counted
    assert "C[C@H](N)C(=O)O" in light and "Oc1ccccc1" in light and "c1ccc2ccccc2c1" not in light
    good = client.get("/campaigns/demo/molecules", params={"value_min": "2.5"}).text
    assert "N#Cc1ccccc1" in good and "c1ccc2ccccc2c1" in good and "Oc1ccccc1" not in good
    predicted = client.get("/campaigns/demo/molecules", params={"predicted_mean_min": "2", "tpsa_max": "1"})
    assert "CCCCCCCC" in predicted.text and "O=C1C=CC(=O)C=C1" not in predicted.text
    bad = client.get("/campaigns/demo/molecules", params={"clogp_min": "abc"})
    assert bad.status_code == 200 and "cLogP minimum &#39;abc&#39; is not a number" in bad.text
    cards = client.get("/campaigns/demo/molecules", params={"view": "cards"}).text
    assert cards.count('class="card mol-card"') >= 9 and 'data-copy="N#Cc1ccccc1"' in cards
    assert "w=280" in cards and '<script src="/static/grid.js" defer></script>' in cards
    table = client.get("/campaigns/demo/molecules").text
    assert "w=260" in table and 'name="key"' in table
    # Wider than the page with every column: it scrolls sideways inside its own box.
    assert table.index('<div class="table-scroll"') < table.index('<table class="grid">')
    assert client.get("/static/grid.js").status_code == 200


# --- scaffolds and R groups ---------------------------------------------------------------------------


def test_scaffold_groups_and_rgroup_decomposition():
    series = [
        ("Cc1ccc(NC(=O)C2CC2)cc1", 5.0),
        ("Clc1ccc(NC(=O)C2CC2)cc1F", 6.5),
        ("O=C(Nc1ccccc1)C1CC1", None),
        ("c1ccncc1", 4.0),
        ("CCO", 1.0),
    ]
    groups = scaffold_groups(series)
    assert groups[0].scaffold == "O=C(Nc1ccccc1)C1CC1" and (groups[0].count, groups[0].measured) == (3, 2)
    assert groups[0].best_value == 6.5 and groups[0].best_smiles == "Clc1ccc(NC(=O)C2CC2)cc1F"
    assert scaffold_groups(series, higher_is_better=False)[0].best_value == 5.0
    table = rgroup_table(groups[0].scaffold, series)
    assert table.unmatched == 2 and len(table.rows) == 3 and table.labels == ["R1", "R2"]
    chloro = next(r for r in table.rows if r.value == 6.5)
    assert sorted(chloro.groups.values()) == ["Cl*", "F*"]
    bare = next(r for r in table.rows if r.value is None)
    assert set(bare.groups.values()) == {"H"}


def test_a_compound_and_its_charge_states_share_one_scaffold_group():
    """The prior writes pH-7 forms and a seed file neutral amines: one series, whose R-group table
    around the neutral scaffold holds both."""
    series = [
        ("CC1CCN(Cc2ccccc2)CC1", 5.0),
        ("CC1CC[NH+](Cc2ccccc2)CC1", 6.0),
        ("OC1CC[NH+](Cc2ccccc2)CC1.[Cl-]", None),
    ]
    [group] = scaffold_groups(series)
    assert (group.scaffold, group.count, group.measured) == ("c1ccc(CN2CCCCC2)cc1", 3, 2)
    table = rgroup_table(group.scaffold, series)
    assert table.unmatched == 0 and sorted(r.groups["R1"] for r in table.rows) == ["C*", "C*", "O*"]


def test_a_censored_result_counts_as_tested_in_the_scaffold_groups():
    series = [("Cc1ccccc1", None), ("Clc1ccccc1", 6.0), ("Oc1ccccc1", None)]
    [group] = scaffold_groups(series, tested={"Cc1ccccc1"})  # toluene came back "<5"
    assert (group.count, group.measured, group.best_value) == (3, 2, 6.0)
    assert scaffold_groups(series)[0].measured == 1  # without it, only the exact value counts


def test_series_page(server):
    client, _, _ = server
    page = client.get("/campaigns/demo/series")
    assert page.status_code == 200 and "c1ccccc1" in page.text and "R groups" in page.text
    assert ClCCSCCCl_absent(page.text)
    around = client.get("/campaigns/demo/series", params={"core": "c1ccccc1"}).text
    assert "R1" in around and "contain it" in around
    bad = client.get("/campaigns/demo/series", params={"core": "(("})
    assert bad.status_code == 200 and "neither SMILES nor SMARTS" in bad.text
    assert client.get("/campaigns/nope/series").status_code == 404


def ClCCSCCCl_absent(text: str) -> bool:  # noqa: N802 - named after what it checks
    return MUSTARD not in text and canonical(MUSTARD) not in text


# --- plots and the reward model in words ---------------------------------------------------------------


def test_best_so_far_stops_at_the_last_measured_round():
    plot = best_so_far({0: 3.0, 1: 4.0, 2: None}, [(0, 3.0), (1, 4.0)], "measured pIC50 (log units)")
    assert [tip for _, _, tip in plot.best] == ["round 0: best so far 3", "round 1: best so far 4"]
    last_x = plot.best[-1][0]
    assert (
        f"H{last_x}" in plot.line and max(x for x, _ in plot.x_ticks) > last_x
    )  # round 2 has a tick, no line
    assert plot.note == "Round 2: not measured yet." and plot.y_label == "measured pIC50 (log units)"
    assert plot.x_label == "round (0 = seed data)"
    lower = best_so_far({0: 30.0, 1: 12.0}, [(0, 30.0), (1, 12.0)], higher_is_better=False)
    assert lower.best[1][1] > lower.best[0][1]  # IC50 in nM: 12 beats 30, drawn lower on the axis


def test_plot_axes_are_labelled_with_round_numbers():
    values = [4.6, 5.1, 5.4, 6.1, 6.8]  # pIC50s: padded, the axis runs from about 4.49 to 6.91
    plot = best_so_far({0: 6.8}, [(0, v) for v in values], "measured pIC50 (log units)")
    assert [label for _, label in plot.y_ticks] == ["4.5", "5", "5.5", "6", "6.5"]
    nanomolar = parity([(1, 120.0, 95.0, "A"), (1, 480.0, 610.0, "B")], unit="nM")[0].plot
    assert [label for _, label in nanomolar.x_ticks] == ["200", "400", "600"]


def test_tick_labels_of_large_and_small_values_are_written_out():
    assay = best_so_far({0: 2_000_000.0}, [(0, 100_000.0), (0, 2_000_000.0)], "IC50 (pM)", False)
    labels = [label for _, label in assay.y_ticks]
    assert "1,000,000" in labels and all("e+" not in label for label in labels)
    assert "round 0: 100,000" in [tip for _, _, tip in assay.measured]
    [small] = parity([(1, 0.000012, 0.000031, "CCO"), (1, 0.00002, 0.000025, "CCN")])  # molar
    assert [label for _, label in small.plot.x_ticks] == ["0.000015", "0.00002", "0.000025", "0.00003"]
    assert readable(0.000025) == "0.000025" and readable(12_500.0) == "12,500" and readable(0.0) == "0"


def test_parity_plots_one_per_round_with_a_shared_range():
    points = [(1, 2.0, 2.5, "A"), (1, 3.0, 3.5, "B"), (1, 4.0, 3.9, "C"), (2, 5.0, 1.0, "D")]
    plots = parity(points, unit="log units")
    assert [p.round for p in plots] == [1, 2] and [p.molecules for p in plots] == [3, 1]
    assert plots[0].spearman == pytest.approx(1.0) and plots[1].spearman is None
    assert plots[0].plot.x_ticks == plots[1].plot.x_ticks  # one range for every round
    assert plots[0].plot.x_label == "predicted when proposed (log units)" and plots[0].plot.diagonal
    assert parity([]) == []


def test_dashboard_has_axes_and_a_parity_plot(server):
    client, _, _ = server
    page = client.get("/campaigns/demo").text
    assert "round (0 = seed data)" in page and "measured value" in page and 'class="axis-title"' in page
    assert "Predicted against measured" in page and "predicted when proposed" in page
    assert 'class="diagonal"' in page
    assert "Not fitted yet" in page  # 4 seed values: no reward model


def test_model_quality_in_words():
    weak = {"measurements": 40, "folds": 5, "primary": "spearman", "spearman": {"mean": 0.32, "std": 0.337}}
    text = quality_in_words(weak)
    assert text.startswith("Ranks new molecules weakly: Spearman 0.32 ± 0.34 over 5 folds")
    assert "rough guide" in text and "folds disagree" in text
    good = {**weak, "spearman": {"mean": 0.71, "std": 0.05}, "rmse": {"mean": 0.62, "std": 0.1}}
    assert quality_in_words(good, "log units").startswith("Ranks new molecules well")
    assert "off by about 0.62 log units" in quality_in_words(good, "log units")
    pairs = {
        "measurements": 30,
        "folds": 3,
        "primary": "pairwise_accuracy",
        "pairwise_accuracy": {"mean": 0.5, "std": 0.02},
    }
    assert "no better than chance" in quality_in_words(pairs)
    assert "too few to cross-validate" in quality_in_words({"measurements": 6, "folds": 0})
    assert quality_in_words(None).startswith("Not fitted yet")


# --- the report of an optimize run -------------------------------------------------------------------------


def test_optimize_report_has_axes_components_and_a_config_table(tmp_path):
    config = {
        "run": {"budget": 4, "batch_size": 2, "seed": 0},
        "score": {
            "aggregate": "geometric",
            "components": [
                {
                    "type": "qed",
                    "name": None,
                    "weight": 1.0,
                    "params": {},
                    "transform": None,
                    "filter": False,
                },
                {
                    "type": "mw",
                    "name": "weight_window",
                    "weight": 0.5,
                    "params": {},
                    "transform": {"type": "double_sigmoid", "low": 200, "high": 500},
                    "filter": False,
                },
            ],
        },
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "summary.json").write_text(json.dumps({"steps": 2, "best": 0.81, "stopped_by": "budget"}))
    rows = [
        ("CCO", 0.2, 0.41, 46.07, 0.41, 0.1),
        ("c1ccccc1O", 0.5, 0.47, 94.1, 0.47, 0.5),
        ("CC(=O)Nc1ccc(O)cc1", 0.81, 0.6, 151.2, 0.6, 0.9),
        (MUSTARD, 0.0, 0.3, 159.1, 0.3, 0.0),
    ]
    lines = ["call,smiles,score,qed_raw,weight_window_raw,qed,weight_window,source"]
    lines += [f"{i},{s},{sc},{qr},{wr},{qt},{wt},agent" for i, (s, sc, qr, wr, qt, wt) in enumerate(rows, 1)]
    (tmp_path / "oracle_calls.csv").write_text("\n".join(lines) + "\n")
    report = write_report(tmp_path).read_text()
    assert "oracle calls</text>" in report and "score (0–1)</text>" in report  # axis titles
    assert "weight_window" in report and "weight 0.5" in report and "raw 151.200" in report  # components
    assert "double_sigmoid" in report and "Mean of the top 10" not in report  # config table; no missing keys
    assert (
        "<h2>Configuration</h2>" in report and "Stopped by" in report and "{'" not in report
    )  # no dict dump
    assert report.count("CC(=O)Nc1ccc(O)cc1") == 1  # one table: the SMILES is not repeated in a second one
    assert report.count("<svg") == 1 + 3  # the curve and one drawing per shown molecule
    assert MUSTARD not in report
