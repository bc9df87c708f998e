"""Preference pairs for DPO (:mod:`chemloop.rl.dpo`): from a CSV file, or judged on a model's samples.

A pair file has the columns ``preferred,other`` (SMILES; other columns are ignored, names are
matched without regard to case). Every bad row is named in one error, numbered as a spreadsheet
numbers it (the header is row 1), so a file is fixed in one pass.

Judged pairs are drawn from a model's own samples, and a judge (the constitution's rules, or an
external command) decides each; ties are dropped. Samples the dual-use guard withholds never
reach a pair (:func:`~chemloop.model.generate.sample` leaves them out).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chemloop.chem.user_input import WITHHELD_PROBLEM, user_smiles_problem
from chemloop.constitution.judges import Judge
from chemloop.errors import ChemloopError
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.generate import sample
from chemloop.model.inference import FLOAT
from chemloop.reward.data import FeedbackError, feedback_file
from chemloop.rl.dpo import MIN_PAIRS

COLUMNS = ("preferred", "other")
MAX_REPORTED = 10  # bad rows named in one error message
MAX_DRAWS = 50  # strings sampled for the pool at most, per molecule wanted in it
JUDGE_CHUNK = 200  # pairs per call of the judge: a command judge is paid per call
EXTRA_SEED_OFFSET = 1000  # seeds the samples drawn for invalid strings apart from the pool's
NOT_A_MOLECULE = "not-a-molecule"  # decides a pair with a sampled string that is no molecule


class PairFileError(FeedbackError):
    """A pair file that is missing, lacks a column, holds bad rows or too few pairs."""


def read_pair_file(path: str | Path) -> list[tuple[str, str]]:
    """``(preferred, other)`` canonical SMILES pairs from a CSV file with those two columns."""
    try:
        table = feedback_file(path)
    except FeedbackError as err:
        raise PairFileError(str(err).replace("feedback file", "pair file")) from None
    names = [h.strip().lower() for h in table.header or []]
    if not any(names):
        raise PairFileError(f"{table.source} is empty: expected a header row with {', '.join(COLUMNS)}")
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise PairFileError(
            f"{table.source} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            f"its columns are: {', '.join(h.strip() for h in table.header or [])}"
        )
    where = {c: names.index(c) for c in COLUMNS}
    pairs: list[tuple[str, str]] = []
    problems: list[tuple[int, str]] = []
    rows = 0
    for number, line in enumerate(table.lines, start=2):
        if not any(cell.strip() for cell in line):
            continue
        rows += 1
        cells = {c: line[i].strip() if i < len(line) else "" for c, i in where.items()}
        found = {c: _molecule(number, c, cells[c], problems) for c in COLUMNS}
        if None in found.values():
            continue
        if found["preferred"] == found["other"]:
            problems.append((number, f"preferred and other are the same molecule ({found['other']!r})"))
            continue
        pairs.append((found["preferred"], found["other"]))
    if problems:
        shown = "; ".join(f"row {row}: {message}" for row, message in problems[:MAX_REPORTED])
        more = f"; and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
        bad = len({row for row, _ in problems})
        raise PairFileError(f"{table.source}: {bad} bad row(s) of {rows}: {shown}{more}", problems=problems)
    if len(pairs) < MIN_PAIRS:
        raise PairFileError(f"{table.source} holds {len(pairs)} pair(s); DPO needs at least {MIN_PAIRS}")
    return pairs


def _molecule(row: int, column: str, text: str, problems: list[tuple[int, str]]) -> str | None:
    canonical, problem = user_smiles_problem(text)
    if problem == WITHHELD_PROBLEM:  # named by its row only: the molecule is not repeated back
        problems.append((row, f"{column} {problem}"))
    elif problem is not None:
        shown = text if len(text) <= 60 else text[:60] + "…"
        problems.append((row, f"{column} {shown!r} {problem}"))
    return canonical


@dataclass
class JudgedPairs:
    """Pairs a judge decided, as ``(preferred, other)``, with what it was asked and why it chose."""

    pairs: list[tuple[str, str]]
    judged: int  # pairs put to the judge, ties included
    samples: int  # strings sampled for the pool
    pool: int  # distinct valid molecules among them
    by_principle: dict[str, int] = field(default_factory=dict)
    invalid: int = 0  # pairs lost by a string that is no molecule, decided without the judge

    @property
    def ties(self) -> int:
        return self.judged - (len(self.pairs) - self.invalid)

    def weights(self, invalid_share: float | None) -> list[float] | None:
        """Pair weights under which the pairs lost by invalid strings carry ``invalid_share`` of the
        loss together and the judged pairs the rest; None (every pair weighs 1) when unset or when
        either kind is missing. Thousands of invalid strings would otherwise drown the judge's pairs."""
        judged = len(self.pairs) - self.invalid
        if invalid_share is None or not self.invalid or not judged:
            return None
        each_invalid = invalid_share * judged / ((1 - invalid_share) * self.invalid)
        return [1.0] * judged + [each_invalid] * self.invalid  # the invalid strings' pairs come last

    def summary(self) -> dict:
        return {
            "decided": len(self.pairs),
            "judged": self.judged,
            "ties": self.ties,
            "invalid": self.invalid,
            "samples": self.samples,
            "pool": self.pool,
            "by_principle": self.by_principle,
        }


def judged_sample_pairs(
    lm: LanguageModel,
    judge: Judge,
    num_pairs: int,
    seed: int = 0,
    pool_size: int | None = None,
    with_invalid: bool = False,
    invalid_samples: int = 0,
) -> JudgedPairs:
    """Up to ``num_pairs`` pairs of ``lm``'s samples that ``judge`` decided (ties dropped).

    The pool is ``pool_size`` distinct valid molecules of its samples (default twice ``num_pairs``,
    at least 20); distinct pairs are drawn from it at random (seeded) and judged in chunks until
    ``num_pairs`` are decided or the pool runs out of new pairs. ``with_invalid`` adds, beyond that
    budget, one pair for each distinct string among those samples that is no molecule: it loses to
    a molecule of the pool drawn at random, without asking the judge (principle
    :data:`NOT_A_MOLECULE`), so DPO also learns not to write such strings; with
    ``invalid_samples`` the model is sampled up to that many strings in all for them (a model that
    writes 8% invalid strings gives about 40 from a pool of 500, 320 from 4,000 samples).
    """
    if num_pairs < 1:
        raise ChemloopError(f"the number of pairs must be at least 1, not {num_pairs}")
    pool, invalid, samples = _sample_pool(
        lm, pool_size if pool_size is not None else max(20, 2 * num_pairs), seed
    )
    if with_invalid and samples < invalid_samples:  # more strings, for their invalid ones only
        extra = sample(lm, invalid_samples - samples, seed=seed + EXTRA_SEED_OFFSET, precision=FLOAT)
        known = set(invalid)
        more = dict.fromkeys(m.smiles for m in extra.molecules if not m.valid and m.smiles)
        invalid += [string for string in more if string not in known]
        samples = invalid_samples
    if len(pool) < 2:
        raise ChemloopError(f"{len(pool)} valid molecule(s) among {samples} samples: nothing to pair")
    rng = random.Random(seed)
    seen: set[frozenset[str]] = set()
    decided: list[tuple[str, str]] = []
    by_principle: Counter[str] = Counter()
    judged = 0
    possible = len(pool) * (len(pool) - 1) // 2
    while len(decided) < num_pairs and len(seen) < possible:
        wanted = min(JUDGE_CHUNK, 2 * (num_pairs - len(decided)))
        chunk = _draw(pool, wanted, seen, rng)
        if not chunk:
            break
        for (a, b), verdict in zip(chunk, judge.judge(chunk), strict=True):
            if len(decided) >= num_pairs:
                break
            judged += 1
            if verdict.preferred is None:
                continue
            decided.append((a, b) if verdict.preferred == "a" else (b, a))
            by_principle[verdict.principle or "unnamed"] += 1
    losers = invalid if with_invalid else []
    decided += [(rng.choice(pool), string) for string in losers]
    if losers:
        by_principle[NOT_A_MOLECULE] += len(losers)
    return JudgedPairs(decided, judged, samples, len(pool), dict(by_principle.most_common()), len(losers))


def _sample_pool(lm: LanguageModel, wanted: int, seed: int) -> tuple[list[str], list[str], int]:
    """``wanted`` distinct valid molecules sampled from ``lm`` (fewer if ``MAX_DRAWS``·``wanted``
    strings do not hold them), the distinct strings among those samples that are no molecule, and
    how many strings were sampled. A model that writes few valid strings is sampled again for the
    shortfall, in proportion to its validity so far."""
    pool: dict[str, None] = {}
    invalid: dict[str, None] = {}
    drawn, rounds = 0, 0
    while len(pool) < wanted and drawn < MAX_DRAWS * wanted:
        rate = len(pool) / drawn if drawn else 1.0
        ask = min(MAX_DRAWS * wanted - drawn, math.ceil((wanted - len(pool)) / max(rate, 0.02)))
        report = sample(lm, ask, seed=seed + rounds, precision=FLOAT)
        pool.update((m.canonical, None) for m in report.molecules if m.valid)
        invalid.update((m.smiles, None) for m in report.molecules if not m.valid and m.smiles)
        drawn, rounds = drawn + ask, rounds + 1
    return list(pool), [s for s in invalid if s not in pool], drawn


def _draw(
    pool: Sequence[str], n: int, seen: set[frozenset[str]], rng: random.Random
) -> list[tuple[str, str]]:
    """Up to ``n`` pairs from ``pool`` not in ``seen`` (which they join); gives up after 20·n tries."""
    chosen: list[tuple[str, str]] = []
    for _ in range(20 * n):
        if len(chosen) >= n:
            break
        a, b = rng.sample(range(len(pool)), 2)
        key = frozenset((pool[a], pool[b]))
        if key not in seen:
            seen.add(key)
            chosen.append((pool[a], pool[b]))
    return chosen


def invalid_string_pairs(lm: LanguageModel, num_samples: int, seed: int = 0) -> JudgedPairs:
    """Pairs from ``num_samples`` strings of ``lm``: each distinct string that is no molecule loses to
    a distinct valid molecule of the same draw, chosen at random (seeded), so no molecule is pushed
    up twice. No judge. On the shipped prior this bought little validity at a large shift of its
    distribution (docs/alignment.md, "Validity alone")."""
    if num_samples < 1:
        raise ChemloopError(f"the number of samples must be at least 1, not {num_samples}")
    report = sample(lm, num_samples, seed=seed, precision=FLOAT)
    valid = list(dict.fromkeys(m.canonical for m in report.molecules if m.valid))
    invalid = list(dict.fromkeys(m.smiles for m in report.molecules if not m.valid and m.smiles))
    winners = random.Random(seed).sample(valid, min(len(valid), len(invalid)))
    pairs = list(zip(winners, invalid, strict=False))  # a model writing mostly strings: fewer pairs
    by_principle = {NOT_A_MOLECULE: len(pairs)} if pairs else {}
    return JudgedPairs(pairs, 0, num_samples, len(valid), by_principle, invalid=len(pairs))
