"""What a campaign holds, read without changing it: its status, the campaign list, the molecule
table, its stored config, and the rounds and reward models stored since a moment.

Each read opens one session of its own; the faces reach these through :mod:`chemloop.services`.
The writes (init, propose, feedback, refit) are in :mod:`chemloop.loop.campaign`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from chemloop.chem.mol import molecule_key
from chemloop.loop import reward_store
from chemloop.loop.assay import Assay, campaign_assay, written
from chemloop.loop.config import CampaignConfig
from chemloop.loop.store import (
    Campaign,
    CensoredMeasurement,
    CompoundId,
    Measurement,
    Proposal,
    ProposalExplanation,
    RewardModelVersion,
    Round,
    connect,
    get_campaign,
    session_scope,
)


def require_campaign(factory: sessionmaker[Session], name: str) -> None:
    """Raise :class:`UnknownCampaignError` naming ``name`` unless the campaign exists."""
    with session_scope(factory) as session:
        get_campaign(session, name)


def stored_config(factory: sessionmaker[Session], name: str) -> CampaignConfig:
    """The config the campaign was created with."""
    with session_scope(factory) as session:
        return CampaignConfig.model_validate_json(get_campaign(session, name).config_json)


def campaign_measurements(session: Session, campaign_id: int) -> list[Measurement]:
    """The campaign's exact measurements (seed and every round), in no particular order."""
    return list(session.scalars(select(Measurement).where(Measurement.campaign_id == campaign_id)))


def campaign_censored(session: Session, campaign_id: int) -> list[CensoredMeasurement]:
    """The campaign's results beyond the assay's range (e.g. "<5"), in no particular order."""
    return list(
        session.scalars(select(CensoredMeasurement).where(CensoredMeasurement.campaign_id == campaign_id))
    )


# --- status --------------------------------------------------------------------------------------


def status(factory: sessionmaker[Session], name: str) -> dict:
    """Rounds, molecules tested, best measured value per round, and the reward model's quality."""
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        measured = campaign_measurements(session, campaign.id)
        assay = campaign_assay(session, campaign.id)
        censored = campaign_censored(session, campaign.id)
        rounds = []
        for round_ in campaign.rounds:
            values = [m.value for m in measured if m.round_number == round_.number and not m.external]
            bounds = [c for c in censored if c.round_number == round_.number and not c.external]
            best, bound = _best(assay, values, bounds)
            rounds.append(
                {
                    "round": round_.number,
                    "proposed": len(round_.proposals),
                    "measured": len(values) + len(bounds),
                    "best": best,
                    "best_bound": bound,
                    "propose_seconds": round(round_.seconds, 1),
                }
            )
        seed = [m.value for m in measured if m.round_number == 0]
        seed_best, seed_bound = _best(assay, seed, [c for c in censored if c.round_number == 0])
        best, bound = _best(assay, [m.value for m in measured], censored)
        counts = reward_store.feedback_counts(session, campaign.id)
        prompt = CampaignConfig.model_validate_json(campaign.config_json).run.prompt
        return {
            "campaign": name,
            "assay": assay.as_dict(),
            "core": prompt.text if prompt is not None else None,
            "rounds": rounds,
            "seed_measurements": len(seed) + sum(c.round_number == 0 for c in censored),
            "best_seed": seed_best,
            "best_seed_bound": seed_bound,
            "molecules_tested": len({m.smiles for m in measured} | {c.smiles for c in censored}),
            "best": best,
            "best_bound": bound,
            "censored": len(censored),
            "preferences": counts["preferences"],
            "ratings": counts["ratings"],
            "reward_model": reward_store.quality(session, campaign.id),
            "reward_model_stale": reward_store.is_stale(session, campaign.id),
        }


def _best(
    assay: Assay, values: list[float], bounds: list[CensoredMeasurement]
) -> tuple[float | None, str | None]:
    """The best result, a censored one on the good side (">8" where higher is better) counting at
    its bound (an exact value wins a tie); and that bound as written when it is the best."""
    results = [(v, None) for v in values]
    for c in bounds:
        text = written(c.qualifier, c.bound)
        at_least = assay.ranking_value(None, [text])
        if at_least is not None:
            results.append((at_least, text))
    best = assay.better(v for v, _ in results)
    return best, next((text for v, text in results if v == best), None)


# --- the campaign list and the molecule table ----------------------------------------------------


def list_campaigns(factory: sessionmaker[Session]) -> list[dict]:
    """Every campaign by name, with its rounds proposed and molecules tested."""
    with session_scope(factory) as session:
        rounds = dict(
            session.execute(select(Round.campaign_id, func.count()).group_by(Round.campaign_id)).all()
        )
        molecules_of: dict[int, set[str]] = {}  # measured exactly or beyond the assay's range
        for table in (Measurement, CensoredMeasurement):
            for campaign_id, smiles in session.execute(select(table.campaign_id, table.smiles).distinct()):
                molecules_of.setdefault(campaign_id, set()).add(smiles)
        tested = {campaign_id: len(found) for campaign_id, found in molecules_of.items()}
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

    Keys: ``key`` (:func:`molecule_key`), ``smiles`` (canonical), ``compound_id`` (the chemist's id
    from the results files' id column; several, first stored first, joined by "; "; None: none
    given), ``round`` (the round that proposed
    it; 0 for seed and external data), ``rank``, ``predicted_mean``/``predicted_std`` (the reward
    model's prediction when proposed), ``priority`` (its acquisition score then), why it was
    proposed (``nearest_smiles``, ``nearest_similarity``, ``nearest_value``: its nearest measured
    molecule then; ``out_of_domain``; all None for molecules never proposed or proposed before
    explanations were stored), ``value`` (mean of its exact measurements, None before any),
    ``measurements`` (how many), ``censored`` (its results beyond the assay's range as written,
    e.g. ``["<5"]``), ``unit`` (the assay's) and ``external`` (measured but never proposed).
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
        bounds: dict[str, list[str]] = {}
        measured, censored = (
            campaign_measurements(session, campaign.id),
            campaign_censored(session, campaign.id),
        )
        results = [(m.smiles, m.round_number, m.value, "") for m in measured]
        results += [(c.smiles, c.round_number, c.bound, c.qualifier) for c in censored]
        for smiles, round_number, value, qualifier in results:
            if qualifier:
                bounds.setdefault(smiles, []).append(written(qualifier, value))
            else:
                values.setdefault(smiles, []).append(value)
            blank = {"round": round_number, "rank": None, "predicted_mean": None, "predicted_std": None}
            table.setdefault(smiles, {**blank, "priority": None, **_explained(None)})
        unit = campaign_assay(session, campaign.id).unit
        compound_ids = _compound_ids(session, campaign.id)
    rows = [
        {
            "key": molecule_key(smiles),
            "smiles": smiles,
            "compound_id": "; ".join(compound_ids[smiles]) if smiles in compound_ids else None,
            **row,
            "value": sum(values[smiles]) / len(values[smiles]) if smiles in values else None,
            "censored": bounds.get(smiles, []),  # results beyond the assay's range, as written ("<5")
            "unit": unit,
            "measurements": len(values.get(smiles, [])),  # exact values (their mean is "value")
            "external": row["rank"] is None,
        }
        for smiles, row in table.items()
    ]
    return sorted(rows, key=lambda r: (r["round"], r["rank"] or 0, r["smiles"]))


def _compound_ids(session: Session, campaign_id: int) -> dict[str, list[str]]:
    """Each molecule's compound ids, each once, in the order they were stored."""
    ids: dict[str, list[str]] = {}
    rows = session.execute(
        select(CompoundId.smiles, CompoundId.compound_id)
        .where(CompoundId.campaign_id == campaign_id)
        .order_by(CompoundId.id)
    )
    for smiles, compound_id in rows:
        if compound_id not in ids.setdefault(smiles, []):
            ids[smiles].append(compound_id)
    return ids


def _explained(why: ProposalExplanation | None) -> dict:
    keys = ("nearest_smiles", "nearest_similarity", "nearest_value", "out_of_domain")
    return {k: getattr(why, k) if why is not None else None for k in keys}


# --- what a job stored since it started ----------------------------------------------------------


def rounds_since(db_url: str, name: str, since_iso: str) -> list[int]:
    """Numbers of the campaign's rounds stored at or after ``since_iso`` (an ISO time with zone)."""
    since = datetime.fromisoformat(since_iso)
    with session_scope(connect(db_url)) as session:
        campaign = get_campaign(session, name)
        return [r.number for r in campaign.rounds if _aware(r.created) >= since]


def fits_since(db_url: str, name: str, since_iso: str) -> int:
    """How many of the campaign's reward models were stored at or after ``since_iso``."""
    since = datetime.fromisoformat(since_iso)
    with session_scope(connect(db_url)) as session:
        campaign = get_campaign(session, name)
        created = session.scalars(
            select(RewardModelVersion.created).where(RewardModelVersion.campaign_id == campaign.id)
        )
        return sum(_aware(moment) >= since for moment in created)


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they were stored in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
