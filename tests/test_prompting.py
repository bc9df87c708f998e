"""Prompts: parsing and every refusal, the containment check, prefix sampling, and decoration and
linking with a tiny model trained on random spellings; the faces refuse a bad prompt by name."""

import csv
import random

import pytest
import torch
from fastapi.testclient import TestClient
from rdkit import Chem
from sampling_checks import assert_cached_sampling_agrees
from typer.testing import CliRunner

from chemloop.chem.prompts import PromptError, PromptQuery, parse_prompt
from chemloop.chem.tokenizer import SmilesTokenizer, split_smiles
from chemloop.cli import app
from chemloop.model import GPT, GPTConfig, checkpoint, log_likelihood, prompting, sample_ids
from chemloop.model.generate import continue_smiles
from chemloop.model.prompting import (
    NOT_AFTER_PROMPT,
    check_writable,
    prepare_prompt,
    prompted_strings,
    sample_with_prompt,
)
from chemloop.serve.app import create_app
from chemloop.services.settings import ServeSettings
from chemloop.train.pretrain import PretrainConfig, pretrain

# Monosubstituted benzenes: a tiny model learns their random spellings in a couple of hundred steps.
BENZENES = [
    "Cc1ccccc1", "Oc1ccccc1", "Nc1ccccc1", "Clc1ccccc1", "CCc1ccccc1", "COc1ccccc1", "CC(=O)c1ccccc1",
    "OCc1ccccc1", "NCc1ccccc1", "Fc1ccccc1", "CCOc1ccccc1", "CNc1ccccc1", "CC(=O)Nc1ccccc1",
    "O=C(O)c1ccccc1", "CCCc1ccccc1", "CCNc1ccccc1",
]  # fmt: skip


# --- parsing ------------------------------------------------------------------------------------


def test_a_scaffold_is_read_with_its_points_written_plainly():
    prompt = parse_prompt("[*:1]c1ccc([1*])cc1", "decorate")
    assert prompt.kind == "decorate" and prompt.attachment_points == 2
    assert prompt.fragments == (Chem.MolToSmiles(Chem.MolFromSmiles("*c1ccc(*)cc1")),)
    assert parse_prompt("c1ccccc1*", "decorate").attachment_points == 1  # one point: growing


def test_a_link_prompt_is_two_fragments_with_one_point_each():
    prompt = parse_prompt("*c1ccc(F)cc1.*N1CCOCC1", "link")
    assert len(prompt.fragments) == 2 and prompt.attachment_points == 2
    assert prompt.smiles == ".".join(prompt.fragments)


@pytest.mark.parametrize(
    ("text", "kind", "says"),
    [
        ("c1ccccc1(", "decorate", "not a valid SMILES"),
        ("C1CC", "decorate", "not a valid SMILES"),
        ("c1ccccc1", "decorate", "no attachment point"),
        ("c1ccccc1 *", "decorate", "whitespace"),
        ("", "decorate", "empty"),
        ("C*C", "decorate", "bonded to 2 atoms"),
        ("C=*", "decorate", "not single"),
        ("[*-]C", "decorate", "charged attachment point"),
        ("*", "decorate", "bonded to 0 atoms"),
        ("**", "decorate", "bonded to each other"),
        ("*c1ccccc1.*C", "decorate", "2 fragments"),
        ("*C(*)(*)C(*)(*)C(*)(*)", "decorate", "at most 6"),
        ("*c1ccccc1", "link", "1 fragment"),
        ("*c1ccccc1.*C.*N", "link", "3 fragment"),
        ("*c1ccc(*)cc1.*C", "link", "2 attachment points"),
        ("c1ccccc1.*C", "link", "0 attachment points"),
        ("*c1ccccc1", "grow", "unknown prompt kind"),
    ],
)
def test_a_bad_prompt_is_refused_naming_the_problem(text, kind, says):
    with pytest.raises(PromptError, match=says):
        parse_prompt(text, kind)


def test_a_token_outside_the_vocabulary_is_named_before_sampling():
    tokenizer = SmilesTokenizer.from_corpus(["CCO", "c1ccccc1", "CC(=O)N"])
    check_writable(parse_prompt("*c1ccccc1", "decorate"), tokenizer, block_size=64)
    with pytest.raises(PromptError, match="token 'Br'"):
        check_writable(parse_prompt("*c1ccc(Br)cc1", "decorate"), tokenizer, block_size=64)
    with pytest.raises(PromptError, match="no room"):
        check_writable(parse_prompt("*CCCCCCCCCCCCCCCCCCCC", "decorate"), tokenizer, block_size=24)


# --- containment ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "kind", "smiles", "contains"),
    [
        ("*c1ccccc1", "decorate", "Cc1ccccc1", True),
        ("*c1ccccc1", "decorate", "c1ccccc1", False),  # a point is an atom, never a hydrogen
        ("*c1ccc(*)cc1", "decorate", "Cc1ccc(O)cc1", True),
        ("*c1ccc(*)cc1", "decorate", "Cc1cccc(O)c1", False),  # meta, not para
        ("*N[C@@H](C)C(=O)O", "decorate", "CN[C@H](C)C(=O)O", True),  # stereo is not compared
        ("*c1ccccc1.*N1CCOCC1", "link", "c1ccc(CN2CCOCC2)cc1", True),
        ("*c1ccccc1.*N1CCOCC1", "link", "c1ccc(N2CCOCC2)cc1", True),  # bonded directly
        ("*c1ccccc1.*N1CCOCC1", "link", "c1ccc(CC2CCOCC2)cc1", False),  # no morpholine N
        ("*c1ccccc1.*c1ccccc1", "link", "Cc1ccccc1", False),  # one ring cannot be both fragments
        ("*c1ccccc1.*c1ccccc1", "link", "c1ccc(-c2ccccc2)cc1", True),
    ],
)
def test_containment_matches_points_as_any_atom(prompt, kind, smiles, contains):
    assert PromptQuery(parse_prompt(prompt, kind))(Chem.MolFromSmiles(smiles)) is contains


# --- prefix sampling ------------------------------------------------------------------------------


@pytest.fixture()
def random_gpt():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=32)).eval()


def test_prefix_sampling_keeps_each_prompt_and_agrees_with_and_without_the_cache(random_gpt):
    tokenizer = SmilesTokenizer([f"t{i}" for i in range(17)])  # 3 specials + 17 = vocab_size 20
    prompts = [[5, 6, 7], [8], [9, 10, 11, 12, 13], [5, 6, 7]]
    banned = [14, 15]

    ids = assert_cached_sampling_agrees(
        random_gpt, tokenizer, len(prompts), seed=1, prompts=prompts, banned_after_prompt=banned
    )
    for row, prompt in zip(ids.tolist(), prompts, strict=True):
        assert row[1 : 1 + len(prompt)] == prompt
        assert row[1 + len(prompt)] not in (tokenizer.eos_id, *banned)  # a prompt gets a continuation
    with pytest.raises(ValueError, match="no room"):
        sample_ids(random_gpt, tokenizer, 1, prompts=[[5] * 15])


def test_prompts_of_different_lengths_are_rated_as_each_string_alone(random_gpt):
    """Left padding is invisible: each row's NLL is its own string's, from an unpadded forward."""
    tokenizer = SmilesTokenizer([f"t{i}" for i in range(17)])
    prompts = [[5], [6, 7, 8, 9, 10, 11, 12], [9, 10, 11], [13] * 12]
    ids, nll = sample_ids(
        random_gpt, tokenizer, len(prompts), generator=torch.Generator().manual_seed(2), prompts=prompts
    )
    for row, prompt, row_nll in zip(ids, prompts, nll, strict=True):
        assert row[1 : 1 + len(prompt)].tolist() == prompt
        length = int((row != tokenizer.pad_id).sum())  # <bos> to <eos>, forced at the context's end
        assert row[length - 1] == tokenizer.eos_id
        with torch.no_grad():
            logp = torch.log_softmax(random_gpt(row[: length - 1].unsqueeze(0))[0], dim=-1)
        expected = -logp.gather(1, row[1:length].unsqueeze(-1)).sum()
        torch.testing.assert_close(row_nll, expected, atol=1e-4, rtol=1e-4)


# --- decoration and linking with a tiny random-spelling model -------------------------------------


@pytest.fixture(scope="module")
def random_spelling_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prompting")
    (folder / "benzenes.smi").write_text("\n".join(BENZENES) + "\n")
    config = PretrainConfig(
        data=str(folder / "benzenes.smi"),
        out=folder / "run",
        max_steps=120,
        batch_size=32,
        lr=3e-3,
        warmup_steps=5,
        eval_interval=1000,
        val_size=2,
        holdout_fraction=0.01,
        randomize=True,  # a prompt starts mid-molecule: the model must know random spellings
        precision="fp32",
        n_layer=2,
        n_head=2,
        n_embd=32,
        block_size=64,
    )
    return pretrain(config)


@pytest.fixture(scope="module")
def random_spelling_lm(random_spelling_run):
    return checkpoint.load(random_spelling_run)


@pytest.mark.slow
def test_decorated_products_contain_the_scaffold_and_are_seeded(random_spelling_lm):
    lm = random_spelling_lm
    prompt = prepare_prompt(lm, "*c1ccccc1", "decorate")
    report = sample_with_prompt(lm, prompt, 64, seed=0, precision="fp32")
    valid = [m for m in report.molecules if m.valid]
    assert len(valid) >= 16, "the tiny model should write some molecules"
    assert all(m.contains_prompt for m in valid)
    assert all(m.prompt == prompt.smiles for m in report.molecules)
    for m in report.molecules:  # invalid strings are marked so, never counted as containing it
        if not m.valid:
            assert m.canonical == "" and m.contains_prompt is False
    assert report.contains_prompt == 1.0
    # The NLL is that of the whole string as the model wrote it.
    nll = -log_likelihood(lm.model, lm.tokenizer, [m.smiles for m in valid[:8]])
    torch.testing.assert_close(nll, torch.tensor([m.nll for m in valid[:8]]), atol=2e-3, rtol=1e-3)
    again = sample_with_prompt(lm, prompt, 64, seed=0, precision="fp32")
    assert [m.smiles for m in again.molecules] == [m.smiles for m in report.molecules]


@pytest.mark.slow
def test_no_point_is_decorated_with_a_hydrogen_or_a_second_bond(random_spelling_lm):
    # At a high temperature the first token is nearly uniform: every token the vocabulary has
    # (its drug-discovery tokens include [H]) is offered, and none the prompt forbids is taken.
    lm = random_spelling_lm
    assert "[H]" in lm.tokenizer.index
    written = continue_smiles(
        lm, ["c1ccccc1"] * 2000, torch.Generator().manual_seed(0), temperature=100.0,
        banned_first=NOT_AFTER_PROMPT,
    )  # fmt: skip
    firsts = {split_smiles(s)[len(split_smiles("c1ccccc1"))] for s, _ in written}
    assert (
        len(firsts) > 20 and not firsts & {"[H]", "=", "(", "1", "."} and not firsts & set(NOT_AFTER_PROMPT)
    )


@pytest.mark.slow
def test_unique_decoration_draws_repeats_again(random_spelling_lm):
    lm = random_spelling_lm
    prompt = prepare_prompt(lm, "*c1ccccc1", "decorate")
    every = sample_with_prompt(lm, prompt, 64, seed=0, precision="fp32", unique=False)
    assert every.repeats == 0 and every.uniqueness < 1.0, "the tiny model repeats its benzenes"
    distinct = sample_with_prompt(lm, prompt, 64, seed=0, precision="fp32", max_draws_per_molecule=4)
    canonical = [m.canonical for m in distinct.molecules if m.valid]
    assert len(canonical) == len(set(canonical)) and distinct.uniqueness == 1.0
    assert distinct.repeats > 0 and all(m.contains_prompt for m in distinct.molecules if m.valid)
    assert len(distinct.molecules) + distinct.repeats <= 4 * 64  # the draws stay bounded


def test_rows_continuing_one_spelling_get_distinct_molecules(random_spelling_lm):
    lm = random_spelling_lm
    prompt = prepare_prompt(lm, "*c1ccccc1", "decorate")

    def strings(distinct, count=64, batch_size=1024):
        generator, rng = torch.Generator().manual_seed(0), random.Random(0)
        with torch.no_grad():
            written = prompted_strings(
                lm, prompt, count, generator, rng, attempts=1, distinct=distinct, batch_size=batch_size
            )
        return [text for text, _ in written]

    def molecules(texts):
        return [Chem.MolToSmiles(mol) for t in texts if (mol := Chem.MolFromSmiles(t)) is not None]

    assert len(set(strings(distinct=False))) < 64, "the tiny model repeats itself"
    assert len(set(strings(distinct=True))) == 64  # one spelling, drawn without replacement
    for batch_size in (12, 4):  # one beam, or three that each exclude what the others drew
        distinct = molecules(strings(distinct=True, count=12, batch_size=batch_size))
        assert len(distinct) >= 2 and len(set(distinct)) == len(distinct)  # a tiny model: junk too


@pytest.mark.slow
def test_linked_products_contain_both_fragments(random_spelling_lm):
    lm = random_spelling_lm
    report = sample_with_prompt(
        lm, prepare_prompt(lm, "*c1ccccc1.*C(=O)O", "link"), 48, seed=1, precision="fp32"
    )
    valid = [m for m in report.molecules if m.valid]
    assert valid and all(m.contains_prompt for m in valid)
    assert all(Chem.MolFromSmiles(m.canonical).GetNumHeavyAtoms() >= 9 for m in valid)  # 6 + 3 + linker


# --- the faces ------------------------------------------------------------------------------------

runner = CliRunner()


def test_the_cli_refuses_a_bad_prompt_by_name(tmp_path):
    output = tmp_path / "out.csv"
    result = runner.invoke(app, ["sample", "--scaffold", "c1ccccc1", "--num", "5", "--output", str(output)])
    assert result.exit_code == 2 and "no attachment point" in result.output
    assert not output.exists()
    both = runner.invoke(app, ["sample", "--scaffold", "*C", "--link", "*C.*N", "--num", "5"])
    assert both.exit_code == 2 and "not both" in both.output
    link = runner.invoke(app, ["sample", "--link", "*c1ccccc1", "--num", "5"])
    assert link.exit_code == 2 and "1 fragment" in link.output


@pytest.mark.slow
def test_the_cli_writes_prompt_columns(tmp_path, random_spelling_run):
    output = tmp_path / "decorated.csv"
    options = ["--model", str(random_spelling_run), "--num", "20", "--output", str(output)]
    result = runner.invoke(app, ["sample", "--scaffold", "*c1ccccc1", *options])
    assert result.exit_code == 0, result.output
    assert "contain" in result.output
    rows = list(csv.DictReader(output.open()))
    assert len(rows) == 20 and set(rows[0]) == {
        "smiles",
        "valid",
        "canonical",
        "nll",
        "prompt",
        "contains_prompt",
    }
    assert all(r["contains_prompt"] == "1" for r in rows if r["valid"] == "1")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve-prompts")
    settings = ServeSettings(
        db_url=f"sqlite:///{folder / 'campaigns.db'}",
        api_key="k" * 20,
        runs_dir=folder / "runs",
        max_samples=50,
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize(
    ("prompt", "loc", "says"),
    [
        ({"scaffold": "c1ccccc1"}, ["body", "prompt", "scaffold"], "no attachment point"),
        ({"scaffold": "c1ccccc1("}, ["body", "prompt", "scaffold"], "not a valid SMILES"),
        ({"scaffold": "*[Sn]c1ccccc1"}, ["body", "prompt", "scaffold"], "vocabulary lacks"),
        ({"link": "*c1ccccc1"}, ["body", "prompt", "link"], "1 fragment"),
        ({"scaffold": "*C", "link": "*C.*N"}, ["body", "prompt"], "one of the two"),
        ({}, ["body", "prompt"], "one of the two"),
    ],
)
def test_the_http_api_refuses_a_bad_prompt_naming_the_field(client, prompt, loc, says):
    response = client.post("/api/sample", json={"num": 5, "prompt": prompt})
    assert response.status_code == 422, response.text
    problem = response.json()["detail"][0]
    assert problem["loc"] == loc and says in problem["msg"]


def test_the_http_api_samples_with_a_prompt(client):
    response = client.post("/api/sample", json={"num": 6, "seed": 2, "prompt": {"scaffold": "*c1ccccc1"}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["prompt"] == "*c1ccccc1" and len(body["molecules"]) == 6
    assert all(m["prompt"] == "*c1ccccc1" for m in body["molecules"])
    assert all(m["contains_prompt"] for m in body["molecules"] if m["valid"])
    plain = client.post("/api/sample", json={"num": 3}).json()
    assert plain["prompt"] is None and all(m["contains_prompt"] is None for m in plain["molecules"])


# --- RL under a prompt ----------------------------------------------------------------------------


def test_a_run_prompt_is_checked_when_the_config_is_read():
    from chemloop.errors import ChemloopError
    from chemloop.rl.run import parse_config

    score = {"components": [{"type": "qed"}]}
    ok = parse_config({"run": {"prompt": {"scaffold": "*c1ccccc1"}}, "score": score}, "test")
    assert ok.run.prompt.kind == "decorate" and ok.run.prompt.text == "*c1ccccc1"
    for prompt, says in [
        ({"scaffold": "c1ccccc1"}, "no attachment point"),
        ({"scaffold": "*C", "link": "*C.*N"}, "one of the two"),
        ({}, "one of the two"),
        ({"link": "*c1ccccc1"}, "1 fragment"),
        ({"grow": "*C"}, "grow"),
    ]:
        with pytest.raises(ChemloopError) as refused:
            parse_config({"run": {"prompt": prompt}, "score": score}, "test")
        assert "run.prompt" in str(refused.value) and says in str(refused.value), str(refused.value)


def test_a_run_prompt_the_model_cannot_write_is_refused_before_sampling(random_spelling_lm):
    from chemloop.rl.settings import AgentSettings, make_agent

    settings = AgentSettings.model_validate({"prompt": {"scaffold": "*c1ccc([Sn])cc1"}})
    with pytest.raises(PromptError, match=r"\[Sn\]"):
        make_agent(random_spelling_lm, settings, seed=0)


@pytest.mark.slow
def test_the_agent_under_a_prompt_scores_only_molecules_that_keep_it(random_spelling_lm):
    from chemloop.rl.settings import AgentSettings, make_agent

    settings = AgentSettings.model_validate(
        {"prompt": {"scaffold": "*c1ccccc1"}, "batch_size": 16, "ga_share": 0.25, "augment_rounds": 1}
    )
    agent = make_agent(random_spelling_lm, settings, seed=0)
    contains = PromptQuery(agent.prompt)
    before = {k: v.clone() for k, v in agent.policy.state_dict().items()}
    scored: list[str] = []

    def score(smiles):  # more oxygen is better; every molecule that reaches the oracle is recorded
        scored.extend(smiles)
        return [s.count("O") / 3 for s in smiles]

    reports = [agent.step(score) for _ in range(4)]
    valid = [mol for s in scored if (mol := Chem.MolFromSmiles(s)) is not None]
    assert len(valid) >= 20 and all(contains(mol) for mol in valid)
    assert any(r.offspring for r in reports), "the GA offspring join the batches"
    assert all(contains(Chem.MolFromSmiles(c)) for r in reports for c in r.offspring)
    assert all(torch.isfinite(torch.tensor(r.loss)) for r in reports)
    changed = any(not torch.equal(before[k], v) for k, v in agent.policy.state_dict().items())
    assert changed, "the agent learned from what it wrote"


@pytest.mark.slow
def test_optimize_under_a_prompt_logs_only_molecules_that_keep_it(tmp_path, random_spelling_run):
    config = f"""
[run]
model = "{random_spelling_run}"
budget = 30
batch_size = 16
prompt = {{ scaffold = "*c1ccccc1" }}

[[score.components]]
type = "qed"
"""
    (tmp_path / "run.toml").write_text(config)
    out = tmp_path / "out"
    result = runner.invoke(app, ["optimize", "--config", str(tmp_path / "run.toml"), "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "oracle_calls.csv").open()))
    contains = PromptQuery(parse_prompt("*c1ccccc1", "decorate"))
    assert rows and all(contains(Chem.MolFromSmiles(r["smiles"])) for r in rows)


@pytest.mark.parametrize(
    ("prompt", "says"),
    [
        ({"scaffold": "c1ccccc1"}, "no attachment point"),
        ({"scaffold": "*c1ccc([Sn])cc1"}, "[Sn]"),
        ({"scaffold": "*c1ccccc1", "link": "*C.*N"}, "one of the two"),
    ],
)
def test_the_http_api_refuses_a_run_prompt_before_queueing(client, prompt, says):
    body = {"score": {"components": ["qed"]}, "run": {"prompt": prompt, "budget": 10}}
    response = client.post("/api/jobs/optimize", json=body, headers={"X-API-Key": "k" * 20})
    assert response.status_code == 422, response.text
    assert says in response.text and "prompt" in response.text
    assert client.get("/api/jobs", headers={"X-API-Key": "k" * 20}).json() == []


@pytest.mark.slow
def test_a_campaign_with_a_core_to_keep_proposes_only_molecules_that_keep_it(tmp_path, random_spelling_run):
    from chemloop.loop.campaign import init_campaign, propose
    from chemloop.loop.config import CampaignConfig
    from chemloop.loop.store import connect

    factory = connect(f"sqlite:///{tmp_path / 'core.db'}")
    config = CampaignConfig.model_validate(
        {
            "campaign": {
                "model": str(random_spelling_run),
                "batch": 4,
                "rl_steps": 2,
                "rl_batch_size": 16,
                "candidates": 48,
                "max_similarity": None,
            },
            "run": {"prompt": {"scaffold": "*c1ccccc1"}},
            "score": {"components": [{"type": "qed"}]},
        }
    )
    init_campaign(factory, "core", config)
    proposed = propose(factory, "core")
    contains = PromptQuery(parse_prompt("*c1ccccc1", "decorate"))
    assert len(proposed.smiles) == 4 and all(contains(Chem.MolFromSmiles(s)) for s in proposed.smiles)


def test_the_http_api_creates_a_campaign_with_a_core_to_keep(client):
    key = {"X-API-Key": "k" * 20}
    for core, says in [("c1ccccc1", "no attachment point"), ("*c1ccc([Sn])cc1", "[Sn]")]:
        refused = client.post("/api/campaigns", json={"name": "no-core", "core": core}, headers=key)
        assert refused.status_code == 422, refused.text
        problem = refused.json()["detail"][0]
        assert problem["loc"] == ["body", "core"] and says in problem["msg"]
    assert client.get("/api/campaigns/no-core", headers=key).status_code == 404
    made = client.post("/api/campaigns", json={"name": "with-core", "core": "*c1ccccc1"}, headers=key)
    assert made.status_code in (200, 201), made.text
    assert client.get("/api/campaigns/with-core", headers=key).json()["core"] == "*c1ccccc1"


@pytest.mark.slow
def test_points_after_the_first_are_decorated_in_one_template_pass(random_spelling_lm, monkeypatch):
    lm = random_spelling_lm
    prompt = prepare_prompt(lm, "*c1cc(*)cc(*)c1", "decorate")
    filled = []
    real_fill = prompting.fill_templates
    monkeypatch.setattr(
        prompting,
        "fill_templates",
        lambda lm, templates, *a, **k: filled.extend(templates) or real_fill(lm, templates, *a, **k),
    )
    report = sample_with_prompt(lm, prompt, 32, seed=0, precision="fp32", unique=False)
    valid = [m for m in report.molecules if m.valid]
    assert filled and all(t.count("*") == 2 for t in filled), "two points left after the first, in one pass"
    assert len(valid) >= 8 and all(m.contains_prompt for m in valid)
    nll = -log_likelihood(lm.model, lm.tokenizer, [m.smiles for m in valid[:8]])
    torch.testing.assert_close(nll, torch.tensor([m.nll for m in valid[:8]]), atol=2e-3, rtol=1e-3)
