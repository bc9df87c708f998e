"""Align a model to preferences with DPO: the use case behind ``chemloop align`` and ``chemloop.align``.

    chemloop align --model prior --pairs pairs.csv --out runs/aligned            # preferred,other
    chemloop align --model prior --campaign my-series --out runs/aligned         # its stored pairs
    chemloop align --model prior --constitution default --judge rule --num-pairs 1000 --out runs/aligned
    chemloop align --model prior --validity --invalid-samples 8000 --rounds 3 --out runs/prior-valid

The pairs come from one source: a CSV file, a campaign's stored preferences (a chemist's weigh 1,
AI-judged ones the campaign's ``[reward] ai_pair_weight``), or a judge deciding pairs of the
model's own samples under a constitution (ties dropped; with ``rounds`` > 1 judged afresh on the
model as it moves, on-policy DPO), or, with ``validity``, the model's own samples alone: each string
that is no molecule loses to a different valid sample (no judge; the model learns to write valid
SMILES and nothing else). :func:`chemloop.rl.dpo.train_dpo` trains;
the run folder becomes a checkpoint (``--model DIR`` anywhere) with ``align_config.json`` and
``align_report.json``: pairs used, held-out preference accuracy before and after, validity of
samples, and the KL divergence to the starting model estimated on the aligned model's samples.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from chemloop.chem.guard import is_withheld
from chemloop.errors import ChemloopError
from chemloop.model import checkpoint
from chemloop.model.checkpoint import DEFAULT_PRIOR, LanguageModel
from chemloop.model.device import pick_device
from chemloop.model.generate import sample
from chemloop.model.inference import FLOAT
from chemloop.rl.dpo import MIN_PAIRS, DPOResult, DPOSettings, kl_estimate, train_dpo
from chemloop.rl.online_dpo import OnlineRound, online_dpo, validity_dpo
from chemloop.rl.pairs import read_pair_file

REPORT, CONFIG = "align_report.json", "align_config.json"
RULE_JUDGES = ("rule", "rules")
SOURCES = ("pairs", "campaign", "constitution", "validity")


def source_problem(options: dict[str, Any]) -> str | None:
    """Why ``options`` do not name exactly one source of pairs, or None."""
    given = [k for k in SOURCES if options.get(k) not in (None, False)]
    if len(given) == 1:
        return None
    return (
        "give exactly one source of pairs: pairs (a file), campaign, constitution (with a judge), or "
        f"validity (the model's own invalid strings); got {', '.join(given) or 'none'}"
    )


class AlignConfig(DPOSettings):
    """An alignment run: the model, one source of pairs, the DPO settings; saved as ``align_config.json``."""

    model_config = ConfigDict(extra="forbid")

    out: Path = Field(description="run folder (a checkpoint when done)")
    model: str = Field(DEFAULT_PRIOR, description="the model to align (also the DPO reference)")
    pairs: str | None = Field(None, description="a CSV file with the columns preferred,other (SMILES)")
    campaign: str | None = Field(None, description="a campaign whose stored preferences are the pairs")
    db: str | None = Field(None, description="the campaign database URL (default: $CHEMLOOP_DB)")
    constitution: str | None = Field(
        None, description="a constitution TOML ('default': the shipped one) whose judge decides sampled pairs"
    )
    validity: bool = Field(
        False,
        description="pairs of the model's own samples, each string that is no molecule losing to a "
        "different valid one (invalid_samples strings a round; no judge)",
    )
    judge: str = Field("rule", description="'rule' (the computable principles) or a judge command")
    num_pairs: int = Field(1000, ge=MIN_PAIRS, le=100_000, description="pairs to decide with --constitution")
    rounds: int = Field(
        1,
        ge=1,
        le=20,
        description="with --constitution: judge num_pairs / rounds pairs of the model as it then is, "
        "rounds times, each a DPO step from it (on-policy DPO); 1: one offline step; with --validity: "
        "rounds of pairs of fresh samples",
    )
    invalid_pairs: bool = Field(
        False,
        description="with --constitution: sampled strings that are no molecule join the pairs, as losers",
    )
    invalid_samples: int = Field(
        0,
        ge=0,
        le=1_000_000,
        description="with invalid_pairs: strings sampled a round only to find invalid ones (0: only the "
        "samples the pairs are drawn from)",
    )
    invalid_share: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="with invalid_pairs: the share of each round's loss that their pairs carry together "
        "(unset: each pair weighs 1, so thousands of invalid strings outweigh the judged pairs)",
    )
    samples: int = Field(1000, ge=0, description="molecules sampled for the report (0: none)")
    device: str = Field("auto", description="'auto', 'cpu', 'cuda' or 'cuda:N'")

    @model_validator(mode="after")
    def _one_source(self) -> AlignConfig:
        problem = source_problem(self.model_dump(include=set(SOURCES)))
        if problem is not None:
            raise ValueError(problem)
        if self.validity:
            if self.invalid_pairs or self.invalid_share is not None:
                raise ValueError("validity pairs are all invalid strings: leave invalid_pairs unset")
            if self.invalid_samples < 1:
                raise ValueError("validity needs invalid_samples, the strings sampled a round (e.g. 8000)")
            return self
        if self.constitution is None and (self.rounds > 1 or self.invalid_pairs):
            raise ValueError("rounds and invalid_pairs judge the model's own samples: give a constitution")
        if self.invalid_samples and not self.invalid_pairs:
            raise ValueError("invalid_samples samples strings for invalid pairs: set invalid_pairs too")
        if self.invalid_share is not None and not self.invalid_pairs:
            raise ValueError("invalid_share weighs the invalid pairs: set invalid_pairs too")
        return self

    def dpo_settings(self) -> DPOSettings:
        return DPOSettings.model_validate(self.model_dump(include=set(DPOSettings.model_fields)))


def align(config: AlignConfig, progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Align ``config.model`` to the pairs of ``config``'s source with DPO; write the checkpoint,
    the config and the report to ``config.out`` and return the report. ``progress`` gets each
    epoch's held-out metrics."""
    started = time.perf_counter()
    out = Path(config.out)
    if (out / checkpoint.WEIGHTS).exists():
        raise ChemloopError(f"{out} already holds a model; choose another --out")
    reference = checkpoint.load(config.model, pick_device(config.device))
    if config.constitution is not None:
        result, source = constitution_dpo(reference, config, progress)
    elif config.validity:
        rounds = validity_dpo(
            reference, config.invalid_samples, config.rounds, config.dpo_settings(), progress
        )
        result, source = rounds[-1].result, rounds_source({"kind": "validity"}, rounds)
    else:
        pairs, weights, source = file_or_campaign_pairs(config)
        result = train_dpo(reference, pairs, config.dpo_settings(), weights=weights, progress=progress)
    report: dict[str, Any] = {
        "base_model": config.model,
        "source": source,
        "pairs_used": result.train_pairs + result.heldout_pairs,
        "train_pairs": result.train_pairs,
        "heldout_pairs": result.heldout_pairs,
        "unwritable_pairs": result.unwritable,
        "beta": config.beta,
        "randomized_spellings": result.randomized,
        "heldout_before": result.before,
        "heldout_after": result.after,
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "history": result.history,
        "train_seconds": result.seconds,
        **sample_report(result.model, reference, config.samples, config.seed),
    }
    report["seconds"] = round(time.perf_counter() - started, 1)
    kept = {k: report[k] for k in ("base_model", "pairs_used", "beta", "best_epoch")}
    metadata = {**result.model.metadata, "aligned": {**kept, "source": source["kind"]}}
    checkpoint.save(out, result.model.model, result.model.tokenizer, metadata)
    checkpoint.copy_corpus_records(config.model, out)  # so `bench prior` measures it on the same split
    (out / CONFIG).write_text(config.model_dump_json(indent=2))
    (out / REPORT).write_text(json.dumps(report, indent=2))
    return report


def sample_report(aligned: LanguageModel, reference: LanguageModel, num: int, seed: int) -> dict[str, Any]:
    """Validity and uniqueness of ``num`` samples before and after, and the KL to the reference
    estimated on the aligned model's samples (empty with ``num`` 0)."""
    if num == 0:
        return {}
    before = sample(reference, num, seed=seed, precision=FLOAT)
    after = sample(aligned, num, seed=seed, precision=FLOAT)
    return {
        "samples": num,
        "validity_before": round(before.validity, 4),
        "validity_after": round(after.validity, 4),
        "uniqueness_before": round(before.uniqueness, 4),
        "uniqueness_after": round(after.uniqueness, 4),
        "kl_to_prior": kl_estimate(aligned, reference, [m.smiles for m in after.molecules]),
    }


def file_or_campaign_pairs(
    config: AlignConfig,
) -> tuple[list[tuple[str, str]], list[float] | None, dict[str, Any]]:
    """The ``(preferred, other)`` pairs of the config's pair file or campaign, their weights (None:
    all 1), and a description of the source for the report."""
    if config.pairs is not None:
        pairs = read_pair_file(config.pairs)
        return pairs, None, {"kind": "file", "file": str(config.pairs), "pairs": len(pairs)}
    return campaign_pairs(str(config.campaign), config.db)


def campaign_pairs(
    name: str, db: str | None = None
) -> tuple[list[tuple[str, str]], list[float] | None, dict[str, Any]]:
    """A campaign's stored preferences: a chemist's weigh 1, an AI judge's ``[reward] ai_pair_weight``
    (pairs of weight 0 are left out, as the campaign's reward model leaves them)."""
    from chemloop.loop.campaign_reads import stored_config
    from chemloop.loop.preference_pairs import campaign_pairs as stored_pairs
    from chemloop.services.workspace import Workspace

    workspace = Workspace.from_env(db)
    try:
        stored = stored_pairs(workspace.factory, name)
        ai_weight = stored_config(workspace.factory, name).reward.ai_pair_weight
    finally:
        workspace.close()
    # A judge may have seen fresh samples: a withheld molecule never enters training.
    shown = [p for p in stored if not (is_withheld(p.preferred) or is_withheld(p.other))]
    kept = [p for p in shown if p.judge is None or ai_weight > 0]
    if len(kept) < MIN_PAIRS:
        raise ChemloopError(
            f"campaign {name!r} holds {len(kept)} usable preference pair(s); DPO needs at least {MIN_PAIRS} "
            "(record preferences on Review, or `chemloop campaign judge`)"
        )
    weights = [1.0 if p.judge is None else ai_weight for p in kept]
    source = {
        "kind": "campaign",
        "campaign": name,
        "pairs": len(kept),
        "chemist_pairs": sum(p.judge is None for p in kept),
        "ai_judged_pairs": sum(p.judge is not None for p in kept),
        "ai_pair_weight": ai_weight,
        "withheld": len(stored) - len(shown),
    }
    return (
        [(p.preferred, p.other) for p in kept],
        (None if all(w == 1.0 for w in weights) else weights),
        source,
    )


def constitution_dpo(
    lm: LanguageModel, config: AlignConfig, progress: Callable[[dict], None] | None = None
) -> tuple[DPOResult, dict[str, Any]]:
    """DPO on pairs of ``lm``'s samples that the config's judge decides under its constitution: one
    offline step, or ``config.rounds`` on-policy ones (:func:`chemloop.rl.online_dpo.online_dpo`,
    whose one round is the offline step); the last step's result and the source for the report."""
    from chemloop.constitution.judges import CommandJudge, RuleJudge
    from chemloop.constitution.principles import DEFAULT_CONSTITUTION, load_constitution

    path = None if config.constitution == "default" else Path(str(config.constitution))
    rules = load_constitution(path)
    rule = config.judge.strip().lower() in RULE_JUDGES
    judge = RuleJudge(rules) if rule else CommandJudge(rules, config.judge)
    name = (path or DEFAULT_CONSTITUTION).name
    source = {"kind": "constitution", "constitution": name, "judge": judge.name}
    rounds = online_dpo(
        lm,
        judge,
        config.num_pairs,
        config.rounds,
        config.dpo_settings(),
        progress,
        with_invalid=config.invalid_pairs,
        invalid_samples=config.invalid_samples,
        invalid_share=config.invalid_share,
    )
    return rounds[-1].result, rounds_source(source, rounds)


def rounds_source(source: dict[str, Any], rounds: list[OnlineRound]) -> dict[str, Any]:
    """``source`` with the pairs of the rounds: those of the one round, or the sums and each round."""
    summaries = [r.judged.summary() for r in rounds]
    if len(rounds) == 1:
        return {**source, **summaries[0]}
    totals = {k: sum(s[k] for s in summaries) for k in ("decided", "judged", "ties", "invalid", "samples")}
    return {**source, **totals, "rounds": summaries}
