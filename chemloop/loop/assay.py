"""What a campaign measures: the assay's name, unit and direction, and results beyond its range.

A campaign's values are one assay's readout (``pIC50 EGFR`` in log units, ``IC50`` in nM, ``%
inhibition``). Its direction says which way is better. Everything that optimizes works on a
*utility*, the value times :attr:`Assay.sign`, so "higher is better" holds inside the loop whatever
the assay: the reward model learns utilities (preferences and ratings, which say "better", share
its scale), acquisition and the RL objective maximize them, and predictions go back to the assay's
units before anyone sees them.

A censored result (``<5``: below the assay's range, ``>=10``: at least 10) is a bound, not a
value: stored as its qualifier and number, shown as written, and given to the reward model as
pairs (:func:`censored_pairs`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sqlalchemy.orm import Session

from chemloop.errors import ChemloopError
from chemloop.loop.store import AssayDefinition
from chemloop.reward.data import split_qualifier as _split_qualifier

Direction = Literal["higher", "lower"]
DIRECTIONS: tuple[str, ...] = ("higher", "lower")
MAX_ASSAY_NAME = 100  # the columns' sizes
MAX_UNIT = 30
QUALIFIERS: tuple[str, ...] = ("<", "<=", ">", ">=")  # as read by reward.data.split_qualifier
MAX_CENSORED_PAIRS = 5000  # pairs a fit receives from censored results; a sample keeps it fast


@dataclass(frozen=True)
class Assay:
    """A campaign's assay; the defaults are those of a campaign created before assays had names."""

    name: str = "value"
    unit: str = ""
    direction: Direction = "higher"

    @property
    def sign(self) -> float:
        """Utility = value × sign: +1 when higher is better, −1 when lower is."""
        return 1.0 if self.direction == "higher" else -1.0

    def better(self, values: Iterable[float]) -> float | None:
        """The best of ``values`` in this assay's direction (None for none)."""
        found = list(values)
        if not found:
            return None
        return max(found) if self.direction == "higher" else min(found)

    def ranking_value(self, value: float | None, censored: Iterable[str] = ()) -> float | None:
        """What a tested molecule ranks by among the best: the mean of its exact values (``value``),
        else the bound of a censored result on the good side (">8" where higher is better: at least
        8); None for one only known to be worse than a bound ("<5"), or untested."""
        if value is not None:
            return value
        bounds = []
        for text in censored:
            qualifier, number = _split_qualifier(text)
            if utility_qualifier(qualifier, self.sign).startswith(">"):
                bounds.append(float(number))
        return self.better(bounds)

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "unit": self.unit, "direction": self.direction}


def check_assay(name: str | None = None, unit: str | None = None, direction: str | None = None) -> Assay:
    """An :class:`Assay` from what a person typed (blank fields keep the defaults), or a
    :class:`ChemloopError` naming the field and the rule."""
    name = (name or "").strip() or Assay.name
    unit = (unit or "").strip()
    direction = (direction or "higher").strip().lower()
    for field, text, limit in (("assay name", name, MAX_ASSAY_NAME), ("unit", unit, MAX_UNIT)):
        if len(text) > limit:
            raise ChemloopError(f"{field} is {len(text)} characters long; the limit is {limit}")
        if not text.isprintable():
            raise ChemloopError(f"{field} {text[:limit]!r} holds a control character")
    if direction not in DIRECTIONS:
        raise ChemloopError(
            f"direction must be 'higher' or 'lower' (which is better), not {direction[:20]!r}"
        )
    return Assay(name, unit, direction)  # type: ignore[arg-type]


def campaign_assay(session: Session, campaign_id: int) -> Assay:
    """The campaign's assay; a campaign created before assays had names gets the defaults."""
    row = session.get(AssayDefinition, campaign_id)
    if row is None:
        return Assay()
    return Assay(row.name, row.unit, "lower" if row.direction == "lower" else "higher")


def store_assay(session: Session, campaign_id: int, assay: Assay) -> None:
    session.add(
        AssayDefinition(campaign_id=campaign_id, name=assay.name, unit=assay.unit, direction=assay.direction)
    )


# --- censored results ----------------------------------------------------------------------------


def written(qualifier: str, bound: float) -> str:
    """A censored result as a chemist writes it: ``<5``, ``>=10``."""
    return f"{qualifier}{bound:g}"


def _beats(high: tuple[str, float], low: tuple[str, float]) -> bool:
    """Whether a result ``high`` is surely above a result ``low``; each is (qualifier, utility) with
    qualifier "" (exact), "<"/"<=" (at most) or ">"/">=" (at least)."""
    (hq, hv), (lq, lv) = high, low
    if hq.startswith("<") or lq.startswith(">"):
        return False  # high has no lower bound or low has no upper bound: no order is known
    # Equal numbers still order the two when either bound is strict: ">5" beats "5", "5" beats "<5".
    return hv > lv or (hv == lv and (hq == ">" or lq == "<"))


def utility_qualifier(qualifier: str, sign: float) -> str:
    """The qualifier of a bound on the utility: negating the value turns "at most" into "at least"."""
    if sign > 0 or not qualifier:
        return qualifier
    return {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[qualifier]


def censored_pairs(
    exact: Sequence[tuple[str, float]], censored: Sequence[tuple[str, str, float]], seed: int = 0
) -> list[tuple[str, str]]:
    """(winner, loser) pairs that censored results imply, on utilities (higher is better).

    ``exact`` is (smiles, utility) per measured value, ``censored`` (smiles, qualifier, bound) per
    censored result, its qualifier already on the utility (:func:`utility_qualifier`). A result
    "at most 5" loses to every result surely above 5 (a measured 6, a censored ">7"); "at least 10"
    beats every result surely below 10. Pairs between two exact values are left to the values
    themselves. At most :data:`MAX_CENSORED_PAIRS`, drawn at random (``seed``) when there are more.
    """
    results = [(s, "", v) for s, v in exact] + list(censored)
    pairs = []
    # Each censored result against every result before it: every pair with a censored member, once.
    for j in range(len(exact), len(results)):
        b = results[j]
        for a in results[:j]:
            if a[0] == b[0]:
                continue  # two results of one molecule say nothing about its rank
            if _beats((a[1], a[2]), (b[1], b[2])):
                pairs.append((a[0], b[0]))
            elif _beats((b[1], b[2]), (a[1], a[2])):
                pairs.append((b[0], a[0]))
    if len(pairs) > MAX_CENSORED_PAIRS:
        rng = np.random.default_rng(seed)
        pairs = [pairs[i] for i in sorted(rng.choice(len(pairs), MAX_CENSORED_PAIRS, replace=False))]
    return pairs
