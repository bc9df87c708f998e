"""Which two molecules a chemist compares next (the web app's review page, the API).

The pairs that teach the reward model most are the ones it cannot tell apart: two molecules
whose estimates are close. So: order the campaign's molecules by their best estimate (the
measured value where there is one, else the prediction made when it was proposed) and take the
closest neighbours the chemist has not compared (nor skipped) yet. Molecules without any
estimate come last and are paired among themselves in campaign order. Looking only at the next
few neighbours in that order keeps this linear in the number of molecules, and it is
deterministic, so the same state always shows the same pair.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chemloop.loop.campaign_reads import molecules
from chemloop.loop.store import Preference, get_campaign, session_scope

NEIGHBOURS = 8  # candidates per molecule: its next neighbours in estimate order


def compared_pairs(factory: sessionmaker[Session], name: str) -> set[frozenset[str]]:
    """Every pair of canonical SMILES the campaign holds a preference for (either order)."""
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        rows = session.execute(
            select(Preference.smiles_a, Preference.smiles_b).where(Preference.campaign_id == campaign.id)
        ).all()
    return {frozenset(row) for row in rows}


def _estimate(molecule: dict) -> float | None:
    return molecule["value"] if molecule["value"] is not None else molecule["predicted_mean"]


def next_pair(
    factory: sessionmaker[Session], name: str, skipped: Iterable[tuple[str, str]] = ()
) -> tuple[dict, dict] | None:
    """The next two molecules (rows of :func:`molecules`) to compare, or None when every pair is done.

    ``skipped``: pairs (SMILES, SMILES) the chemist passed over in this session, not shown again.
    """
    done = compared_pairs(factory, name) | {frozenset(pair) for pair in skipped}
    table = molecules(factory, name)
    scored = sorted((m for m in table if _estimate(m) is not None), key=_estimate)
    unscored = [m for m in table if _estimate(m) is None]
    for group, has_estimates in ((scored, True), (unscored, False)):
        best: tuple[float, int, dict, dict] | None = None  # (gap, position, a, b): smallest gap first
        for i, a in enumerate(group):
            for b in group[i + 1 : i + 1 + NEIGHBOURS]:
                if frozenset((a["smiles"], b["smiles"])) in done:
                    continue
                gap = _estimate(b) - _estimate(a) if has_estimates else 0.0  # sorted: never negative
                if best is None or (gap, i) < best[:2]:
                    best = (gap, i, a, b)
        if best is not None:
            return best[2], best[3]
    # Every near neighbour is done: fall back to any pair left, in campaign order.
    for i, a in enumerate(table):
        for b in table[i + 1 :]:
            if frozenset((a["smiles"], b["smiles"])) not in done:
                return a, b
    return None
