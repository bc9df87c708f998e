"""A campaign's reward model: refitted inside the import transaction, stored as bytes in the
database (safetensors + JSON, never a pickle), loaded for ``propose``."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from chemloop.loop.config import CampaignConfig
from chemloop.loop.store import Measurement, Preference, RewardModelVersion
from chemloop.reward.data import PreferenceData, ValueData
from chemloop.reward.evaluate import cross_validate
from chemloop.reward.features import FeatureTable
from chemloop.reward.model import META, WEIGHTS, RewardConfig, RewardModel


def _feedback(session: Session, campaign_id: int) -> ValueData | PreferenceData | None:
    """Measured values if there are any, otherwise the chemists' preferences."""
    rows = session.scalars(select(Measurement).where(Measurement.campaign_id == campaign_id)).all()
    if rows:
        std = np.array([r.std for r in rows], dtype=float) if all(r.std for r in rows) else None
        return ValueData([r.smiles for r in rows], np.array([r.value for r in rows]), std, "campaign results")
    pairs = session.scalars(select(Preference).where(Preference.campaign_id == campaign_id)).all()
    if pairs:
        return PreferenceData(
            [p.smiles_a for p in pairs],
            [p.smiles_b for p in pairs],
            [p.preferred for p in pairs],
            "preferences",
        )
    return None


def refit(session: Session, campaign_id: int, config: CampaignConfig) -> RewardModelVersion | None:
    """Fit on everything the campaign has measured (once there are ``min_measurements``) and store it
    with its cross-validated quality; returns None while there is too little data."""
    data = _feedback(session, campaign_id)
    if data is None or len(data) < config.campaign.min_measurements:
        return None
    reward = config.reward
    settings = RewardConfig(
        kind=data.kind,
        features=reward.features,
        ensemble=reward.ensemble,
        hidden=reward.hidden,
        epochs=reward.epochs,
        seed=config.campaign.seed,
    )
    table = FeatureTable(reward.features)  # features computed once, shared by the folds and the fit
    folds = min(reward.cv_folds, len(data) // 2)
    quality: dict = {"folds": 0}
    if folds >= 2:
        metrics = cross_validate(data, settings, folds=folds, seed=config.campaign.seed, table=table)
        quality = {"primary": metrics["primary"], "folds": folds, **metrics["metrics"]}
    model = RewardModel.fit(data, settings, table=table)
    with tempfile.TemporaryDirectory() as folder:
        model.save(folder)
        version = RewardModelVersion(
            campaign_id=campaign_id,
            measurements=len(data),
            weights=(Path(folder) / WEIGHTS).read_bytes(),
            metadata_json=(Path(folder) / META).read_text(),
            metrics_json=json.dumps(quality),
        )
    session.add(version)
    session.flush()
    return version


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
