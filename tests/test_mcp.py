"""`chemloop mcp` through the MCP SDK's own client over stdio: every tool, its limits and its refusals."""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Awaitable, Callable

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from rdkit import Chem
from rdkit.Chem import QED
from typer.testing import CliRunner

from chemloop.chem.mol import parent_smiles
from chemloop.cli import app
from chemloop.loop.campaign import init_campaign
from chemloop.loop.config import load_campaign_config
from chemloop.loop.store import connect

SEED = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "c1ccc2ccccc2c1", "O=C(O)c1ccccc1O"]
TOOLS = {
    "list_components",
    "properties",
    "score",
    "sample",
    "optimize_start",
    "job_status",
    "job_list",
    "job_cancel",
    "campaign_status",
    "campaign_propose",
    "campaign_record_results",
    "judge",
    "add_note",
    "molecule_notes",
}


@pytest.fixture
def server(tmp_path) -> dict:
    """Arguments of a server on a fresh database holding campaign 'demo' (tiny settings, shipped prior:
    an untrained tiny model makes too few valid molecules for RL to finish in seconds)."""
    with (tmp_path / "seed.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["smiles", "value"])
        writer.writerows([s, round(10 * QED.qed(Chem.MolFromSmiles(s)), 3)] for s in SEED)
    (tmp_path / "campaign.toml").write_text(
        "[campaign]\nbatch = 3\ncandidates = 30\nrl_steps = 1\nrl_batch_size = 8\n"
        "seed_data = 'seed.csv'\n[reward]\nensemble = 2\nhidden = 16\nepochs = 10\ncv_folds = 0\n"
    )
    db = f"sqlite:///{tmp_path / 'campaigns.db'}"
    init_campaign(connect(db), "demo", load_campaign_config(tmp_path / "campaign.toml"))
    args = ["--db", db, "--runs-dir", str(tmp_path / "jobs"), "--model", "prior"]
    return {"args": args, "cwd": tmp_path}


def run_session(server: dict, body: Callable[[ClientSession], Awaitable[None]]) -> None:
    """Start `chemloop mcp` as a child process, as an assistant would, and run ``body`` against it."""

    async def main() -> None:
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "chemloop.cli", "mcp", *server["args"]],
            cwd=server["cwd"],
            # The server and its job processes share 2 cores: one torch thread each, not two spinning.
            env={"OMP_NUM_THREADS": "1"},
        )
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            await body(session)

    anyio.run(main)


async def call(session: ClientSession, tool: str, **arguments) -> dict:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text
    assert result.structured_content == json.loads(result.content[0].text)
    return result.structured_content


async def refused(session: ClientSession, tool: str, **arguments) -> str:
    result = await session.call_tool(tool, arguments)
    assert result.is_error
    return result.content[0].text


async def wait_done(session: ClientSession, job_id: str, timeout: float = 240) -> dict:
    """The job's status once it ends, or after ``timeout`` s (a propose job takes ~20 s on the idle
    2-core CPU and several times that beside other CPU-bound work)."""
    deadline = time.monotonic() + timeout
    while True:
        job = await call(session, "job_status", job_id=job_id, top=5)
        if job["status"] in ("done", "failed", "cancelled") or time.monotonic() > deadline:
            return job
        await anyio.sleep(0.5)


@pytest.mark.slow
def test_tools_answer_and_refuse_bad_input_by_name(server):
    async def body(session: ClientSession) -> None:
        listed = {t.name: t for t in (await session.list_tools()).tools}
        assert set(listed) >= TOOLS
        assert listed["properties"].input_schema["properties"]["smiles"]["maxItems"] == 1000

        names = {c["name"] for c in (await call(session, "list_components"))["components"]}
        assert {"qed", "mw"} <= names

        rows = (await call(session, "properties", smiles=["CC(=O)Nc1ccc(O)cc1", "C1CC"]))["molecules"]
        assert rows[0]["formula"] == "C8H9NO2" and 0 < rows[0]["qed"] < 1
        assert "C1CC" in rows[1]["error"]
        assert "smiles" in await refused(session, "properties", smiles=[])

        scored = await call(
            session,
            "score",
            smiles=["CCO", "C1CC"],
            components=["qed", {"type": "mw", "transform": {"type": "sigmoid", "low": 100, "high": 400}}],
        )
        good, bad = scored["molecules"]
        assert 0 < good["score"] < 1 and set(good["raw"]) == {"qed", "mw"}
        assert bad["score"] == 0 and bad["reason"]
        # A SMILES is one molecule: text after a space would otherwise be read as its name.
        assert "whitespace" in await refused(
            session, "score", smiles=["CC(=O)O c1ccccc1"], components=["qed"]
        )
        assert "no_such_component" in await refused(
            session, "score", smiles=["CCO"], components=["no_such_component"]
        )
        plugin = await refused(session, "score", smiles=["CCO"], components=["python"])
        assert "'python'" in plugin and "server-side" in plugin
        plugin_file = await refused(
            session, "score", smiles=["CCO"], components=[{"type": "python", "path": "x.py"}]
        )
        assert "components.0.path" in plugin_file and "x.py" in plugin_file
        path_param = await refused(
            session, "score", smiles=["CCO"], components=[{"type": "qed", "params": {"path": "/etc/passwd"}}]
        )
        assert "'path'" in path_param

        sampled = await call(session, "sample", num=8, seed=1)
        assert len(sampled["molecules"]) == 8 and 0 <= sampled["validity"] <= 1
        again = await call(session, "sample", num=8, seed=1)
        assert sampled["molecules"] == again["molecules"]  # same seed, same molecules
        assert sampled["model"] == "prior" and sampled["seconds"] > 0
        too_many = await refused(session, "sample", num=10_001)
        assert "num" in too_many and "10001" in too_many
        decorated = await call(session, "sample", num=4, scaffold="*c1ccccc1")
        assert decorated["prompt"] == "*c1ccccc1" and len(decorated["molecules"]) == 4
        assert all(m["contains_prompt"] for m in decorated["molecules"] if m["valid"])
        assert "no attachment point" in await refused(session, "sample", num=4, scaffold="c1ccccc1")
        assert "not both" in await refused(session, "sample", num=4, scaffold="*C", link="*C.*N")

        status = await call(session, "campaign_status", campaign="demo")
        assert status["seed_measurements"] == len(SEED) and status["rounds"] == []
        assert "'nowhere'" in await refused(session, "campaign_status", campaign="nowhere")
        assert "'nowhere'" in await refused(session, "campaign_propose", campaign="nowhere")
        assert "'abcdef123456'" in await refused(session, "job_status", job_id="abcdef123456")
        assert "job_id" in await refused(session, "job_status", job_id="../../etc")
        assert "campaign" in await refused(session, "campaign_status", campaign="../x")
        over = await refused(session, "optimize_start", components=["qed"], run={"budget": 10**9})
        assert "run.budget" in over and str(10**9) in over
        assert "run.model" in await refused(
            session, "optimize_start", components=["qed"], run={"model": "/x"}
        )
        assert "'python'" in await refused(session, "optimize_start", components=["python"])

    run_session(server, body)


@pytest.mark.slow
def test_judge_and_notes_tools(server):
    async def body(session: ClientSession) -> None:
        judged = await call(session, "judge", campaign="demo", pairs=5, fresh=0)
        assert judged["pairs"] == 5 and judged["stored"] + judged["ties"] == 5 and judged["judge"]
        assert "pairs" in await refused(session, "judge", campaign="demo", pairs=501)
        assert "'nowhere'" in await refused(session, "judge", campaign="nowhere", pairs=1)
        note = await call(session, "add_note", campaign="demo", smiles="OCC", text="ask for a <b>salt</b>")
        assert note["author"] == "assistant" and note["smiles"] == "CCO"
        listed = await call(session, "molecule_notes", campaign="demo", smiles="CCO")
        assert [n["text"] for n in listed["notes"]] == ["ask for a <b>salt</b>"]
        assert "no molecule" in await refused(session, "add_note", campaign="demo", smiles="CCCCCC", text="x")
        assert "text" in await refused(session, "add_note", campaign="demo", smiles="CCO", text="x" * 2001)

    run_session(server, body)


@pytest.mark.slow
def test_optimize_and_propose_jobs_run_to_their_results(server):
    async def body(session: ClientSession) -> None:
        run = {"budget": 10, "batch_size": 10, "max_steps": 3}
        optimize = await call(session, "optimize_start", components=["qed"], run=run)
        propose = await call(session, "campaign_propose", campaign="demo", batch=2)
        assert optimize["kind"] == "optimize" and propose["kind"] == "propose"
        waiting = await call(session, "optimize_start", components=["qed"])  # queued behind the others
        assert (await call(session, "job_cancel", job_id=waiting["id"]))["status"] == "cancelled"
        listed = {j["id"]: j["status"] for j in (await call(session, "job_list"))["jobs"]}
        assert {optimize["id"], propose["id"]} <= set(listed) and listed[waiting["id"]] == "cancelled"

        done = await wait_done(session, optimize["id"])
        assert done["status"] == "done", done["error"]
        assert done["progress"]["oracle_calls"] <= 10 and "top.csv" in done["files"]
        top = done["result"]
        assert 1 <= len(top) <= 5 and top[0]["rank"] == 1
        assert Chem.MolFromSmiles(top[0]["smiles"]) is not None and 0 < top[0]["score"] <= 1

        done = await wait_done(session, propose["id"])
        assert done["status"] == "done", done["error"]
        assert [row["rank"] for row in done["result"]] == [1, 2]
        assert all(row["round"] == 1 for row in done["result"])
        status = await call(session, "campaign_status", campaign="demo")
        assert [r["proposed"] for r in status["rounds"]] == [2]

        first, second = (row["smiles"] for row in done["result"])
        measured = [
            {"smiles": first, "value": 6.5, "compound_id": "LAB-1"},
            {"smiles": f"{parent_smiles(second)}.Cl", "value": 4.0, "qualifier": "<"},  # its HCl salt
        ]
        outsider = {"smiles": "CC(=O)Oc1ccccc1C(=O)O", "value": 5.0}
        message = await refused(
            session, "campaign_record_results", campaign="demo", results=[*measured, outsider]
        )
        assert "results[2] (CC(=O)Oc1ccccc1C(=O)O): never proposed by this campaign" in message
        assert (await call(session, "campaign_status", campaign="demo"))["molecules_tested"] == len(SEED)
        stored = await call(session, "campaign_record_results", campaign="demo", results=measured)
        assert stored["imported"] == 2 and stored["fit_job"]["kind"] == "import"
        assert (await wait_done(session, stored["fit_job"]["id"]))["status"] == "done"
        assert (await call(session, "campaign_status", campaign="demo"))["molecules_tested"] == len(SEED) + 2
        # The same value told again is stored already: left out, named by its index.
        again = await call(session, "campaign_record_results", campaign="demo", results=measured[:1])
        assert again["imported"] == 0 and again["fit_job"] is None
        assert again["left_out"] == [{"index": 0, "message": "already stored from results"}]

    run_session(server, body)


def test_a_wrong_model_stops_the_server_at_start_with_the_error_on_stderr(tmp_path):
    found = CliRunner().invoke(
        app, ["mcp", "--model", str(tmp_path / "missing"), "--runs-dir", str(tmp_path)]
    )
    assert found.exit_code == 2 and found.stdout == ""  # stdout is the protocol stream
    assert str(tmp_path / "missing") in found.stderr
