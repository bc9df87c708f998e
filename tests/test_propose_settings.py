"""How a campaign's settings reach ``propose``'s RL fine-tuning and generation, with the agent,
the prior and sampling replaced by recorders (no model is trained or sampled)."""

from __future__ import annotations

import csv
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest

from chemloop.chem.mol import canonical, parent_smiles
from chemloop.chem.series import murcko_scaffold
from chemloop.constitution.principles import load_constitution
from chemloop.errors import ChemloopError
from chemloop.loop import campaign as campaign_module
from chemloop.loop import reward_store
from chemloop.loop.campaign import init_campaign, propose
from chemloop.loop.config import CampaignConfig
from chemloop.loop.domain import MeasuredSet
from chemloop.loop.store import connect
from chemloop.rl.memory import ReplayMemory
from chemloop.rl.settings import AgentSettings
from chemloop.score.scorer import Scorer
from chemloop.score.transforms import sigmoid

POOL = [
    "CCO",
    "CCN",
    "CCCl",
    "c1ccccc1",
    "Cc1ccccc1",
    "CC(=O)O",
    "c1ccncc1",
    "CCOC(C)=O",
    "OC1CCCCC1",
    "NC(=O)c1ccccc1",
]


class Recorder:
    """Stands in for the prior, the agent and sampling; records how ``propose`` used them."""

    def __init__(self) -> None:
        self.loaded: list[str] = []
        self.agents: list[dict] = []
        self.instances: list = []
        self.steps: list = []
        self.memories: list[dict] = []  # the agent's replay memory at each step
        self.samples: list[dict] = []
        self.prior = SimpleNamespace(
            tokenizer="tokenizer", model="prior weights", writes_random_spellings=False
        )
        self.fits: list[dict] = []

    def load(self, name):
        self.loaded.append(name)
        return self.prior

    def agent(self, prior, settings, seed):
        recorder = self
        self.agents.append({"prior": prior, "settings": settings, "seed": seed})

        class FakeAgent:
            def __init__(self) -> None:
                self.prompt = None
                self.memory = ReplayMemory(randomize=False)
                self.policy = SimpleNamespace(training=True)
                self.policy.eval = lambda: setattr(self.policy, "training", False)

            def step(self, score):
                assert self.policy.training, "the agent steps in training mode"
                recorder.steps.append(score)
                recorder.memories.append(dict(self.memory._best))

        agent = FakeAgent()
        self.instances.append(agent)
        return agent

    def fit(self, lm, smiles, **kwargs):
        self.fits.append({"lm": lm, "smiles": list(smiles), **kwargs})
        return lm

    def sample(self, lm, n, seed, precision="auto"):
        self.samples.append({"lm": lm, "n": n, "seed": seed, "precision": precision})
        return SimpleNamespace(
            molecules=[SimpleNamespace(valid=True, canonical=c, contains_prompt=None) for c in POOL]
        )


@pytest.fixture
def recorder(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(campaign_module.checkpoint, "load", recorder.load)
    monkeypatch.setattr(campaign_module, "make_agent", recorder.agent)
    monkeypatch.setattr(campaign_module, "LanguageModel", lambda model, tokenizer: (model, tokenizer))
    monkeypatch.setattr(campaign_module, "sample", recorder.sample)
    monkeypatch.setattr(campaign_module, "fit", recorder.fit)
    return recorder


def new_campaign(tmp_path, **settings):
    factory = connect(f"sqlite:///{tmp_path / 'propose.db'}")
    config = CampaignConfig.model_validate(settings)
    init_campaign(factory, "c", config)
    return factory, config


SETTINGS = {
    "campaign": {
        "batch": 3,
        "rl_steps": 4,
        "rl_batch_size": 16,
        "candidates": 40,
        "seed": 5,
        "model": "my-prior",
        "max_similarity": None,
    },
    "score": {"components": [{"type": "qed"}]},
}


def test_rl_settings_reach_the_agent_and_generation(tmp_path, recorder):
    factory, config = new_campaign(tmp_path, **SETTINGS)
    first = propose(factory, "c")
    assert recorder.loaded == ["my-prior"]
    # One agent per round, from the loaded prior, with the rl batch size and the round's seed;
    # every other RL setting is [run]'s default (the config sets none).
    expected = AgentSettings(batch_size=16)
    assert recorder.agents == [{"prior": recorder.prior, "settings": expected, "seed": 5 + 1}]
    assert len(recorder.steps) == 4 and all(s is recorder.steps[0] for s in recorder.steps)
    assert [(s["n"], s["seed"]) for s in recorder.samples] == [(40, 5 + 1)]  # candidates, round seed
    assert recorder.samples[0]["precision"] == "float"  # the steered agent's own weights, not an int8 copy
    assert first.round == 1 and len(first.smiles) == 3

    # Without a reward model the agent is steered by the components alone (QED here), under the
    # default constitution's filter (an alkyl chloride is a reactive group in a final compound).
    objective = recorder.steps[0]
    qed = {r.canonical: r.score for r in Scorer(config.score)(POOL[:3])}
    assert objective(["OCC", "CCN", "CCCl", "not a molecule"]) == pytest.approx(
        [qed["CCO"], qed["CCN"], 0.0, 0.0]
    )

    second = propose(factory, "c", batch=2)
    assert recorder.agents[1]["seed"] == 5 + 2 and recorder.samples[1]["seed"] == 5 + 2
    assert len(recorder.steps) == 8 and recorder.steps[4] is not recorder.steps[0]  # a new objective
    assert second.round == 2 and len(second.smiles) == 2  # the batch argument beats the setting
    assert not set(first.smiles) & set(second.smiles)  # proposed molecules are not proposed again


def test_the_candidates_come_from_the_trained_policy_in_eval_mode(tmp_path, recorder):
    factory, _ = new_campaign(tmp_path, **SETTINGS)
    propose(factory, "c")
    (agent,) = recorder.instances
    model, tokenizer = recorder.samples[0]["lm"]
    assert model is agent.policy and tokenizer == "tokenizer"  # the agent's policy, the prior's tokens
    assert not agent.policy.training


def test_zero_rl_steps_samples_the_prior_unchanged(tmp_path, recorder):
    factory, _ = new_campaign(tmp_path, **{**SETTINGS, "campaign": {**SETTINGS["campaign"], "rl_steps": 0}})
    proposed = propose(factory, "c")
    assert recorder.steps == [] and len(recorder.agents) == 1 and len(proposed.smiles) == 3


def test_without_model_or_components_there_is_nothing_to_steer_by(tmp_path, recorder):
    factory, _ = new_campaign(tmp_path, campaign=SETTINGS["campaign"])
    proposed = propose(factory, "c")
    assert recorder.steps == []  # rl_steps = 4 is not used: no objective
    assert proposed.priority == [0.0, 0.0, 0.0] and proposed.predicted_mean == [None] * 3
    # The prior's order, less what the default constitution filters (CCCl: an alkyl halide).
    assert proposed.smiles == [canonical(s) for s in ("CCO", "CCN", "c1ccccc1")]


def test_the_default_constitution_filters_candidates_unless_switched_off(tmp_path, recorder):
    factory, config = new_campaign(tmp_path, **SETTINGS)
    assert [c.type for c in config.constraints().components] == ["qed", "constitution"]
    assert canonical("CCCl") not in propose(factory, "c", batch=10).smiles  # breaks a principle

    off = {**SETTINGS["campaign"], "constitution_filter": False}
    (tmp_path / "off").mkdir()
    factory, config = new_campaign(tmp_path / "off", campaign=off, score=SETTINGS["score"])
    assert [c.type for c in config.constraints().components] == ["qed"]
    assert canonical("CCCl") in propose(factory, "c", batch=10).smiles

    own = {"type": "constitution", "filter": True, "params": {"mode": "filter", "ignore": ["no-brenk"]}}
    config = CampaignConfig.model_validate({"score": {"components": [own]}})
    assert config.constraints().components == config.score.components  # the campaign's own, not twice
    assert CampaignConfig.model_validate({"campaign": {"constitution_filter": False}}).constraints() is None


def test_a_campaign_scores_neutral_forms_unless_its_score_says_otherwise():
    clogp = {"type": "clogp"}
    ammonium, amine = "C[NH+]1CCN(c2ccccc2)CC1", "CN1CCN(c2ccccc2)CC1"
    default = CampaignConfig.model_validate({"score": {"components": [clogp]}}).constraints()
    assert default.neutralize and CampaignConfig().constraints().neutralize  # the constitution filter too
    first, second = Scorer(default)([ammonium, amine])
    assert first.raw == second.raw
    as_written = {"score": {"components": [clogp], "neutralize": False}}
    assert not CampaignConfig.model_validate(as_written).constraints().neutralize


def test_inception_starts_the_replay_memory_with_the_measured_molecules(tmp_path, recorder):
    seed = tmp_path / "seed.csv"
    seed.write_text("smiles,value\nCCO,1\nCCCO,2\nCCCCO,3\nOc1ccccc1,4\nCc1ccccc1O,5\n")
    reward = {"ensemble": 2, "hidden": 8, "epochs": 3, "cv_folds": 0}
    for inception in (False, True):
        folder = tmp_path / str(inception)
        folder.mkdir()
        campaign = {**SETTINGS["campaign"], "seed_data": str(seed), "inception": inception}
        factory, _ = new_campaign(folder, **{**SETTINGS, "campaign": campaign, "reward": reward})
        recorder.memories.clear()
        recorder.steps.clear()
        propose(factory, "c")
        first = recorder.memories[0]
        if not inception:
            assert first == {}
            continue
        measured = [canonical(s) for s in ("CCO", "CCCO", "CCCCO", "Oc1ccccc1", "Cc1ccccc1O")]
        rated = dict(zip(measured, recorder.steps[0](measured), strict=True))
        assert first == {
            smiles: score for smiles, score in rated.items() if score > 0
        }  # as the reward rates them
        assert len(first) >= 3


def test_the_default_filter_leaves_out_a_principle_the_series_itself_breaks(tmp_path, recorder):
    # Every measured molecule is an alkyl chloride (a reactive group): so are the series' candidates.
    seed = tmp_path / "seed.csv"
    seed.write_text("smiles,value\nClCCCO,1\nClCCCCO,2\nClCCCCN,3\nClCC(C)CO,4\nClCCOCC,5\n")
    campaign = {**SETTINGS["campaign"], "seed_data": str(seed), "trust_similarity": None}
    settings = {
        **SETTINGS,
        "campaign": campaign,
        "reward": {"ensemble": 2, "hidden": 8, "epochs": 3, "cv_folds": 0},
    }
    factory, config = new_campaign(tmp_path, **settings)
    breaks = ["no-brenk", "reactive-groups"]  # an alkyl halide is a Brenk alert as well
    assert campaign_module._series_breaks(["ClCCCO", "ClCCCCO", "CCO"]) == breaks
    assert campaign_module._series_breaks(["ClCCCO", "CCO", "CCN"]) == []  # one in three: not the series'
    [_, constitution] = config.constraints(breaks).components
    assert constitution.params == {"mode": "filter", "ignore": breaks}
    assert canonical("CCCl") in propose(factory, "c", batch=10).smiles  # kept: the series' own chemistry
    everything = [p.id for p in load_constitution().principles]
    assert [c.type for c in config.constraints(everything).components] == ["qed"]  # nothing left to check


def test_the_http_api_and_the_web_form_switch_the_constitution_filter():
    from chemloop.serve.web.campaigns import _form_config
    from chemloop.services.campaigns import campaign_config
    from chemloop.services.schemas import CampaignCreate
    from chemloop.services.settings import ServeSettings

    def over_http(body):
        return campaign_config(
            CampaignCreate.model_validate({"name": "c", **body}), ServeSettings(api_key="k" * 32)
        )

    assert over_http({}).campaign.constitution_filter
    assert not over_http({"campaign": {"constitution_filter": False}}).campaign.constitution_filter
    ticked = CampaignConfig.model_validate(_form_config(12, "ucb", ["qed", "constitution"], ""))
    unticked = CampaignConfig.model_validate(_form_config(12, "ucb", ["qed"], ""))
    assert ticked.campaign.constitution_filter and not unticked.campaign.constitution_filter
    assert [c.type for c in ticked.score.components] == ["qed"]  # the filter is not a component twice


class LengthModel:
    """A reward model that predicts a hundredth of a SMILES' length, with a spread of 0.05."""

    def predict(self, smiles):
        return np.array([len(s) / 100 for s in smiles]), np.full(len(smiles), 0.05)


@pytest.mark.parametrize("kappa", [0.0, 2.0])
def test_kappa_reaches_the_rl_objective_and_the_acquisition(tmp_path, recorder, monkeypatch, kappa):
    # No measurements yet (a model fitted on preferences, say): the squashing range is [0, 1].
    factory, _ = new_campaign(
        tmp_path, campaign={**SETTINGS["campaign"], "kappa": kappa, "rl_kappa": None, "acquisition": "ucb"}
    )
    monkeypatch.setattr(reward_store, "latest", lambda session, campaign_id: LengthModel())
    proposed = propose(factory, "c")
    objective = recorder.steps[0]
    # CCO: 0.03 + κ·0.05, squashed between 0 and 1.
    assert objective(["CCO"]) == [pytest.approx(sigmoid(0.03 + kappa * 0.05, 0.0, 1.0))]
    # UCB priority: the same mean + κ·std; the three longest SMILES come first.
    longest = sorted((canonical(s) for s in POOL), key=len, reverse=True)[:3]
    assert proposed.priority == pytest.approx([len(s) / 100 + kappa * 0.05 for s in longest])
    assert proposed.predicted_mean == pytest.approx([len(s) / 100 for s in longest])
    assert proposed.predicted_std == pytest.approx([0.05] * 3)


@pytest.mark.parametrize("share", [0.0, 0.5])
def test_explore_share_of_the_batch_comes_from_the_fine_tuned_priors_own_samples(
    tmp_path, recorder, monkeypatch, share
):
    # The steered agent writes the long half of the pool, the prior the short half, and the model
    # prefers long SMILES: with no share the prior is not sampled and every pick is the agent's;
    # with half, two of four are the prior's best-predicted, ranked below the agent's better two.
    prior_pool, agent_pool = sorted(POOL, key=len)[:5], sorted(POOL, key=len)[5:]

    def sample(lm, n, seed, precision="auto"):
        recorder.samples.append({"lm": lm, "n": n, "seed": seed})
        pool = prior_pool if lm is recorder.prior else agent_pool
        return SimpleNamespace(
            molecules=[SimpleNamespace(valid=True, canonical=c, contains_prompt=None) for c in pool]
        )

    monkeypatch.setattr(campaign_module, "sample", sample)
    monkeypatch.setattr(reward_store, "latest", lambda session, campaign_id: LengthModel())
    campaign = {**SETTINGS["campaign"], "batch": 4, "explore_share": share}
    factory, _ = new_campaign(tmp_path, campaign=campaign)
    proposed = propose(factory, "c")
    from_prior = [s for s in proposed.smiles if s in {canonical(p) for p in prior_pool}]
    assert len(proposed.smiles) == 4 and len(from_prior) == round(share * 4)
    assert [r["lm"] is recorder.prior for r in recorder.samples] == ([False, True] if share else [False])
    if share:  # the prior's part is its best-predicted (longest) samples
        longest = sorted((canonical(p) for p in prior_pool), key=len, reverse=True)[:2]
        assert sorted(from_prior) == sorted(longest)
    assert proposed.priority == sorted(proposed.priority, reverse=True)  # rank 1: the best, either part


OPEN_SET = ["CCO", "CCCO", "Oc1ccccc1", "CC(=O)Nc1ccc(O)cc1", "OC1CCCCC1"]
SERIES_SET = [f"{r}c1ccc(CN2CCCCC2)cc1" for r in ("", "C", "O", "Cl", "N")]  # one two-ring core


@pytest.mark.parametrize(
    ("measured", "rl_kappa", "weight"),
    [(OPEN_SET, "auto", -1.0), (SERIES_SET, "auto", 1.0), (OPEN_SET, 0.5, 0.5), (OPEN_SET, None, 1.0)],
)
def test_rl_is_pessimistic_in_an_open_campaign_and_optimistic_in_a_series(
    tmp_path, recorder, monkeypatch, measured, rl_kappa, weight
):
    seed = tmp_path / "seed.csv"
    first = canonical(measured[0])  # measured: inside the trust region and the domain
    values = [len(first) / 100 + 0.02 * (i - 2) for i in range(len(measured))]  # the squashing range
    seed.write_text("smiles,value\n" + "".join(f"{s},{v}\n" for s, v in zip(measured, values, strict=True)))
    campaign = {**SETTINGS["campaign"], "seed_data": str(seed), "kappa": 1.0, "rl_kappa": rl_kappa}
    factory, _ = new_campaign(tmp_path, campaign=campaign, reward={"ensemble": 2, "hidden": 8, "epochs": 2})
    monkeypatch.setattr(reward_store, "latest", lambda session, campaign_id: LengthModel())
    propose(factory, "c")
    objective = recorder.steps[0]
    expected = sigmoid(len(first) / 100 + weight * 0.05, min(values), max(values))
    assert objective([first]) == [pytest.approx(expected)]


def test_nothing_new_to_propose_is_an_error(tmp_path, recorder, monkeypatch):
    factory, _ = new_campaign(tmp_path, **SETTINGS)
    monkeypatch.setattr(
        recorder,
        "sample",
        lambda lm, n, seed, **_: SimpleNamespace(molecules=[SimpleNamespace(valid=False, canonical="")]),
    )
    monkeypatch.setattr(campaign_module, "sample", recorder.sample)
    with pytest.raises(ChemloopError, match="nothing proposed"):
        propose(factory, "c")


def test_measured_molecules_fine_tune_the_prior_and_bound_the_proposals(tmp_path, recorder):
    seed = tmp_path / "seed.csv"
    seed.write_text("smiles,value\nCCO,1\nCCCO,2\nCCCCO,3\nc1ccccc1O,4\nCc1ccccc1O,5\n")
    settings = {
        **SETTINGS,
        "campaign": {**SETTINGS["campaign"], "seed_data": str(seed), "finetune_epochs": 3},
        "reward": {"ensemble": 2, "hidden": 8, "epochs": 3, "cv_folds": 0},
    }
    factory, config = new_campaign(tmp_path, **settings)
    proposed = propose(factory, "c", output=tmp_path / "proposals.csv")
    [fitted] = recorder.fits
    order = ["CCO", "CCCO", "CCCCO", "Oc1ccccc1", "Cc1ccccc1O"]
    assert fitted["smiles"] == [canonical(s) for s in order]
    assert fitted["epochs"] == 3
    assert fitted["weights"] == [0.2, 0.4, 0.6, 0.8, 1.0]  # the better, the more often drawn
    assert recorder.agents[0]["prior"] is fitted["lm"]
    for smiles, why in zip(proposed.smiles, proposed.explanations, strict=True):
        assert why.nearest_smiles in fitted["smiles"] and why.nearest_value in (1, 2, 3, 4, 5)
        on_a_measured_scaffold = murcko_scaffold(smiles) in {murcko_scaffold(m) for m in fitted["smiles"]}
        assert why.nearest_similarity >= 0.5 or on_a_measured_scaffold  # the trust region's rule
    header = (tmp_path / "proposals.csv").read_text().splitlines()[0]
    assert header.startswith("rank,smiles,parent_smiles,")
    assert header.endswith("nearest_measured,nearest_tanimoto,nearest_value,out_of_domain")
    with (tmp_path / "proposals.csv").open() as handle:
        assert all(row["parent_smiles"] == parent_smiles(row["smiles"]) for row in csv.DictReader(handle))

    recorder.fits.clear()
    (tmp_path / "off").mkdir()
    factory, _ = new_campaign(
        tmp_path / "off", **{**settings, "campaign": {**settings["campaign"], "finetune_epochs": 0}}
    )
    propose(factory, "c")
    assert recorder.fits == []

    (tmp_path / "min").mkdir()  # 3 epochs of 5 molecules are 3 updates: raised to the minimum
    minimum = {**settings["campaign"], "finetune_min_steps": 20}
    factory, _ = new_campaign(tmp_path / "min", **{**settings, "campaign": minimum})
    propose(factory, "c")
    assert [fit["epochs"] for fit in recorder.fits] == [20]


def test_a_trust_region_too_tight_fills_the_batch_with_the_nearest_candidates(tmp_path, recorder):
    seed = tmp_path / "seed.csv"
    seed.write_text("smiles,value\nCCO,1\nCCCO,2\nCCCCO,3\nc1ccccc1O,4\nCc1ccccc1O,5\n")
    campaign = {
        **SETTINGS["campaign"],
        "seed_data": str(seed),
        "trust_similarity": 0.99,
        "trust_scaffold": False,
    }
    settings = {
        **SETTINGS,
        "campaign": campaign,
        "reward": {"ensemble": 2, "hidden": 8, "epochs": 3, "cv_folds": 0},
    }
    factory, _ = new_campaign(tmp_path, **settings)
    proposed = propose(factory, "c")
    similarity = [why.nearest_similarity for why in proposed.explanations]
    assert len(proposed.smiles) == 3 and max(similarity) < 0.99
    measured = MeasuredSet(
        [canonical(s) for s in ("CCO", "CCCO", "CCCCO", "Oc1ccccc1", "Cc1ccccc1O")], [1] * 5
    )
    unseen = [c for c in POOL if canonical(c) not in measured.smiles]
    nearest = sorted((e.nearest_similarity for e in measured.explain(unseen)), reverse=True)[:3]
    assert sorted(similarity, reverse=True) == pytest.approx(nearest)  # the three nearest, no others


def test_optimize_bench_pmo_and_propose_run_one_set_of_agent_settings(tmp_path, recorder, monkeypatch):
    from chemloop.bench import pmo
    from chemloop.rl.run import parse_config
    from chemloop.rl.settings import agent_settings, resolve

    prior = recorder.prior  # what checkpoint.load gives here: a prior that writes canonical SMILES
    monkeypatch.setattr(pmo, "_writes_random_spellings", lambda model: prior.writes_random_spellings)
    optimize = resolve(parse_config({"score": {"components": [{"type": "qed"}]}}, "test").run, prior)
    benchmark = agent_settings(pmo.pmo_config("qed", 10_000, 0).run)
    factory, _ = new_campaign(tmp_path, campaign={**SETTINGS["campaign"], "rl_batch_size": None})
    propose(factory, "c")
    proposing = resolve(recorder.agents[0]["settings"], prior)
    assert optimize == benchmark == proposing
    assert (optimize.sigma, optimize.replay, optimize.augment_rounds, optimize.diversity_bucket) == (
        500.0,
        10,
        2,
        None,
    )  # the PMO-benchmarked settings, not the older defaults (σ 128, replay 8, a diversity filter)


def test_a_campaigns_run_table_overrides_the_agent_settings_in_the_same_keys(tmp_path, recorder):
    factory, _ = new_campaign(tmp_path, **SETTINGS, run={"sigma": 128.0, "ga_share": 0.25})
    propose(factory, "c")
    assert recorder.agents[0]["settings"] == AgentSettings(batch_size=16, sigma=128.0, ga_share=0.25)


@pytest.mark.parametrize(
    ("run", "named"),
    [
        ("budget = 100", "run: Value error, budget does not apply to a campaign"),
        ("seed = 3", "use campaign.seed"),
        ("ga_share = 1.0", "run.ga_share: Input should be less than 1"),
        ("sigmaa = 1.0", "run.sigmaa"),
    ],
)
def test_bad_run_keys_of_a_campaign_are_named(tmp_path, run, named):
    from chemloop.loop.config import load_campaign_config

    path = tmp_path / "campaign.toml"
    path.write_text(f"[campaign]\nbatch = 3\n[run]\n{run}\n")
    with pytest.raises(ChemloopError, match=re.escape(named)):
        load_campaign_config(path)


def test_a_campaign_stored_before_the_run_table_reads_with_the_shared_defaults():
    stored = CampaignConfig().model_dump(mode="json", exclude={"run"})
    stored["campaign"]["rl_batch_size"] = 64  # what campaigns stored then carry
    config = CampaignConfig.model_validate_json(json.dumps(stored))
    assert config.agent_settings() == AgentSettings(batch_size=64) == AgentSettings()


def test_an_optimize_request_over_http_or_mcp_sets_the_ga_keys_and_bounds_them():
    from chemloop.services import schemas
    from chemloop.services.jobs import optimize_config
    from chemloop.services.settings import ServeSettings

    score = {"components": [{"type": "qed"}]}
    request = schemas.OptimizeRequest.model_validate(
        {"run": {"ga_share": 0.25, "ga_mutation_rate": 0.05}, "score": score}
    )
    run = optimize_config(request, ServeSettings(api_key="k" * 8)).run
    assert (run.ga_share, run.ga_mutation_rate) == (0.25, 0.05)
    assert run.ga_rank_coefficient == AgentSettings().ga_rank_coefficient
    with pytest.raises(ValueError, match="ga_share"):
        schemas.OptimizeRequest.model_validate({"run": {"ga_share": 1.0}, "score": score})


def test_every_campaign_key_but_the_servers_own_can_be_set_over_http():
    from chemloop.loop.config import CampaignSection
    from chemloop.services.schemas import CampaignSectionIn

    servers_own = {"model", "seed_data"}  # the server's prior; seed rows come in the request itself
    assert set(CampaignSectionIn.model_fields) == set(CampaignSection.model_fields) - servers_own
