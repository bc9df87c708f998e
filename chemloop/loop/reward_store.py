"""A campaign's reward model: fitted on all its feedback after the seed data, after each import of
results, on request (``refit``), and by ``propose`` when feedback (ratings, preferences) arrived
since the last fit; the fit runs outside any database transaction. Stored as bytes in the
database (safetensors + JSON, never a pickle) with its cross-validated quality; loaded for
``propose``."""

from __future__ import annotations

import itertools
import json
import tempfile
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from chemloop.loop.assay import campaign_assay, censored_pairs, utility_qualifier
from chemloop.loop.config import CampaignConfig
from chemloop.loop.progress import ProgressCallback, Stages
from chemloop.loop.store import (
    CensoredMeasurement,
    Measurement,
    Preference,
    PreferenceSource,
    Rating,
    RewardModelVersion,
    session_scope,
)
from chemloop.reward.data import PreferenceData, ValueData
from chemloop.reward.evaluate import cross_validate
from chemloop.reward.features import FeatureTable
from chemloop.reward.model import META, WEIGHTS, RewardConfig, RewardModel

MAX_RATING_PAIRS = 5000  # ratings become pairs (higher beats lower); a sample keeps the fit fast
KEPT_FITS = 5  # reward models kept per campaign (the newest); older ones go when a new one is stored
# Stages of a refit, as progress reports name them.
CROSS_VALIDATING = "cross-validating the reward model"
FITTING = "fitting the reward model"


def feedback_counts(session: Session, campaign_id: int) -> dict[str, int]:
    """How many values, preferences and ratings the campaign holds (a refit is due when they change)."""
    counts = {
        name: session.scalar(select(func.count()).select_from(table).where(table.campaign_id == campaign_id))
        or 0
        for name, table in (
            ("values", Measurement),
            ("preferences", Preference),
            ("ratings", Rating),
            ("censored", CensoredMeasurement),
        )
    }
    if not counts["censored"]:  # a campaign without any keeps the counts its stored fits saw: not stale
        del counts["censored"]
    return counts


def _rating_pairs(ratings: list[Rating], seed: int) -> PreferenceData:
    """Ratings as preferences: each molecule's mean rating beats every lower-rated molecule's.

    Pairs carry no scale, so 1–5 ratings can join measured values in one model without
    pretending a rating is in the assay's units.
    """
    by_molecule: dict[str, list[int]] = {}
    for r in ratings:
        by_molecule.setdefault(r.smiles, []).append(r.rating)
    mean = {s: sum(v) / len(v) for s, v in by_molecule.items()}
    molecules = list(mean)
    n = len(molecules)
    if n * (n - 1) // 2 <= MAX_RATING_PAIRS:
        candidates = itertools.combinations(molecules, 2)
    else:  # too many to list: draw index pairs instead (a few may repeat; that only reweights them)
        rng = np.random.default_rng(seed)
        first, second = rng.integers(0, n, MAX_RATING_PAIRS), rng.integers(0, n, MAX_RATING_PAIRS)
        candidates = ((molecules[i], molecules[j]) for i, j in zip(first, second, strict=True) if i != j)
    pairs = [(a, b) for a, b in candidates if mean[a] != mean[b]]
    return PreferenceData(
        [a for a, _ in pairs], [b for _, b in pairs], ["a" if mean[a] > mean[b] else "b" for a, b in pairs]
    )


def _feedback(
    session: Session, campaign_id: int, seed: int, ai_pair_weight: float = 1.0
) -> tuple[ValueData | PreferenceData | None, PreferenceData]:
    """All the campaign's feedback: its measured values (if any) and its preference pairs (the
    chemists' choices, the pairs implied by their ratings and by censored results, and AI-judged
    pairs weighted by ``ai_pair_weight``). Without values, the pairs are the data.

    Values go in as utilities (value × the assay's sign): the model learns "higher is better"
    whichever way the assay points, on the scale preferences and ratings share."""
    sign = campaign_assay(session, campaign_id).sign
    rows = session.scalars(select(Measurement).where(Measurement.campaign_id == campaign_id)).all()
    bounds = session.scalars(
        select(CensoredMeasurement).where(CensoredMeasurement.campaign_id == campaign_id)
    ).all()
    implied = censored_pairs(
        [(r.smiles, sign * r.value) for r in rows],
        [(c.smiles, utility_qualifier(c.qualifier, sign), sign * c.bound) for c in bounds],
        seed,
    )
    prefs = session.scalars(select(Preference).where(Preference.campaign_id == campaign_id)).all()
    judged = set(
        session.scalars(
            select(PreferenceSource.preference_id)
            .join(Preference, Preference.id == PreferenceSource.preference_id)
            .where(Preference.campaign_id == campaign_id)
        )
    )
    ratings = session.scalars(select(Rating).where(Rating.campaign_id == campaign_id)).all()
    from_ratings = _rating_pairs(list(ratings), seed)
    weights = [ai_pair_weight if p.id in judged else 1.0 for p in prefs]
    weights += [1.0] * (len(from_ratings) + len(implied))
    pairs = PreferenceData(
        [p.smiles_a for p in prefs] + from_ratings.smiles_a + [winner for winner, _ in implied],
        [p.smiles_b for p in prefs] + from_ratings.smiles_b + [loser for _, loser in implied],
        [p.preferred for p in prefs] + from_ratings.preferred + ["a"] * len(implied),
        "preferences and ratings",
        weights=None if all(w == 1.0 for w in weights) else weights,
    )
    if rows:
        std = np.array([r.std for r in rows], dtype=float) if all(r.std for r in rows) else None
        values = ValueData(
            [r.smiles for r in rows], np.array([sign * r.value for r in rows]), std, "campaign results"
        )
        return values, pairs
    return (pairs if len(pairs) else None), PreferenceData([], [], [])


def refit(
    factory: sessionmaker[Session],
    campaign_id: int,
    config: CampaignConfig,
    progress: ProgressCallback | None = None,
) -> bool:
    """Fit on everything the campaign holds (once there are ``min_measurements``) and store the model
    with its cross-validated quality; False while there is too little data.

    The fit runs between two short transactions (read the feedback; store the model), never inside
    one: a SQLite write lock held through a minute of fitting would fail every other writer. If the
    process dies mid-fit, nothing is lost: the feedback is stored, and ``is_stale`` makes the next
    ``propose`` fit again. ``progress`` hears of each cross-validation fold and the final fit.
    """
    with session_scope(factory) as session:
        data, pairs = _feedback(session, campaign_id, config.campaign.seed, config.reward.ai_pair_weight)
        counts = feedback_counts(session, campaign_id)
    # A censored result ("<5") is a molecule tested too: it counts towards the minimum.
    too_few = data is None or len(data) < 2  # a fit needs two rows of its own kind
    if too_few or len(data) + counts.get("censored", 0) < config.campaign.min_measurements:
        return False
    reward = config.reward
    settings = RewardConfig(
        kind=data.kind,
        features=reward.features,
        ensemble=reward.ensemble,
        hidden=reward.hidden,
        epochs=reward.epochs,
        parent_forms=reward.parent_forms,
        seed=config.campaign.seed,
    )
    table = FeatureTable(reward.features)  # features computed once, shared by the folds and the fit
    folds = min(reward.cv_folds, len(data) // 2)
    quality: dict = {"folds": 0}
    # Each fold's fit costs about what the final one does.
    stages = Stages(progress, {CROSS_VALIDATING: folds if folds >= 2 else 0, FITTING: 1})
    if folds >= 2:
        stages.step(CROSS_VALIDATING, 0, folds, "folds")
        metrics = cross_validate(
            data,
            settings,
            folds=folds,
            seed=config.campaign.seed,
            table=table,
            pairs=pairs or None,
            progress=lambda fold, _: stages.step(CROSS_VALIDATING, fold, folds, "folds"),
        )
        quality = {"primary": metrics["primary"], "folds": folds, **metrics["metrics"]}
    quality["feedback"] = counts  # what this model saw: is_stale compares it with what is stored now
    stages.step(FITTING, 0)
    model = RewardModel.fit(data, settings, table=table, pairs=pairs or None)
    with tempfile.TemporaryDirectory() as folder:
        model.save(folder)
        version = RewardModelVersion(
            campaign_id=campaign_id,
            measurements=len(data),
            weights=(Path(folder) / WEIGHTS).read_bytes(),
            metadata_json=(Path(folder) / META).read_text(),
            metrics_json=json.dumps(quality),
        )
    with session_scope(factory) as session:
        session.add(version)
        session.flush()
        _prune(session, campaign_id)
    stages.step(FITTING, 1)
    return True


def _prune(session: Session, campaign_id: int) -> None:
    """Delete all but the campaign's ``KEPT_FITS`` newest reward models (in the caller's transaction)."""
    older = session.scalars(
        select(RewardModelVersion.id)
        .where(RewardModelVersion.campaign_id == campaign_id)
        .order_by(RewardModelVersion.id.desc())
        .offset(KEPT_FITS)
    ).all()
    if older:
        session.execute(delete(RewardModelVersion).where(RewardModelVersion.id.in_(older)))


def _latest(session: Session, campaign_id: int) -> RewardModelVersion | None:
    return session.scalar(
        select(RewardModelVersion)
        .where(RewardModelVersion.campaign_id == campaign_id)
        .order_by(RewardModelVersion.id.desc())
        .limit(1)
    )


def latest(session: Session, campaign_id: int) -> RewardModel | None:
    """The most recent reward model of the campaign, loaded; None before the first fit."""
    version = _latest(session, campaign_id)
    if version is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / WEIGHTS).write_bytes(version.weights)
        (Path(folder) / META).write_text(version.metadata_json)
        return RewardModel.load(folder)


def is_stale(session: Session, campaign_id: int) -> bool:
    """Whether feedback arrived (e.g. ratings from the web app) since the latest fit."""
    version = _latest(session, campaign_id)
    counts = feedback_counts(session, campaign_id)
    if version is None:
        return any(counts.values())
    return json.loads(version.metrics_json).get("feedback") != counts


def quality(session: Session, campaign_id: int) -> dict | None:
    """The latest model's size and cross-validated metrics (for ``status``)."""
    version = _latest(session, campaign_id)
    if version is None:
        return None
    return {
        "measurements": version.measurements,
        "created": str(version.created),
        **json.loads(version.metrics_json),
    }
