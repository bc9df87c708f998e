"""Score SMILES with a configured set of components: raw → transform → aggregate.

Scores are cached by canonical SMILES, and an oracle budget counts unique molecules
scored (the PMO convention). Invalid SMILES score 0 without using the budget, and so do
molecules the dual-use guard withholds (:mod:`chemloop.chem.guard`): no component or external
oracle ever receives them.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rdkit import Chem

from chemloop.chem.guard import is_withheld
from chemloop.chem.mol import neutral_form, try_parse_canonical
from chemloop.errors import ChemloopError
from chemloop.score.aggregate import weighted_arithmetic_mean, weighted_geometric_mean
from chemloop.score.config import ComponentConfig, ScoreConfig
from chemloop.score.external import run_command
from chemloop.score.registry import NoScore, as_scores, run_component
from chemloop.score.transforms import TRANSFORMS

BUDGET_EXHAUSTED = "budget exhausted"  # the reason of a molecule left unscored
WITHHELD = "withheld by the dual-use guard"  # never scored, never shown (chemloop.chem.guard)


@dataclass
class Scored:
    """One molecule's aggregate score and every component's raw and transformed value."""

    smiles: str
    canonical: str | None
    score: float
    raw: dict[str, float] = field(default_factory=dict)
    transformed: dict[str, float] = field(default_factory=dict)
    reason: str = ""  # why the score is 0 or NaN, where it is


def load_plugin(path: Path, function: str) -> Callable[[list[str]], Sequence[float]]:
    """The function ``function`` of the Python file ``path`` (runs that file: trusted input only)."""
    if not path.is_file():
        raise ChemloopError(f"scoring plugin file not found: {path}")
    spec = importlib.util.spec_from_file_location(f"chemloop_plugin_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise ChemloopError(f"scoring plugin {path} failed to load: {err!r}") from err
    if not callable(getattr(module, function, None)):
        raise ChemloopError(f"scoring plugin {path} has no function {function!r}")
    return getattr(module, function)


class Scorer:
    def __init__(self, config: ScoreConfig, budget: int | None = None) -> None:
        self.config = config
        self.budget = budget
        self.calls: list[Scored] = []  # unique oracle calls, in order
        self._cache: dict[str, Scored] = {}
        self._plugins = {
            c.label: load_plugin(c.path, c.function) for c in config.components if c.type == "python"
        }

    @property
    def exhausted(self) -> bool:
        return self.budget is not None and len(self.calls) >= self.budget

    def restore(self, calls: list[Scored]) -> None:
        """Start from calls already made (a resumed run): they stay cached and count against the budget."""
        if self.calls:
            raise ChemloopError("restore() needs a fresh scorer")
        self.calls = list(calls)
        self._cache = {c.canonical: c for c in calls}

    def __call__(self, smiles: Sequence[str]) -> list[Scored]:
        """Score a batch; molecules past the budget get NaN with the reason :data:`BUDGET_EXHAUSTED`."""
        mols, canonical, withheld = {}, {}, set()
        for s in smiles:
            parsed = try_parse_canonical(s)
            if parsed is not None and is_withheld(parsed[0]):
                withheld.add(s)  # scores 0 (RL is steered away from it); no oracle ever sees it
            elif parsed is not None:
                mols.setdefault(parsed[1], parsed[0])
                canonical[s] = parsed[1]
        new = [c for c in dict.fromkeys(canonical.values()) if c not in self._cache]
        if self.budget is not None:
            new = new[: max(0, self.budget - len(self.calls))]
        for scored in self._score_new(new, [mols[c] for c in new]):
            self._cache[scored.canonical] = scored
            self.calls.append(scored)
        results = []
        for s in smiles:
            if s in withheld:
                results.append(Scored(s, None, 0.0, reason=WITHHELD))
            elif s not in canonical:
                results.append(Scored(s, None, 0.0, reason="invalid SMILES"))
            elif canonical[s] in self._cache:
                cached = self._cache[canonical[s]]
                results.append(
                    Scored(s, cached.canonical, cached.score, cached.raw, cached.transformed, cached.reason)
                )
            else:
                results.append(Scored(s, canonical[s], math.nan, reason=BUDGET_EXHAUSTED))
        return results

    def _raw(self, component: ComponentConfig, canonical: list[str], mols: list) -> list[float]:
        if component.type == "python":
            values = self._plugins[component.label](list(canonical))
            return as_scores(values, len(canonical), f"plugin {component.label!r}")
        if component.type == "command":
            return run_command(
                component.command,
                canonical,
                batch_size=component.batch_size,
                processes=component.processes,
                timeout=component.timeout,
            )
        return run_component(component.type, mols, **component.params)

    def _score_new(self, canonical: list[str], mols: list) -> list[Scored]:
        if not canonical:
            return []
        components = self.config.components
        seen = canonical  # what the components score; the molecules stay stored as written
        if self.config.neutralize:
            mols = [neutral_form(m) for m in mols]
            seen = [Chem.MolToSmiles(m) for m in mols]
        raw = {c.label: self._raw(c, seen, mols) for c in components}
        combine = (
            weighted_geometric_mean if self.config.aggregate == "geometric" else weighted_arithmetic_mean
        )
        out = []
        for i, smiles in enumerate(canonical):
            raw_i = {label: values[i] for label, values in raw.items()}
            transformed = {c.label: _transform(c, raw_i[c.label]) for c in components}
            failed = [label for label, v in transformed.items() if math.isnan(v)]
            filtered = [c.label for c in components if c.filter and transformed[c.label] < 0.5]
            scored_parts = [c for c in components if not c.filter]
            if failed:
                why = [
                    f"{label} ({raw_i[label].reason})" if isinstance(raw_i[label], NoScore) else label
                    for label in failed
                ]
                score, reason = math.nan, f"no value from {', '.join(why)}"
            elif filtered:
                score, reason = 0.0, f"filtered by {', '.join(filtered)}"
            elif not self.config.weighted:  # constraints only: passing them is the whole score
                score, reason = 1.0, ""
            else:
                score = combine(
                    [transformed[c.label] for c in scored_parts], [c.weight for c in scored_parts]
                )
                reason = ""
            out.append(Scored(smiles, smiles, score, raw_i, transformed, reason))
        return out


def _transform(component: ComponentConfig, value: float) -> float:
    if component.transform is None:
        return value
    params = {k: v for k, v in component.transform.items() if k != "type"}
    return TRANSFORMS[component.transform["type"]](value, **params)
