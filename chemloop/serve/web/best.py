"""The best tested molecules as the dashboard shows them: ranked by :meth:`Assay.ranking_value`, so a
censored result on the good side (">8" where higher is better) counts as its bound and is shown as
written ("Best measured >8 log units"), the same in the summary, the rounds, the tested table and
the best-so-far plot."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chemloop.loop.assay import Assay
from chemloop.serve.web.templating import number


def ranking_value(molecule: dict[str, Any], assay: Assay) -> float | None:
    """What a tested molecule ranks by (:meth:`Assay.ranking_value`): ">8" as at least 8."""
    return assay.ranking_value(molecule["value"], molecule.get("censored") or [])


def best_tested(molecules: Iterable[dict[str, Any]], assay: Assay, count: int = 10) -> list[dict[str, Any]]:
    """The ``count`` best molecules tested, the best first, a ">8" among them as at least 8."""
    ranked = [(v, m) for m in molecules if (v := ranking_value(m, assay)) is not None]
    ranked.sort(key=lambda pair: pair[0], reverse=assay.direction == "higher")
    return [m for _, m in ranked[:count]]


def result_text(molecule: dict[str, Any], assay: Assay) -> str:
    """The result a molecule ranks by, as written, with the unit: "6.80 log units", ">8 log units"."""
    if molecule["value"] is not None:
        text = number(molecule["value"])
    else:
        value = ranking_value(molecule, assay)
        text = next(c for c in molecule["censored"] if assay.ranking_value(None, [c]) == value)
    return f"{text} {assay.unit}" if assay.unit else text


def best_text(molecules: Iterable[dict[str, Any]], assay: Assay) -> str:
    """The best result among ``molecules`` as :func:`result_text` writes it; "–" for none."""
    top = best_tested(molecules, assay, 1)
    return result_text(top[0], assay) if top else "–"


def round_best_texts(molecules: list[dict[str, Any]], assay: Assay, rounds: Iterable[int]) -> dict[int, str]:
    """The best result of each round (0: the seed data, all of it; a later round: the molecules it
    proposed), as :func:`best_text` writes it."""
    return {r: best_text((m for m in molecules if _in_round(m, r)), assay) for r in rounds}


def _in_round(molecule: dict[str, Any], round_number: int) -> bool:
    """Round 0 is the seed data, all of it; a later round is the molecules it proposed."""
    return molecule["round"] == round_number and (round_number == 0 or not molecule["external"])


def round_best_values(
    molecules: list[dict[str, Any]], assay: Assay, rounds: Iterable[int]
) -> dict[int, float | None]:
    """The best ranking value of each round (a ">8" as 8; None: nothing of it measured yet)."""
    best = {}
    for r in rounds:
        values = [v for m in molecules if _in_round(m, r) and (v := ranking_value(m, assay)) is not None]
        best[r] = assay.better(values)
    return best


def ranked_points(molecules: list[dict[str, Any]], assay: Assay) -> list[tuple[int, float]]:
    """(round, ranking value) of every tested molecule that has one: exact values and good-side bounds."""
    return [(m["round"], v) for m in molecules if (v := ranking_value(m, assay)) is not None]
