"""Reading a campaign the way a medicinal chemist does: how far to trust the reward model (its
cross-validated quality in words) and the series by scaffold and R group. Pure readers of what
the campaign stores, shared by the web app, the HTTP API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chemloop.chem.guard import is_withheld
from chemloop.chem.sar import RGroupTable, ScaffoldGroup, rgroup_table, scaffold_groups
from chemloop.chem.user_input import MAX_SMILES_LENGTH
from chemloop.errors import ChemloopError
from chemloop.loop.assay import Assay
from chemloop.services import campaigns
from chemloop.services.export import campaign_assay
from chemloop.services.workspace import Workspace

MAX_SCAFFOLDS = 50  # scaffold groups a series table lists

# Spearman's rho on held-out molecules: (lowest, what it means for ranking, how to use predictions).
SPEARMAN_READINGS = (
    (0.6, "ranks new molecules well", "a useful guide to which to make first"),
    (0.4, "ranks new molecules moderately", "use them to prioritise, not to decide"),
    (0.1, "ranks new molecules weakly", "treat predictions as a rough guide"),
    (float("-inf"), "does not rank new molecules better than chance yet", "do not rely on its predictions"),
)
# Pairwise accuracy on held-out pairs (0.5 is a coin toss).
PAIRWISE_READINGS = (
    (0.75, "picks the better molecule of a pair well", "a useful guide to which to make first"),
    (0.65, "picks the better molecule of a pair moderately", "use them to prioritise, not to decide"),
    (0.55, "picks the better molecule of a pair weakly", "treat predictions as a rough guide"),
    (float("-inf"), "picks the better molecule of a pair no better than chance yet", "do not rely on them"),
)
NOISY_FOLDS = 0.25  # a fold-to-fold std above this makes the estimate itself uncertain


def _reading(value: float, readings: tuple) -> tuple[str, str]:
    return next((words, advice) for low, words, advice in readings if value >= low)


def quality_in_words(quality: dict[str, Any] | None, unit: str = "") -> str:
    """One or two sentences on what the reward model's cross-validation means for a chemist, e.g.
    "Ranks new molecules weakly: Spearman 0.32 ± 0.34 over 5 folds; treat predictions as a rough
    guide." ``quality`` is a campaign status's ``reward_model`` (None: not fitted yet)."""
    if not quality:
        return "Not fitted yet: it needs a few measured values first."
    folds = quality.get("folds") or 0
    primary = quality.get("primary")
    metric = quality.get(primary) if primary else None
    if not folds or not isinstance(metric, dict) or metric.get("mean") is None:
        return (
            f"Fitted on {quality.get('measurements', 0)} results, too few to cross-validate: "
            "its predictions are untested; treat them as a rough guide."
        )
    mean, std = float(metric["mean"]), float(metric.get("std") or 0.0)
    if mean != mean:  # NaN: every held-out fold had constant values or predictions
        return f"Its ranking could not be checked over {folds} folds (the held-out values did not vary)."
    if primary == "pairwise_accuracy":
        words, advice = _reading(mean, PAIRWISE_READINGS)
        stated = f"right on {mean:.0%} ± {std:.0%} of held-out pairs (50% is chance) over {folds} folds"
    else:
        words, advice = _reading(mean, SPEARMAN_READINGS)
        stated = f"Spearman {mean:.2f} ± {std:.2f} over {folds} folds"
    text = f"{words[0].upper()}{words[1:]}: {stated}; {advice}."
    if std > NOISY_FOLDS:
        text += " The folds disagree a lot: more results will make this estimate firmer."
    rmse = quality.get("rmse")
    if isinstance(rmse, dict) and rmse.get("mean") is not None and rmse["mean"] == rmse["mean"]:
        text += (
            f" A prediction is typically off by about {rmse['mean']:.2g}{f' {unit}' if unit else ''} (RMSE)."
        )
    return text


@dataclass
class Series:
    assay: Assay
    scaffolds: list[ScaffoldGroup]
    scaffold_total: int  # distinct scaffolds, before the table's cut at MAX_SCAFFOLDS
    core: str | None  # the scaffold the R-group table decomposes around
    rgroups: RGroupTable | None
    # Each molecule of the tables by SMILES (rows of campaigns.molecules): a page shows its results
    # as written from it, a censored "<5" among them.
    molecules: dict[str, dict[str, Any]] = field(default_factory=dict)


def series(workspace: Workspace, name: str, core: str | None = None) -> Series:
    """Campaign ``name`` by Murcko scaffold (count, measured, best value), and an R-group table around
    ``core``, by default its most common ring scaffold. A ``core`` that is neither SMILES nor
    SMARTS is refused by name."""
    assay = campaign_assay(workspace, name)
    table = [m for m in campaigns.molecules(workspace, name) if not is_withheld(m["smiles"])]
    # Ranked as the dashboard ranks them: a censored result on the good side (">8") by its bound.
    pairs = [(m["smiles"], assay.ranking_value(m["value"], m["censored"])) for m in table]
    tested = {m["smiles"] for m in table if m["value"] is not None or m["censored"]}
    groups = scaffold_groups(pairs, assay.direction == "higher", tested)
    if core is not None and (not core.strip() or len(core) > MAX_SMILES_LENGTH):
        raise ChemloopError(
            f"the R-group core must be a SMILES or SMARTS of at most {MAX_SMILES_LENGTH} characters"
        )
    chosen = core.strip() if core else next((g.scaffold for g in groups if g.scaffold), None)
    rgroups = None
    if chosen:
        try:
            rgroups = rgroup_table(chosen, pairs)
        except ValueError as err:
            raise ChemloopError(str(err)) from None
    if rgroups is not None:  # measured first, the best at the top; then those only below a bound
        sign = -1.0 if assay.direction == "higher" else 1.0
        rgroups.rows.sort(key=lambda r: (r.value is None, r.smiles not in tested, sign * (r.value or 0.0)))
    shown = groups[:MAX_SCAFFOLDS]
    for group in shown:  # a group tested only below a bound ("<5"): its best result is that bound
        if group.best_smiles is None:
            group.best_smiles = next((s for s in group.smiles if s in tested), None)
    return Series(assay, shown, len(groups), chosen, rgroups, {m["smiles"]: m for m in table})
