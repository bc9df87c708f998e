"""Design-make-test campaigns: init → propose → (lab) → import → propose …

Each command stores what it is given in one database transaction. Slow work runs outside
any transaction: ``propose`` does its RL fine-tuning, sampling and prediction before it opens
the one that stores the round, so a process killed mid-way leaves nothing behind and the next
``propose`` starts clean; a reward-model refit (after ``import``, or at the start of
``propose`` when feedback arrived since the last fit) reads the feedback, fits, then stores the
model in a short transaction of its own (see :func:`chemloop.loop.reward_store.refit`).
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chemloop.chem.guard import is_withheld
from chemloop.chem.mol import canonical, molecule_key, try_canonical
from chemloop.chem.user_input import WITHHELD_PROBLEM
from chemloop.errors import ChemloopError
from chemloop.loop import reward_store
from chemloop.loop.acquisition import acquisition_values, select_batch
from chemloop.loop.config import CampaignConfig
from chemloop.loop.domain import Explanation, MeasuredSet, pessimistic_where_out_of_domain
from chemloop.loop.results import ResultRows, read_results, store_results
from chemloop.loop.store import (
    Campaign,
    Measurement,
    Preference,
    Proposal,
    ProposalExplanation,
    Rating,
    Round,
    check_campaign_name,
    connect,
    get_campaign,
    session_scope,
)
from chemloop.model import checkpoint
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.generate import sample
from chemloop.rl.settings import make_agent
from chemloop.score.scorer import Scorer
from chemloop.score.transforms import sigmoid
from chemloop.train.transfer import fit


def init_campaign(
    factory: sessionmaker[Session], name: str, config: CampaignConfig, seed: ResultRows | None = None
) -> dict:
    """Create campaign ``name`` with its seed data (round 0: ``seed``, or the config's ``seed_data``
    file) in one transaction, then fit a first reward model. ``name`` follows the store's rule
    (:func:`~chemloop.loop.store.check_campaign_name`), checked before any file is read."""
    check_campaign_name(name)
    seed_rows = seed or (read_results(config.campaign.seed_data) if config.campaign.seed_data else None)
    with session_scope(factory) as session:
        if session.scalar(select(Campaign).where(Campaign.name == name)) is not None:
            raise ChemloopError(f"campaign {name!r} already exists")
        campaign = Campaign(name=name, config_json=config.model_dump_json())
        session.add(campaign)
        session.flush()
        imported = 0
        if seed_rows is not None:
            imported = store_results(session, campaign, seed_rows, external=True)
        campaign_id = campaign.id
    if imported:
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
    factory: sessionmaker[Session], name: str, batch: int | None = None, output: str | Path | None = None
) -> Proposed:
    """Fine-tune the agent against the current reward, generate, choose a batch, store the round."""
    start = time.perf_counter()
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        config = CampaignConfig.model_validate_json(campaign.config_json)
        stale, campaign_id = reward_store.is_stale(session, campaign.id), campaign.id
    if stale:  # e.g. ratings recorded in the web app since the last fit
        reward_store.refit(factory, campaign_id, config)
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        known = set(session.scalars(select(Measurement.smiles).where(Measurement.campaign_id == campaign.id)))
        known |= set(
            session.scalars(select(Proposal.smiles).join(Round).where(Round.campaign_id == campaign.id))
        )
        model = reward_store.latest(session, campaign.id)
        measurements = [(m.smiles, m.value) for m in _measurements(session, campaign.id)]
        values = [v for _, v in measurements]
        round_number = 1 + (
            session.scalar(select(func.max(Round.number)).where(Round.campaign_id == campaign.id)) or 0
        )
    settings = config.campaign
    k = batch or settings.batch
    measured = MeasuredSet(*_measured_means(measurements)) if measurements else None

    # 1. Start from the series: fine-tune the prior on what was measured, the better molecules drawn
    #    more often; then steer it towards the current objective (the reward model's estimate).
    scorer = Scorer(config.score) if config.score else None
    objective = _objective(
        model,
        scorer,
        values,
        settings.kappa,
        measured=measured,
        trust_similarity=settings.trust_similarity,
        trust_scaffold=settings.trust_scaffold,
    )
    prior = checkpoint.load(settings.model)
    if measured is not None and settings.finetune_epochs:
        prior = fit(
            prior,
            measured.smiles,
            epochs=settings.finetune_epochs,
            weights=rank_weights(measured.values),
            randomize=prior.writes_random_spellings,
            seed=settings.seed + round_number,
        )
    agent = make_agent(prior, config.agent_settings(), seed=settings.seed + round_number)
    if objective is not None:
        for _ in range(settings.rl_steps):
            agent.step(objective)

    # 2. Generate candidates the campaign has not seen, keep those in the trust region, predict them.
    agent.policy.eval()
    report = sample(
        LanguageModel(agent.policy, prior.tokenizer), settings.candidates, seed=settings.seed + round_number
    )
    candidates = [
        c for c in dict.fromkeys(m.canonical for m in report.molecules if m.valid) if c not in known
    ]
    if scorer is not None:  # constraints: drop what the components score 0 (filters, hard limits)
        candidates = [r.canonical for r in scorer(candidates) if r.score > 0]
    explanations = measured.explain(candidates) if measured is not None else [_UNEXPLAINED] * len(candidates)
    inside = [True] * len(candidates)
    if measured is not None:
        inside = measured.in_trust_region(
            candidates, explanations, settings.trust_similarity, settings.trust_scaffold
        )
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
        priority = np.array([r.score for r in scorer(candidates)]) if scorer else np.zeros(len(candidates))
    # Inside the trust region first; any fill-up from outside comes after them, nearest first.
    ranked = np.where(inside, priority, -np.inf)
    chosen = select_batch(candidates, list(ranked), k=k, max_similarity=settings.max_similarity)

    result = Proposed(
        round=round_number,
        smiles=[candidates[i] for i in chosen],
        predicted_mean=[None if mean is None else float(mean[i]) for i in chosen],
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
    except IntegrityError:
        raise ChemloopError(
            f"campaign {name!r}: round {round_number} was stored by another process"
        ) from None
    if output is not None:
        _write_proposals(Path(output), result)
    return result


def _objective(
    model,
    scorer: Scorer | None,
    values: list[float],
    kappa: float,
    *,
    measured: MeasuredSet | None = None,
    trust_similarity: float | None = None,
    trust_scaffold: bool = True,
):
    """The RL score in [0, 1]: the reward model's mean + κ·std squashed between the measured
    extremes, times the components' aggregate (which is 0 where a filter fails).

    With ``measured``, a molecule outside the reward model's applicability domain gets mean − κ·std
    instead (no bonus for being far from the data), and one outside the trust region scores 0.
    """
    if model is None and scorer is None:
        return None
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
            inside = measured.in_trust_region(valid, why, trust_similarity, trust_scaffold)
            outside_domain = {c for c, e in zip(valid, why, strict=True) if e.out_of_domain}
            for c, keep in zip(valid, inside, strict=True):
                parts[c] *= 1.0 if keep else 0.0
        else:
            outside_domain = set()
        if model is not None and valid:
            mean, std = model.predict(valid)
            for c, m, s in zip(valid, mean, std, strict=True):
                estimate = m - kappa * s if c in outside_domain else m + kappa * s
                parts[c] *= sigmoid(float(estimate), low, high)
        if scorer is not None and valid:
            for c, r in zip(valid, scorer(valid), strict=True):
                parts[c] *= 0.0 if math.isnan(r.score) else r.score
        return [parts[c] if c else 0.0 for c in canonical]

    return score


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
                    *("" if v is None else v for v in (mean, std, priority)),
                    proposed.round,
                    why.nearest_smiles or "",
                    why.nearest_similarity,
                    "" if why.nearest_value is None else why.nearest_value,
                    int(why.out_of_domain),
                ]
            )


def _measurements(session: Session, campaign_id: int) -> list[Measurement]:
    return list(session.scalars(select(Measurement).where(Measurement.campaign_id == campaign_id)))


# --- feedback from the web app and the API -------------------------------------------------------


def _refuse_withheld(fields: dict[str, str]) -> None:
    for field_name, smiles in fields.items():
        if is_withheld(smiles):  # named by its field only: the molecule is not repeated back
            raise ChemloopError(f"{field_name} {WITHHELD_PROBLEM}")


def record_preference(
    factory: sessionmaker[Session], name: str, smiles_a: str, smiles_b: str, preferred: str
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
        return {"campaign": name, "id": row.id, "smiles_a": a, "smiles_b": b, "preferred": choice}


def record_rating(factory: sessionmaker[Session], name: str, smiles: str, rating: int) -> dict:
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
        return {"campaign": name, "id": row.id, "smiles": molecule, "rating": rating}


def require_campaign(factory: sessionmaker[Session], name: str) -> None:
    """Raise :class:`UnknownCampaignError` naming ``name`` unless the campaign exists."""
    with session_scope(factory) as session:
        get_campaign(session, name)


def stored_config(factory: sessionmaker[Session], name: str) -> CampaignConfig:
    """The config the campaign was created with."""
    with session_scope(factory) as session:
        return CampaignConfig.model_validate_json(get_campaign(session, name).config_json)


def refit(factory: sessionmaker[Session], name: str) -> dict | None:
    """Refit the campaign's reward model on all its feedback now; returns its quality (None: too little)."""
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        config = CampaignConfig.model_validate_json(campaign.config_json)
        campaign_id = campaign.id
    reward_store.refit(factory, campaign_id, config)
    with session_scope(factory) as session:
        return reward_store.quality(session, campaign_id)


# --- status -------------------------------------------------------------------------------------


def status(factory: sessionmaker[Session], name: str) -> dict:
    """Rounds, molecules tested, best measured value per round, and the reward model's quality."""
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        measured = _measurements(session, campaign.id)
        rounds = []
        for round_ in campaign.rounds:
            values = [m.value for m in measured if m.round_number == round_.number and not m.external]
            rounds.append(
                {
                    "round": round_.number,
                    "proposed": len(round_.proposals),
                    "measured": len(values),
                    "best": max(values, default=None),
                    "propose_seconds": round(round_.seconds, 1),
                }
            )
        seed = [m.value for m in measured if m.round_number == 0]
        counts = reward_store.feedback_counts(session, campaign.id)
        return {
            "campaign": name,
            "rounds": rounds,
            "seed_measurements": len(seed),
            "best_seed": max(seed, default=None),
            "molecules_tested": len({m.smiles for m in measured}),
            "best": max((m.value for m in measured), default=None),
            "preferences": counts["preferences"],
            "ratings": counts["ratings"],
            "reward_model": reward_store.quality(session, campaign.id),
            "reward_model_stale": reward_store.is_stale(session, campaign.id),
        }


# --- reads for the faces (web app, API) ----------------------------------------------------------


def list_campaigns(factory: sessionmaker[Session]) -> list[dict]:
    """Every campaign by name, with its rounds proposed and molecules tested."""
    with session_scope(factory) as session:
        rounds = dict(
            session.execute(select(Round.campaign_id, func.count()).group_by(Round.campaign_id)).all()
        )
        tested = dict(
            session.execute(
                select(Measurement.campaign_id, func.count(func.distinct(Measurement.smiles))).group_by(
                    Measurement.campaign_id
                )
            ).all()
        )
        return [
            {
                "campaign": c.name,
                "created": c.created.isoformat(),
                "rounds": rounds.get(c.id, 0),
                "molecules_tested": tested.get(c.id, 0),
            }
            for c in session.scalars(select(Campaign).order_by(Campaign.name))
        ]


def molecules(factory: sessionmaker[Session], name: str) -> list[dict]:
    """Every molecule the campaign proposed or measured, once each, ordered by round and rank.

    Keys: ``key`` (:func:`molecule_key`), ``smiles`` (canonical), ``round`` (the round that proposed
    it; 0 for seed and external data), ``rank``, ``predicted_mean``/``predicted_std`` (the reward
    model's prediction when proposed), ``priority`` (its acquisition score then), why it was
    proposed (``nearest_smiles``, ``nearest_similarity``, ``nearest_value``: its nearest measured
    molecule then; ``out_of_domain``; all None for molecules never proposed or proposed before
    explanations were stored), ``value`` (mean of its measurements, None before any),
    ``measurements`` (how many) and ``external`` (measured but never proposed).
    """
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        table: dict[str, dict] = {}
        proposals = session.execute(
            select(Proposal, Round.number, ProposalExplanation)
            .join(Round)
            .outerjoin(ProposalExplanation, ProposalExplanation.proposal_id == Proposal.id)
            .where(Round.campaign_id == campaign.id)
            .order_by(Round.number, Proposal.rank)
        ).all()
        for proposal, number, why in proposals:
            table[proposal.smiles] = {
                "round": number,
                "rank": proposal.rank,
                "predicted_mean": proposal.predicted_mean,
                "predicted_std": proposal.predicted_std,
                "priority": proposal.priority,
                **_explained(why),
            }
        values: dict[str, list[float]] = {}
        for m in _measurements(session, campaign.id):
            values.setdefault(m.smiles, []).append(m.value)
            blank = {"round": m.round_number, "rank": None, "predicted_mean": None, "predicted_std": None}
            table.setdefault(m.smiles, {**blank, "priority": None, **_explained(None)})
    rows = [
        {
            "key": molecule_key(smiles),
            "smiles": smiles,
            **row,
            "value": sum(values[smiles]) / len(values[smiles]) if smiles in values else None,
            "measurements": len(values.get(smiles, [])),
            "external": row["rank"] is None,
        }
        for smiles, row in table.items()
    ]
    return sorted(rows, key=lambda r: (r["round"], r["rank"] or 0, r["smiles"]))


def _explained(why: ProposalExplanation | None) -> dict:
    keys = ("nearest_smiles", "nearest_similarity", "nearest_value", "out_of_domain")
    return {k: getattr(why, k) if why is not None else None for k in keys}


def rounds_since(db_url: str, name: str, since_iso: str) -> list[int]:
    """Numbers of the campaign's rounds stored at or after ``since_iso`` (an ISO time with zone)."""
    since = datetime.fromisoformat(since_iso)
    with session_scope(connect(db_url)) as session:
        campaign = get_campaign(session, name)
        return [r.number for r in campaign.rounds if _aware(r.created) >= since]


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they were stored in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
