"""What the web app's tests share: the server settings, a seed file, and a proposed round stored
as `propose` stores it (without running the model)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from chemloop.chem.mol import canonical
from chemloop.loop.store import Proposal, Round, get_campaign, session_scope
from chemloop.services.settings import ServeSettings

KEY = "test-key-0123456789"
TINY_REWARD = {"ensemble": 2, "hidden": 16, "epochs": 5, "cv_folds": 0}  # refits after an upload stay fast
SEED = {"CCO": 1.0, "Oc1ccccc1": 2.0, "N#Cc1ccccc1": 3.0, "C[C@H](N)C(=O)O": 2.5}  # 4 rows: no model fit
PROPOSED = [  # (SMILES, predicted mean, std): round 1, with an alert or two among them
    ("O=C1C=CC(=O)C=C1", 2.0, 0.5),
    ("CCCCCCCC", 2.1, 0.4),
    ("c1ccc2ccccc2c1", 3.5, 0.3),
    ("CC(=O)Nc1ccc(O)cc1", 1.2, 0.6),
    ("C=CC(=O)Nc1ccccc1", 2.8, 0.2),
]


def settings_for(tmp_path: Path, db: str) -> ServeSettings:
    return ServeSettings(db_url=f"sqlite:///{tmp_path / db}", api_key=KEY, runs_dir=tmp_path / "runs")


def seed_csv(path: Path, rows: dict[str, float]) -> Path:
    path.write_text("smiles,value\n" + "".join(f"{s},{v}\n" for s, v in rows.items()))
    return path


def add_round(factory, name: str, rows=PROPOSED, number: int = 1) -> None:
    """A round as ``propose`` stores it, without running the model (the pages only read it)."""
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        round_ = Round(campaign_id=campaign.id, number=number, acquisition="ucb", seconds=1.5)
        session.add(round_)
        session.flush()
        for rank, (smiles, mean, std) in enumerate(rows, start=1):
            session.add(
                Proposal(
                    round_id=round_.id,
                    rank=rank,
                    smiles=canonical(smiles),
                    predicted_mean=mean,
                    predicted_std=std,
                    priority=mean + std,
                )
            )


def count(factory, table, name: str) -> int:
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        return session.scalar(select(func.count()).select_from(table).where(table.campaign_id == campaign.id))
