"""AI feedback for a campaign: a judge compares pairs of molecules under a constitution, and each
decided pair is stored as a preference whose source names the judge (RLAIF, Bai et al. 2022).

A chemist reviews dozens of pairs; a judge can review thousands. The pairs are drawn from the
campaign's own molecules and from fresh samples of its model, so the reward model learns the
principles where the generator writes, not only where the chemist has looked. Ties (no
principle separates the two) are not stored. A chemist overrules a judged pair by recording the
opposite choice (:func:`overrule`): the judge's row is deleted and the chemist's stored.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from chemloop.chem.guard import is_withheld
from chemloop.constitution.judges import Judge
from chemloop.errors import ChemloopError
from chemloop.loop import people
from chemloop.loop.campaign_reads import molecules, stored_config
from chemloop.loop.review import compared_pairs
from chemloop.loop.store import Preference, PreferenceSource, get_campaign, session_scope
from chemloop.model import checkpoint
from chemloop.model.generate import sample

MAX_PAIRS = 10_000  # per call: a judge command may be slow and is paid per pair


def candidate_molecules(factory: sessionmaker[Session], name: str, fresh: int, seed: int) -> list[str]:
    """The campaign's molecules, then ``fresh`` valid samples of its model, unique, in that order."""
    pool = [m["smiles"] for m in molecules(factory, name)]
    if fresh:
        lm = checkpoint.load(stored_config(factory, name).campaign.model)
        report = sample(lm, fresh, seed=seed)
        pool += [m.canonical for m in report.molecules if m.valid]
    return [s for s in dict.fromkeys(pool) if not is_withheld(s)]


def draw_pairs(pool: Sequence[str], n: int, done: set[frozenset[str]], seed: int) -> list[tuple[str, str]]:
    """Up to ``n`` distinct pairs from ``pool`` that are not in ``done``, drawn at random (seeded)."""
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    seen = set(done)
    attempts = 0
    while len(pairs) < n and len(pool) >= 2 and attempts < 20 * n:
        attempts += 1
        a, b = rng.sample(list(pool), 2)
        key = frozenset((a, b))
        if key not in seen:
            seen.add(key)
            pairs.append((a, b))
    return pairs


def judge_campaign(
    factory: sessionmaker[Session],
    name: str,
    judge: Judge,
    constitution: str,
    pairs: int,
    fresh: int | None = None,
    seed: int = 0,
) -> dict:
    """Judge up to ``pairs`` new pairs of the campaign's molecules (and ``fresh`` samples of its
    model; default twice ``pairs``) and store the decided ones as preferences sourced to ``judge``."""
    if not 1 <= pairs <= MAX_PAIRS:
        raise ChemloopError(f"pairs must be between 1 and {MAX_PAIRS}, not {pairs}")
    pool = candidate_molecules(factory, name, 2 * pairs if fresh is None else fresh, seed)
    chosen = draw_pairs(pool, pairs, compared_pairs(factory, name), seed)
    if not chosen:
        raise ChemloopError(f"campaign {name!r}: no new pair of molecules to judge")
    judgements = judge.judge(chosen)
    decided = Counter()
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        for (a, b), verdict in zip(chosen, judgements, strict=True):
            if verdict.preferred is None:
                continue
            row = Preference(campaign_id=campaign.id, smiles_a=a, smiles_b=b, preferred=verdict.preferred)
            session.add(row)
            session.flush()
            session.add(
                PreferenceSource(
                    preference_id=row.id,
                    judge=judge.name,
                    constitution=constitution,
                    principle=verdict.principle,
                    reason=verdict.reason,
                )
            )
            decided[verdict.principle or "unnamed"] += 1
    stored = sum(decided.values())
    return {
        "campaign": name,
        "judge": judge.name,
        "constitution": constitution,
        "pairs": len(chosen),
        "stored": stored,
        "ties": len(chosen) - stored,
        "by_principle": dict(decided.most_common()),
    }


def judged_preferences(factory: sessionmaker[Session], name: str) -> list[dict]:
    """The campaign's AI-judged preferences, newest first, with their judge, principle and reason."""
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        rows = session.execute(
            select(Preference, PreferenceSource)
            .join(PreferenceSource, PreferenceSource.preference_id == Preference.id)
            .where(Preference.campaign_id == campaign.id)
            .order_by(Preference.id.desc())
        ).all()
        return [
            {
                "id": pref.id,
                "smiles_a": pref.smiles_a,
                "smiles_b": pref.smiles_b,
                "preferred": pref.preferred,
                "judge": source.judge,
                "constitution": source.constitution,
                "principle": source.principle,
                "reason": source.reason,
            }
            for pref, source in rows
        ]


def overrule(factory: sessionmaker[Session], name: str, preference_id: int, user: str | None = None) -> dict:
    """A chemist overrules a judged pair: it becomes the chemist's, with the other molecule preferred
    (``user``: who, recorded beside it)."""
    with session_scope(factory) as session:
        campaign = get_campaign(session, name)
        pref = session.get(Preference, preference_id)
        source = session.get(PreferenceSource, preference_id)
        if pref is None or pref.campaign_id != campaign.id or source is None:
            raise ChemloopError(f"campaign {name!r} has no judged preference {preference_id}")
        session.execute(delete(PreferenceSource).where(PreferenceSource.preference_id == preference_id))
        pref.preferred = "b" if pref.preferred == "a" else "a"
        people.attribute(session, campaign.id, "overrule", pref.id, user)
        return {"campaign": name, "id": pref.id, "preferred": pref.preferred, "overruled": source.judge}
