"""Design-make-test campaigns: init → propose → (lab) → import → propose …

Each command stores what it is given in one database transaction. Slow work runs outside
any transaction: ``propose`` does its RL fine-tuning, sampling and prediction before it opens
the one that stores the round, so a process killed mid-way leaves nothing behind and the next
``propose`` starts clean; a reward-model refit (after ``import``, or at the start of
``propose`` when feedback arrived since the last fit) reads the feedback, fits, then stores the
model in a short transaction of its own (see :func:`chemloop.loop.reward_store.refit`).
Reads (status, the molecule table, the campaign list) are in :mod:`chemloop.loop.campaign_reads`.
"""

from __future__ import annotations

import csv
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chemloop.chem.guard import is_withheld
from chemloop.chem.mol import canonical, new_compounds, parent_smiles, try_canonical, try_mol
from chemloop.chem.prompts import Prompt
from chemloop.chem.user_input import WITHHELD_PROBLEM
from chemloop.constitution.principles import default_constitution
from chemloop.errors import ChemloopError
from chemloop.loop import agent_carry, people, reward_store
from chemloop.loop.acquisition import acquisition_values, select_in_parts
from chemloop.loop.assay import Assay, campaign_assay, store_assay
from chemloop.loop.campaign_reads import campaign_censored, campaign_measurements
from chemloop.loop.config import CampaignConfig, CampaignSection
from chemloop.loop.domain import Explanation, MeasuredSet, TrustRule, pessimistic_where_out_of_domain
from chemloop.loop.progress import ProgressCallback, Stages
from chemloop.loop.results import ResultRows, attribute_file, read_results, store_results
from chemloop.loop.store import (
    Campaign,
    Measurement,
    Preference,
    Proposal,
    ProposalExplanation,
    Rating,
    Round,
    check_campaign_name,
    get_campaign,
    session_scope,
)
from chemloop.model import checkpoint
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.generate import sample
from chemloop.model.inference import FLOAT
from chemloop.model.prompting import sample_with_prompt
from chemloop.rl.settings import make_agent
from chemloop.score.scorer import Scorer
from chemloop.score.transforms import sigmoid
from chemloop.train.transfer import epochs_for, fit


def init_campaign(
    factory: sessionmaker[Session],
    name: str,
    config: CampaignConfig,
    seed: ResultRows | None = None,
    fit_reward: bool = True,
    assay: Assay | None = None,
    user: str | None = None,
) -> dict:
    """Create campaign ``name`` with its seed data (round 0: ``seed``, or the config's ``seed_data``
    file) in one transaction, then fit a first reward model (``fit_reward=False``: leave that to
    :func:`refit`, e.g. in a background job). ``assay``: what the values measure (None: "value",
    higher is better); ``user``: who created it, recorded as the seed file's uploader. ``name``
    follows the store's rule
    (:func:`~chemloop.loop.store.check_campaign_name`), checked before any file is read."""
    check_campaign_name(name)
    seed_rows = seed or (read_results(config.campaign.seed_data) if config.campaign.seed_data else None)
    with session_scope(factory) as session:
        if session.scalar(select(Campaign).where(Campaign.name == name)) is not None:
            raise ChemloopError(f"campaign {name!r} already exists")
        campaign = Campaign(name=name, config_json=config.model_dump_json())
        session.add(campaign)
        session.flush()
        if assay is not None:
            store_assay(session, campaign.id, assay)
        imported = 0
        if seed_rows is not None:
            imported = store_results(session, campaign, seed_rows, external=True)
            attribute_file(session, campaign.id, seed_rows.sha256, user)
        campaign_id = campaign.id
    if imported and fit_reward:
        reward_store.refit(factory, campaign_id, config)
    return {"campaign": name, "seed_measurements": imported}


@dataclass
class Proposed:
    round: int
    smiles: list[str]
    predicted_mean: list[float | None]
    predicted_std: list[float | None]
    priority: list[float]
    seconds: float
    explanations: list[Explanation] = field(default_factory=list)


def propose(
    factory: sessionmaker[Session],
    name: str,
    batch: int | None = None,
    output: str | Path | None = None,
    progress: ProgressCallback | None = None,
) -> Proposed:
    """Fine-tune the agent against the current reward, generate, choose a batch, store the round.
    ``progress`` hears of each stage as it goes (refit, fine-tuning epochs, RL steps, sampling, the pick)."""
    start = time.perf_counter()
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        config = CampaignConfig.model_validate_json(campaign.config_json)
        stale, campaign_id = reward_store.is_stale(session, campaign.id), campaign.id
        feedback = sum(reward_store.feedback_counts(session, campaign.id).values())
    stages = Stages(progress, _propose_costs(config, feedback, stale))
    if stale:  # e.g. ratings recorded in the web app since the last fit
        reward_store.refit(factory, campaign_id, config, progress=stages.within(REFITTING))
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        known = set(session.scalars(select(Measurement.smiles).where(Measurement.campaign_id == campaign.id)))
        known |= set(_censored_smiles(session, campaign.id))  # a "<5" was made and tested too
        known |= set(
            session.scalars(select(Proposal.smiles).join(Round).where(Round.campaign_id == campaign.id))
        )
        model = reward_store.latest(session, campaign.id)
        carried = agent_carry.latest_snapshot(session, campaign.id) if config.campaign.carry_agent else None
        measurements = [(m.smiles, m.value) for m in campaign_measurements(session, campaign.id)]
        sign = campaign_assay(session, campaign.id).sign
        # Utilities (value × sign): every step below maximizes, whichever way the assay points.
        values = [sign * v for _, v in measurements]
        round_number = 1 + (
            session.scalar(select(func.max(Round.number)).where(Round.campaign_id == campaign.id)) or 0
        )
    settings = config.campaign
    k = batch or settings.batch
    measured = MeasuredSet(*_measured_means(measurements)) if measurements else None

    # 1. Start from the series: fine-tune the prior on what was measured, the better molecules drawn
    #    more often; then steer it towards the current objective (the reward model's estimate).
    constraints = config.constraints(_series_breaks([s for s, _ in measurements]))
    scorer = Scorer(constraints) if constraints else None
    objective = _objective(
        model,
        scorer,
        values,
        settings.rl_uncertainty_weight(
            measured.parents if measured else []
        ),  # the trust region's series core
        measured=measured,
        trust=settings.trust_rule(),
    )
    prior = checkpoint.load(settings.model)
    if measured is not None and settings.finetune_epochs:
        epochs = _finetune_epochs(settings, len(measured.smiles))

        def after_epoch(epoch: int, _: LanguageModel) -> bool:
            stages.step(FINE_TUNING, epoch, epochs, "epochs")
            return False  # no early stop: the config's epochs

        after_epoch(0, prior)
        prior = fit(
            prior,
            measured.smiles,
            epochs=epochs,
            weights=rank_weights([sign * v for v in measured.values]),
            randomize=prior.writes_random_spellings,
            seed=settings.seed + round_number,
            after_epoch=after_epoch,
        )
    agent = make_agent(prior, config.agent_settings(), seed=settings.seed + round_number)
    if carried is not None:  # the previous round's agent, its memory rated by this round's reward
        agent_carry.resume_agent(agent, carried, objective)
    if settings.inception and objective is not None and measured is not None:
        # The measured molecules, rated by this round's reward, start the replay memory: RL has
        # examples from the series to learn from even when few of its own samples lie inside it.
        agent.memory.add(list(measured.smiles), [float(v) for v in objective(measured.smiles)])
    if objective is not None:
        stages.step(RL, 0, settings.rl_steps, "steps")
        for step in range(1, settings.rl_steps + 1):
            agent.step(objective)
            stages.step(RL, step, settings.rl_steps, "steps")

    # 2. Generate candidates the campaign has not seen, keep those in the trust region, predict them.
    agent.policy.eval()
    stages.step(SAMPLING, 0)
    steered = LanguageModel(agent.policy, prior.tokenizer)
    seed = settings.seed + round_number
    written = dict.fromkeys(_written(steered, agent.prompt, settings.candidates, seed))
    # Exploration candidates: the fine-tuned prior's own samples, before RL steered it.
    explore = set()
    if settings.explore_share > 0 and model is not None:
        explore = set(_written(prior, agent.prompt, settings.candidates, seed)) - written.keys()
        written.update(dict.fromkeys(sorted(explore)))
    # A new compound: the model writes pH-7 forms, so the ammonium of a measured amine, or a second
    # charge state of a candidate, would spend a place in the batch on a compound made or chosen.
    candidates = new_compounds(written, known)
    if scorer is not None:  # constraints: drop what the components score 0 (filters, hard limits)
        candidates = [r.canonical for r in scorer(candidates) if r.score > 0]
    explanations = measured.explain(candidates) if measured is not None else [_UNEXPLAINED] * len(candidates)
    inside = [True] * len(candidates)
    if measured is not None:
        inside = measured.in_trust_region(candidates, explanations, settings.trust_rule())
        # Too few inside: the batch is filled with the candidates nearest to the measured ones
        # (their explanations show how far they are), never with arbitrary ones.
        outside = sorted(
            (i for i, keep in enumerate(inside) if not keep),
            key=lambda i: -explanations[i].nearest_similarity,
        )
        kept = [i for i, keep in enumerate(inside) if keep] + outside[: max(0, k - sum(inside))]
        candidates = [candidates[i] for i in kept]
        explanations = [explanations[i] for i in kept]
        inside = [inside[i] for i in kept]
    stages.step(CHOOSING, 0)
    if not candidates:
        raise ChemloopError(f"campaign {name!r}: no new candidates passed the constraints; nothing proposed")
    if model is not None:
        mean, std = model.predict(candidates)  # stored and shown as the model predicts them
        # Out of the reward model's domain, uncertainty means "far from the data": no bonus for it.
        guarded_mean, guarded_std = pessimistic_where_out_of_domain(
            mean, std, [e.out_of_domain for e in explanations], settings.kappa
        )
        best = max(values) if values else None
        priority = acquisition_values(
            guarded_mean,
            guarded_std,
            settings.acquisition,
            kappa=settings.kappa,
            best=best,
            rng=np.random.default_rng(round_number),
        )
    else:  # no reward model yet: rank by the components, or keep the prior's order
        mean = std = None
        weighted = scorer is not None and scorer.config.weighted  # filters alone were applied above
        priority = np.array([r.score for r in scorer(candidates)]) if weighted else np.zeros(len(candidates))
    # Inside the trust region first; any fill-up from outside comes after them, nearest first.
    ranked = np.where(inside, priority, -np.inf)
    from_prior = [c in explore for c in candidates]
    chosen = select_in_parts(
        candidates, list(ranked), from_prior, k, settings.explore_share, settings.max_similarity
    )
    # Rank 1 is the best pick whichever part chose it; fill-ups from outside the region stay last.
    chosen.sort(key=lambda i: -ranked[i])

    result = Proposed(
        round=round_number,
        smiles=[candidates[i] for i in chosen],
        # The model predicts utilities; stored, written and shown in the assay's units.
        predicted_mean=[None if mean is None else sign * float(mean[i]) for i in chosen],
        predicted_std=[None if std is None else float(std[i]) for i in chosen],
        priority=[float(priority[i]) for i in chosen],
        seconds=time.perf_counter() - start,
        explanations=[explanations[i] for i in chosen],
    )
    # 3. One short transaction; a concurrent propose of the same round number fails here, cleanly.
    try:
        with session_scope(factory) as session:
            campaign = get_campaign(session, name)
            round_ = Round(
                campaign_id=campaign.id,
                number=round_number,
                acquisition=settings.acquisition,
                seconds=result.seconds,
            )
            session.add(round_)
            session.flush()
            for rank, (s, m, sd, p, why) in enumerate(
                zip(
                    result.smiles,
                    result.predicted_mean,
                    result.predicted_std,
                    result.priority,
                    result.explanations,
                    strict=True,
                ),
                start=1,
            ):
                proposal = Proposal(
                    round_id=round_.id, rank=rank, smiles=s, predicted_mean=m, predicted_std=sd, priority=p
                )
                session.add(proposal)
                session.flush()
                session.add(ProposalExplanation(proposal_id=proposal.id, **asdict(why)))
            if settings.carry_agent:
                agent_carry.store_snapshot(session, campaign.id, round_number, agent)
    except IntegrityError:
        raise ChemloopError(
            f"campaign {name!r}: round {round_number} was stored by another process"
        ) from None
    if output is not None:
        _write_proposals(Path(output), result)
    stages.step(CHOOSING, 1)
    return result


def _written(lm: LanguageModel, prompt: Prompt | None, num: int, seed: int) -> list[str]:
    """Canonical SMILES of ``lm``'s valid samples; under a prompt (a core to keep), written around
    it and only those that keep it."""
    if prompt is None:
        report = sample(lm, num, seed=seed, precision=FLOAT)
    else:
        report = sample_with_prompt(lm, prompt, num, seed=seed, precision=FLOAT)
    return [m.canonical for m in report.molecules if m.valid and m.contains_prompt is not False]


# Stages of a propose as progress reports name them, and rough seconds per unit of their work on two
# CPU cores (only the ratios matter: they weigh the progress bar; the time-left estimate learns the
# rest from the elapsed time and the previous propose).
REFITTING = "refitting the reward model"
FINE_TUNING = "fine-tuning on the measured molecules"
RL = "RL towards the reward"
SAMPLING = "sampling candidates"
CHOOSING = "predicting and choosing the batch"
# Per molecule, from bench/results/propose_time_prior_1thread.json (the default prior, one thread):
# 2,000 candidates sampled in 11-12 s; 20 RL steps of 64 in 153-171 s (three updates a step, fp32);
# predicting and choosing 5-6 s; fine-tuning 60 and 120 rows (12 and 24 molecules, 5 epochs) in 1-2 s.
SAMPLE_SECONDS = 1 / 180  # one molecule sampled
RL_SAMPLE_SECONDS = 20 * SAMPLE_SECONDS  # sampled, scored, and trained on (agent and prior likelihoods)
CHOOSE_SECONDS = SAMPLE_SECONDS / 2  # predicted by the ensemble and placed against the measured set
FINETUNE_ROW_SECONDS = 3 * SAMPLE_SECONDS  # one molecule, one epoch of fine-tuning
FIT_SECONDS = 3e-5 / 256  # one row, one epoch, one ensemble member, per hidden unit


def _propose_costs(config: CampaignConfig, feedback: int, stale: bool) -> dict[str, float]:
    """Each propose stage's rough cost in seconds (``feedback``: values, preferences and ratings held)."""
    settings, reward = config.campaign, config.reward
    fits = 1 + (reward.cv_folds if reward.cv_folds >= 2 else 0)
    refit = fits * feedback * reward.epochs * reward.ensemble * reward.hidden * FIT_SECONDS
    return {
        REFITTING: refit if stale else 0.0,
        FINE_TUNING: _finetune_epochs(settings, feedback) * feedback * FINETUNE_ROW_SECONDS,
        RL: settings.rl_steps * config.agent_settings().batch_size * RL_SAMPLE_SECONDS,
        SAMPLING: settings.candidates * SAMPLE_SECONDS,
        CHOOSING: settings.candidates * CHOOSE_SECONDS,
    }


def _finetune_epochs(settings: CampaignSection, molecules: int) -> int:
    """Epochs of fine-tuning on ``molecules`` measured ones: ``finetune_epochs``, more if that is fewer
    than ``finetune_min_steps`` updates; 0 when fine-tuning is off."""
    if not settings.finetune_epochs:
        return 0
    return epochs_for(molecules, settings.finetune_epochs, settings.finetune_min_steps)


def _objective(
    model,
    scorer: Scorer | None,
    values: list[float],
    kappa: float,
    *,
    measured: MeasuredSet | None = None,
    trust: TrustRule | None = None,
):
    """The RL score in [0, 1]: the reward model's mean + κ·std squashed between the measured
    extremes, times the components' aggregate (which is 0 where a filter fails); κ < 0 is pessimistic.

    With ``measured``, a molecule outside the reward model's applicability domain gets mean − |κ|·std
    instead (no bonus for being far from the data), and one outside the trust region scores 0.
    """
    if model is None and (scorer is None or not scorer.config.weighted):
        return None  # nothing to steer by: filters alone (the constitution's) only constrain
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if high <= low:
        high = low + 1.0

    def score(smiles: list[str]) -> list[float]:
        # A molecule the dual-use guard withholds scores 0, as an invalid one: RL is steered away from it.
        canonical = [c if c and not is_withheld(c) else None for c in map(try_canonical, smiles)]
        valid = list(dict.fromkeys(c for c in canonical if c))  # each molecule once, however often sampled
        parts = {c: 1.0 for c in valid}
        if measured is not None and valid:
            why = measured.explain(valid)
            inside = measured.in_trust_region(valid, why, trust or TrustRule(None))
            outside_domain = {c for c, e in zip(valid, why, strict=True) if e.out_of_domain}
            for c, keep in zip(valid, inside, strict=True):
                parts[c] *= 1.0 if keep else 0.0
        else:
            outside_domain = set()
        if model is not None and valid:
            mean, std = model.predict(valid)
            for c, m, s in zip(valid, mean, std, strict=True):
                estimate = m - abs(kappa) * s if c in outside_domain else m + kappa * s
                parts[c] *= sigmoid(float(estimate), low, high)
        if scorer is not None and valid:
            for c, r in zip(valid, scorer(valid), strict=True):
                parts[c] *= 0.0 if math.isnan(r.score) else r.score
        return [parts[c] if c else 0.0 for c in canonical]

    return score


SERIES_BREAK_SHARE = 0.5  # a principle at least this share of the measured molecules break is the series' own


def _series_breaks(measured: Sequence[str]) -> list[str]:
    """Principles of the default constitution that at least half of the measured molecules break:
    the default filter leaves them out (a series built on a nitroarene, say, would otherwise have
    every candidate filtered)."""
    mols = [m for m in map(try_mol, measured) if m is not None]
    if not mols:
        return []
    rules = default_constitution()
    broken = Counter(principle for mol in mols for principle in rules.violations(mol))
    return sorted(p for p, count in broken.items() if count >= SERIES_BREAK_SHARE * len(mols))


def rank_weights(values: list[float]) -> list[float]:
    """Fine-tuning weights from measured values: the best molecule 1, the worst 1/n, linear in rank
    (ranks, not values: an outlier does not take over)."""
    order = np.argsort(np.argsort(values, kind="stable"), kind="stable")  # 0 = worst
    return [float(r + 1) / len(values) for r in order]


def _measured_means(measurements: list[tuple[str, float]]) -> tuple[list[str], list[float]]:
    """Each measured molecule once, with the mean of its measurements."""
    grouped: dict[str, list[float]] = {}
    for smiles, value in measurements:
        grouped.setdefault(smiles, []).append(value)
    return list(grouped), [sum(v) / len(v) for v in grouped.values()]


_UNEXPLAINED = Explanation(None, 0.0, None, False)


def _write_proposals(path: Path, proposed: Proposed) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "rank",
                "smiles",
                "parent_smiles",  # what to make: neutral, no counter-ion (the model writes pH-7 forms)
                "predicted_value",
                "predicted_std",
                "priority",
                "round",
                "nearest_measured",
                "nearest_tanimoto",
                "nearest_value",
                "out_of_domain",
            ]
        )
        for rank, (smiles, mean, std, priority, why) in enumerate(
            zip(
                proposed.smiles,
                proposed.predicted_mean,
                proposed.predicted_std,
                proposed.priority,
                proposed.explanations,
                strict=True,
            ),
            start=1,
        ):
            writer.writerow(
                [
                    rank,
                    smiles,
                    parent_smiles(smiles),
                    *("" if v is None else v for v in (mean, std, priority)),
                    proposed.round,
                    why.nearest_smiles or "",
                    why.nearest_similarity,
                    "" if why.nearest_value is None else why.nearest_value,
                    int(why.out_of_domain),
                ]
            )


def _censored_smiles(session: Session, campaign_id: int) -> list[str]:
    return [c.smiles for c in campaign_censored(session, campaign_id)]


# --- feedback from the web app and the API -------------------------------------------------------


def _refuse_withheld(fields: dict[str, str]) -> None:
    for field_name, smiles in fields.items():
        if is_withheld(smiles):  # named by its field only: the molecule is not repeated back
            raise ChemloopError(f"{field_name} {WITHHELD_PROBLEM}")


def record_preference(
    factory: sessionmaker[Session],
    name: str,
    smiles_a: str,
    smiles_b: str,
    preferred: str,
    user: str | None = None,
) -> dict:
    """Store a chemist's choice between two molecules (``preferred``: "a" or "b"). Cheap: the reward
    model is refitted by the next ``propose`` (or ``refit``), not on every click."""
    choice = preferred.strip().lower()
    if choice not in ("a", "b"):
        raise ChemloopError(f"preferred must be 'a' or 'b', not {preferred!r}")
    a, b = canonical(smiles_a, "smiles_a"), canonical(smiles_b, "smiles_b")
    _refuse_withheld({"smiles_a": a, "smiles_b": b})
    if a == b:
        raise ChemloopError(f"smiles_a and smiles_b are the same molecule ({a!r})")
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        row = Preference(campaign_id=campaign.id, smiles_a=a, smiles_b=b, preferred=choice)
        session.add(row)
        session.flush()
        people.attribute(session, campaign.id, "preference", row.id, user)  # who: undo, counts
        return {"campaign": name, "id": row.id, "smiles_a": a, "smiles_b": b, "preferred": choice}


def record_rating(
    factory: sessionmaker[Session], name: str, smiles: str, rating: int, user: str | None = None
) -> dict:
    """Store a chemist's 1–5 rating of a molecule (used by the next reward-model fit)."""
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ChemloopError(f"rating must be a whole number from 1 to 5, not {rating!r}")
    molecule = canonical(smiles, "smiles")
    _refuse_withheld({"smiles": molecule})
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        row = Rating(campaign_id=campaign.id, smiles=molecule, rating=rating)
        session.add(row)
        session.flush()
        people.attribute(session, campaign.id, "rating", row.id, user)
        return {"campaign": name, "id": row.id, "smiles": molecule, "rating": rating}


def refit(factory: sessionmaker[Session], name: str, progress: ProgressCallback | None = None) -> dict | None:
    """Refit the campaign's reward model on all its feedback now; returns its quality (None: too little).
    ``progress`` hears of each cross-validation fold and the final fit."""
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        config = CampaignConfig.model_validate_json(campaign.config_json)
        campaign_id = campaign.id
    reward_store.refit(factory, campaign_id, config, progress=progress)
    with session_scope(factory) as session:
        return reward_store.quality(session, campaign_id)
