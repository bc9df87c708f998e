"""Design-make-test campaigns: init → propose → (lab) → import → propose …

Each function is one database transaction. ``propose`` does all its slow work (RL
fine-tuning, sampling, prediction) before it opens its transaction, so a process killed
mid-way leaves nothing behind and the next ``propose`` starts clean.
"""

from __future__ import annotations

import csv
import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chemloop.chem.mol import try_canonical
from chemloop.errors import ChemloopError
from chemloop.loop import rewards
from chemloop.loop.acquisition import acquisition_values, select_batch
from chemloop.loop.config import CampaignConfig
from chemloop.loop.store import (
    Campaign,
    ImportedFile,
    Measurement,
    Preference,
    Proposal,
    Round,
    get_campaign,
    session_scope,
)
from chemloop.model import checkpoint
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.generate import sample
from chemloop.reward.data import read_preferences, read_values
from chemloop.rl.agent import Agent
from chemloop.score.scorer import Scorer
from chemloop.score.transforms import sigmoid


def init_campaign(factory: sessionmaker[Session], name: str, config: CampaignConfig) -> dict:
    """Create campaign ``name``; import its seed data (round 0) and fit a first reward model."""
    if not name.strip():
        raise ChemloopError("a campaign needs a non-empty name")
    seed_rows = _read_results(config.campaign.seed_data) if config.campaign.seed_data else None
    with session_scope(factory) as session:
        if session.scalar(select(Campaign).where(Campaign.name == name)) is not None:
            raise ChemloopError(f"campaign {name!r} already exists")
        campaign = Campaign(name=name, config_json=config.model_dump_json())
        session.add(campaign)
        session.flush()
        imported = 0
        if seed_rows is not None:
            imported = _store_results(session, campaign, config, seed_rows, external=True)
    return {"campaign": name, "seed_measurements": imported}


@dataclass
class Proposed:
    round: int
    smiles: list[str]
    predicted_mean: list[float | None]
    predicted_std: list[float | None]
    priority: list[float]
    seconds: float


def propose(
    factory: sessionmaker[Session], name: str, batch: int | None = None, output: str | Path | None = None
) -> Proposed:
    """Fine-tune the agent against the current reward, generate, choose a batch, store the round."""
    start = time.perf_counter()
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        config = CampaignConfig.model_validate_json(campaign.config_json)
        known = set(session.scalars(select(Measurement.smiles).where(Measurement.campaign_id == campaign.id)))
        known |= set(
            session.scalars(select(Proposal.smiles).join(Round).where(Round.campaign_id == campaign.id))
        )
        model = rewards.latest(session, campaign.id)
        values = [m.value for m in _measurements(session, campaign.id)]
        round_number = 1 + (
            session.scalar(select(func.max(Round.number)).where(Round.campaign_id == campaign.id)) or 0
        )
    settings = config.campaign
    k = batch or settings.batch

    # 1. Steer the agent towards the current objective (the reward model's optimistic estimate).
    scorer = Scorer(config.score) if config.score else None
    objective = _objective(model, scorer, values, settings.kappa)
    prior = checkpoint.load(settings.model)
    agent = Agent(prior, batch_size=settings.rl_batch_size, seed=settings.seed + round_number)
    if objective is not None:
        for _ in range(settings.rl_steps):
            agent.step(objective)

    # 2. Generate candidates the campaign has not seen, and predict them.
    agent.agent.eval()
    report = sample(
        LanguageModel(agent.agent, prior.tokenizer), settings.candidates, seed=settings.seed + round_number
    )
    candidates = [
        c for c in dict.fromkeys(m.canonical for m in report.molecules if m.valid) if c not in known
    ]
    if scorer is not None:  # constraints: drop what the components score 0 (filters, hard limits)
        candidates = [r.canonical for r in scorer(candidates) if r.score > 0]
    if not candidates:
        raise ChemloopError(f"campaign {name!r}: no new candidates passed the constraints; nothing proposed")
    if model is not None:
        mean, std = model.predict(candidates)
        best = max(values) if values else None
        priority = acquisition_values(
            mean,
            std,
            settings.acquisition,
            kappa=settings.kappa,
            best=best,
            rng=np.random.default_rng(round_number),
        )
    else:  # no reward model yet: rank by the components, or keep the prior's order
        mean = std = None
        priority = np.array([r.score for r in scorer(candidates)]) if scorer else np.zeros(len(candidates))
    chosen = select_batch(candidates, list(priority), k=k, max_similarity=settings.max_similarity)

    result = Proposed(
        round=round_number,
        smiles=[candidates[i] for i in chosen],
        predicted_mean=[None if mean is None else float(mean[i]) for i in chosen],
        predicted_std=[None if std is None else float(std[i]) for i in chosen],
        priority=[float(priority[i]) for i in chosen],
        seconds=time.perf_counter() - start,
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
            for rank, (s, m, sd, p) in enumerate(
                zip(result.smiles, result.predicted_mean, result.predicted_std, result.priority, strict=True),
                start=1,
            ):
                session.add(
                    Proposal(
                        round_id=round_.id,
                        rank=rank,
                        smiles=s,
                        predicted_mean=m,
                        predicted_std=sd,
                        priority=p,
                    )
                )
    except IntegrityError:
        raise ChemloopError(
            f"campaign {name!r}: round {round_number} was stored by another process"
        ) from None
    if output is not None:
        _write_proposals(Path(output), result)
    return result


def _objective(model, scorer: Scorer | None, values: list[float], kappa: float):
    """The RL score in [0, 1]: the reward model's mean + κ·std squashed between the measured
    extremes, times the components' aggregate (which is 0 where a filter fails)."""
    if model is None and scorer is None:
        return None
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if high <= low:
        high = low + 1.0

    def score(smiles: list[str]) -> list[float]:
        canonical = [try_canonical(s) for s in smiles]
        valid = [c for c in canonical if c]
        parts = {c: 1.0 for c in valid}
        if model is not None and valid:
            mean, std = model.predict(valid)
            for c, m, s in zip(valid, mean, std, strict=True):
                parts[c] *= sigmoid(float(m + kappa * s), low, high)
        if scorer is not None and valid:
            for c, r in zip(valid, scorer(valid), strict=True):
                parts[c] *= 0.0 if math.isnan(r.score) else r.score
        return [parts[c] if c else 0.0 for c in canonical]

    return score


def _write_proposals(path: Path, proposed: Proposed) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rank", "smiles", "predicted_value", "predicted_std", "priority", "round"])
        for rank, row in enumerate(
            zip(
                proposed.smiles,
                proposed.predicted_mean,
                proposed.predicted_std,
                proposed.priority,
                strict=True,
            ),
            start=1,
        ):
            writer.writerow([rank, *("" if v is None else v for v in row), proposed.round])


# --- import -------------------------------------------------------------------------------------


@dataclass
class ResultRows:
    kind: str  # "values" or "preferences"
    rows: list[tuple]  # (smiles, value, std) or (smiles_a, smiles_b, preferred); canonical SMILES
    sha256: str
    filename: str


def _read_results(path: str | Path) -> ResultRows:
    """Read a results CSV (``smiles,value[,std]`` or ``smiles_a,smiles_b,preferred``); every bad
    row is reported by number before anything is stored."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ChemloopError(f"cannot read results file {path}: {err}") from None
    header = next(csv.reader(raw.decode("utf-8-sig").splitlines()[:1]), [])
    columns = {c.strip() for c in header}
    if {"smiles", "value"} <= columns:
        values = read_values(path)
        std = values.std if values.std is not None else [None] * len(values)
        rows = [
            (s, float(v), None if d is None else float(d))
            for s, v, d in zip(values.smiles, values.values, std, strict=True)
        ]
        kind = "values"
    elif {"smiles_a", "smiles_b", "preferred"} <= columns:
        prefs = read_preferences(path)
        rows = list(zip(prefs.smiles_a, prefs.smiles_b, prefs.preferred, strict=True))
        kind = "preferences"
    else:
        raise ChemloopError(
            f"{path}: columns {sorted(columns)} are neither smiles,value[,std] "
            "nor smiles_a,smiles_b,preferred"
        )
    return ResultRows(kind, rows, hashlib.sha256(raw).hexdigest(), path.name)


def import_results(
    factory: sessionmaker[Session], name: str, path: str | Path, external: bool = False
) -> dict:
    """Store a results file and refit the reward model, in one transaction.

    The same file (by content) imported again changes nothing. A molecule the campaign never
    proposed is rejected, naming its row, unless ``external``.
    """
    results = _read_results(path)
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        config = CampaignConfig.model_validate_json(campaign.config_json)
        duplicate = session.scalar(
            select(ImportedFile).where(
                ImportedFile.campaign_id == campaign.id, ImportedFile.sha256 == results.sha256
            )
        )
        if duplicate is not None:
            return {
                "campaign": name,
                "imported": 0,
                "note": f"{results.filename} was already imported; nothing changed",
            }
        count = _store_results(session, campaign, config, results, external)
    return {"campaign": name, "imported": count, "kind": results.kind}


def _store_results(
    session: Session, campaign: Campaign, config: CampaignConfig, results: ResultRows, external: bool
) -> int:
    proposed_in = dict(
        session.execute(
            select(Proposal.smiles, func.max(Round.number))
            .join(Round)
            .where(Round.campaign_id == campaign.id)
            .group_by(Proposal.smiles)
        ).all()
    )
    smiles_of_row = (
        [(r[0],) for r in results.rows] if results.kind == "values" else [(r[0], r[1]) for r in results.rows]
    )
    unknown = [
        (n, s) for n, group in enumerate(smiles_of_row, start=2) for s in group if s not in proposed_in
    ]
    if unknown and not external:
        shown = "; ".join(f"row {n}: {s}" for n, s in unknown[:10])
        raise ChemloopError(
            f"{results.filename}: molecules this campaign never proposed ({shown}); "
            "pass --external to accept results from outside the campaign"
        )
    file = ImportedFile(
        campaign_id=campaign.id, sha256=results.sha256, filename=results.filename, rows=len(results.rows)
    )
    session.add(file)
    session.flush()
    for row in results.rows:
        if results.kind == "values":
            smiles, value, std = row
            session.add(
                Measurement(
                    campaign_id=campaign.id,
                    file_id=file.id,
                    smiles=smiles,
                    value=value,
                    std=std,
                    round_number=proposed_in.get(smiles, 0),
                    external=smiles not in proposed_in,
                )
            )
        else:
            session.add(
                Preference(
                    campaign_id=campaign.id,
                    file_id=file.id,
                    smiles_a=row[0],
                    smiles_b=row[1],
                    preferred=row[2],
                )
            )
    session.flush()
    rewards.refit(session, campaign.id, config)
    return len(results.rows)


def _measurements(session: Session, campaign_id: int) -> list[Measurement]:
    return list(session.scalars(select(Measurement).where(Measurement.campaign_id == campaign_id)))


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
        preferences = session.scalar(
            select(func.count()).select_from(Preference).where(Preference.campaign_id == campaign.id)
        )
        return {
            "campaign": name,
            "rounds": rounds,
            "seed_measurements": len(seed),
            "best_seed": max(seed, default=None),
            "molecules_tested": len({m.smiles for m in measured}),
            "best": max((m.value for m in measured), default=None),
            "preferences": preferences,
            "reward_model": rewards.quality(session, campaign.id),
        }
