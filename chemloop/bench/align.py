"""``chemloop bench align``: DPO against a reward model + RL, with a constitution as the only feedback.

    chemloop bench align --model prior --pairs 1000 --samples 10000 --rl-steps 100 --output bench_align.json

The protocol, for one model and seed:

1. The rule judge of the constitution (default: the shipped medicinal-chemistry one) decides
   ``pairs`` pairs of the model's own samples (ties dropped, drawn until that many are decided).
2. (a) DPO (:func:`chemloop.rl.dpo.train_dpo`) on those pairs, the model as its reference; with
   ``dpo_rounds`` R > 1, on-policy DPO instead (:func:`chemloop.rl.online_dpo.online_dpo`): R rounds
   of ``pairs / R`` pairs judged on the model as it then is, the same judge budget. With
   ``invalid_pairs`` each sampled string that is no molecule loses a pair to a sampled molecule,
   beyond the judge's budget (the reward model of (b) reads molecules only, and RL scores such
   strings 0 anyway); ``invalid_share`` sets the share of the loss those pairs carry together.
3. (b) A preference reward model fitted on the same pairs, as a campaign fits one (an ensemble on
   fingerprints, :class:`~chemloop.reward.model.RewardModel`), then RL towards it for ``rl_steps``
   agent updates with the settings every face steers with (:func:`~chemloop.rl.settings.make_agent`).
   The RL score is the reward model's mean squashed by a sigmoid between the 5th and 95th
   percentile of its predictions on the pairs' molecules (0 for an invalid or withheld string).
4. For the model, (a) and (b): ``samples`` molecules (the same seed) give the validity, uniqueness,
   the share of valid samples violating any computable principle (and each one), the KL to the
   model estimated on the samples, the FCD of the valid samples to the model's held-out split
   (where its corpus is found; ``fcd=False`` skips it), and the seconds spent training and measuring.

The target: violations fall by at least 80% from the model's share, at validity ≥ 0.95.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from chemloop.bench.machine import describe
from chemloop.bench.moses_metrics import ReferenceStats
from chemloop.bench.prior_metrics import fcd_to, heldout_reference, load_split, split_options
from chemloop.chem.guard import is_withheld
from chemloop.chem.mol import try_canonical, try_mol
from chemloop.constitution.judges import RuleJudge
from chemloop.constitution.principles import DEFAULT_CONSTITUTION, Constitution, load_constitution
from chemloop.errors import ChemloopError
from chemloop.model import checkpoint
from chemloop.model.checkpoint import DEFAULT_PRIOR, LanguageModel
from chemloop.model.device import pick_device
from chemloop.model.generate import sample
from chemloop.model.inference import FLOAT
from chemloop.reward.data import PreferenceData
from chemloop.reward.model import RewardConfig, RewardModel
from chemloop.rl.dpo import DPOSettings, kl_estimate, train_dpo
from chemloop.rl.online_dpo import online_dpo
from chemloop.rl.pairs import judged_sample_pairs
from chemloop.rl.settings import AgentSettings, make_agent
from chemloop.score.transforms import sigmoid

TARGET_REDUCTION = 0.8  # violations fall by at least this share of the model's own
TARGET_VALIDITY = 0.95
ARMS = ("prior", "dpo", "rm_rl")

Progress = Callable[[str], None]


def bench_align(
    model: str = DEFAULT_PRIOR,
    *,
    constitution: str | Path | None = None,
    pairs: int = 1000,
    samples: int = 10_000,
    rl_steps: int = 100,
    dpo: DPOSettings | None = None,
    dpo_rounds: int = 1,
    invalid_pairs: bool = False,
    invalid_samples: int = 0,
    invalid_share: float | None = None,
    agent: AgentSettings | None = None,
    reward: RewardConfig | None = None,
    seed: int = 0,
    device: str = "auto",
    fcd: bool = True,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the protocol above; returns the arms' metrics, the pairs' summary and the targets."""
    say = progress or (lambda _: None)
    lm = checkpoint.load(model, pick_device(device))
    rules = load_constitution(constitution)
    reference = heldout_stats(model, str(lm.device), cache_dir, say) if fcd else None
    dpo = (dpo or DPOSettings()).model_copy(update={"seed": seed})
    agent = agent or AgentSettings()
    reward = (reward or RewardConfig(kind="preferences")).model_copy(
        update={"kind": "preferences", "seed": seed}
    )

    started = time.perf_counter()
    judged = judged_sample_pairs(
        lm, RuleJudge(rules), pairs, seed=seed, with_invalid=invalid_pairs, invalid_samples=invalid_samples
    )
    judging_s = round(time.perf_counter() - started, 1)
    say(f"judge: {len(judged.pairs)} pairs decided of {judged.judged} ({judging_s:.0f} s)")
    if len(judged.pairs) < 2:
        raise ChemloopError(
            f"the rule judge decided {len(judged.pairs)} pair(s); the benchmark needs at least 2"
        )

    arms: dict[str, dict[str, Any]] = {"prior": measure(lm, lm, rules, samples, seed, 0.0, reference)}
    say(_line("prior", arms["prior"]))

    def epoch(row: dict) -> None:  # a long run shows where it is
        where = f"round {row['round']}, " if "round" in row else ""
        say(f"dpo: {where}epoch {row['epoch']}, held-out loss {row['heldout_loss']:.3f}")

    started = time.perf_counter()
    if dpo_rounds == 1:
        steps = [train_dpo(lm, judged.pairs, dpo, weights=judged.weights(invalid_share), progress=epoch)]
        rounds_judged = [judged]
    else:
        online = online_dpo(
            lm,
            RuleJudge(rules),
            pairs,
            dpo_rounds,
            dpo,
            epoch,
            with_invalid=invalid_pairs,
            invalid_samples=invalid_samples,
            invalid_share=invalid_share,
        )
        steps, rounds_judged = [r.result for r in online], [r.judged for r in online]
    dpo_s = time.perf_counter() - started
    arms["dpo"] = measure(steps[-1].model, lm, rules, samples, seed, dpo_s, reference)
    arms["dpo"]["dpo"] = [
        {
            "pairs": pairs_judged.summary(),
            "best_epoch": step.best_epoch,
            "epochs_run": len(step.history),
            "heldout_before": step.before,
            "heldout_after": step.after,
        }
        for step, pairs_judged in zip(steps, rounds_judged, strict=True)
    ]
    say(_line("dpo", arms["dpo"]))

    started = time.perf_counter()
    # The reward model reads molecules only; RL scores a string that is no molecule 0 anyway.
    molecule_pairs = [(w, other) for w, other in judged.pairs if try_mol(other) is not None]
    steered, fit = reward_model_rl(lm, molecule_pairs, reward, agent, rl_steps, seed)
    rl_s = time.perf_counter() - started
    arms["rm_rl"] = measure(steered, lm, rules, samples, seed, rl_s, reference)
    arms["rm_rl"]["reward_model"] = fit
    say(_line("rm_rl", arms["rm_rl"]))

    base = arms["prior"]["violating"]
    for name in ("dpo", "rm_rl"):
        arm = arms[name]
        arm["violation_reduction"] = None if not base else round(1 - arm["violating"] / base, 4)
    return {
        "model": str(model),
        "constitution": Path(constitution or DEFAULT_CONSTITUTION).name,
        "seed": seed,
        "samples": samples,
        "pairs": judged.summary(),
        "judging_seconds": judging_s,
        "rl_steps": rl_steps,
        "dpo_rounds": dpo_rounds,
        "invalid_pairs": invalid_pairs,
        "invalid_samples": invalid_samples,
        "invalid_share": invalid_share,
        "settings": {"dpo": dpo.model_dump(), "agent": agent.model_dump(), "reward": reward.model_dump()},
        "arms": arms,
        "targets": {name: _met(arms[name]) for name in ("dpo", "rm_rl")},
        "target": f"violations fall by ≥ {TARGET_REDUCTION:.0%} at validity ≥ {TARGET_VALIDITY}",
        "machine": describe(lm.device),
    }


def _met(arm: dict[str, Any]) -> bool:
    reduction = arm.get("violation_reduction")
    return reduction is not None and reduction >= TARGET_REDUCTION and arm["validity"] >= TARGET_VALIDITY


def reward_model_rl(
    lm: LanguageModel,
    pairs: list[tuple[str, str]],
    reward: RewardConfig,
    agent_settings: AgentSettings,
    steps: int,
    seed: int,
) -> tuple[LanguageModel, dict[str, Any]]:
    """A preference reward model fitted on ``pairs``, then ``steps`` RL updates of a copy of ``lm``
    towards it; returns the steered model and the fit's summary."""
    started = time.perf_counter()
    data = PreferenceData(
        [w for w, _ in pairs], [other for _, other in pairs], ["a"] * len(pairs), "judged pairs"
    )
    model = RewardModel.fit(data, reward)
    fit_s = time.perf_counter() - started
    molecules = list(dict.fromkeys(s for pair in pairs for s in pair))
    predicted, _ = model.predict(molecules)
    low, high = (float(v) for v in np.percentile(predicted, [5, 95]))
    if high <= low:
        high = low + 1.0

    def score(smiles: list[str]) -> list[float]:
        canonical = [c if c and not is_withheld(c) else None for c in map(try_canonical, smiles)]
        valid = list(dict.fromkeys(c for c in canonical if c))
        means = dict(zip(valid, model.predict(valid)[0], strict=True)) if valid else {}
        return [sigmoid(float(means[c]), low, high) if c else 0.0 for c in canonical]

    agent = make_agent(lm, agent_settings, seed=seed)
    mean_scores = []
    for _ in range(steps):
        mean_scores.append(agent.step(score).mean_score)
    agent.policy.eval()
    for p in agent.policy.parameters():
        p.requires_grad_(False)
    summary = {
        "fit_seconds": round(fit_s, 1),
        "final_loss": model.metadata.get("final_loss"),
        "squash": [round(low, 4), round(high, 4)],
        "first_step_score": round(mean_scores[0], 4) if mean_scores else None,
        "last_step_score": round(mean_scores[-1], 4) if mean_scores else None,
    }
    return LanguageModel(agent.policy, lm.tokenizer, dict(lm.metadata)), summary


def violation_shares(valid: list[str], rules: Constitution) -> tuple[float, dict[str, float]]:
    """The share of ``valid`` canonical SMILES (repeats counted) that violate any computable principle,
    and the share violating each one (every computable principle listed, 0 where none does)."""
    found: dict[str, list[str]] = {}
    for smiles in set(valid):
        mol = try_mol(smiles)
        found[smiles] = list(rules.violations(mol)) if mol is not None else []
    counts: Counter[str] = Counter()
    violating = 0
    for smiles in valid:
        ids = found[smiles]
        violating += bool(ids)
        counts.update(ids)
    n = max(1, len(valid))
    per = {p.id: round(counts[p.id] / n, 4) for p in rules.principles if p.computable}
    return round(violating / n, 4), per


def heldout_stats(
    model: str | Path, device: str, cache_dir: str | Path | None, say: Progress
) -> ReferenceStats | None:
    """ChemNet statistics of ``model``'s held-out split; None (and why) where that cannot be read."""
    try:
        split = load_split(split_options(model))
    except ChemloopError as error:
        say(f"FCD not measured: {error}")
        return None
    say(f"FCD against {len(split.heldout)} held-out molecules of {Path(split.options.data).name}")
    return heldout_reference(split, cache_dir=cache_dir, n_jobs=1, device=device)


def measure(
    model: LanguageModel,
    prior: LanguageModel,
    rules: Constitution,
    num: int,
    seed: int,
    train_s: float,
    heldout: ReferenceStats | None = None,
) -> dict[str, Any]:
    """Validity, uniqueness, violation shares, KL to ``prior`` and FCD to ``heldout`` (None
    without it) of ``num`` samples of ``model``."""
    started = time.perf_counter()
    report = sample(model, num, seed=seed, precision=FLOAT)
    valid = [m.canonical for m in report.molecules if m.valid]
    violating, per_principle = violation_shares(valid, rules)
    kl = 0.0 if model is prior else kl_estimate(model, prior, [m.smiles for m in report.molecules])
    distance = None if heldout is None else fcd_to(valid, heldout, str(model.device))
    return {
        "validity": round(report.validity, 4),
        "uniqueness": round(report.uniqueness, 4),
        "violating": violating,
        "per_principle": per_principle,
        "kl_to_prior": kl,
        "fcd_to_heldout": None if distance is None or np.isnan(distance) else round(distance, 3),
        "train_seconds": round(train_s, 1),
        "measure_seconds": round(time.perf_counter() - started, 1),
    }


def _shown(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _line(name: str, arm: dict[str, Any]) -> str:
    return (
        f"{name}: validity {arm['validity']:.3f}, violating {arm['violating']:.3f}, "
        f"uniqueness {arm['uniqueness']:.3f}, KL {_shown(arm['kl_to_prior'], 2)}, "
        f"FCD {_shown(arm.get('fcd_to_heldout'), 3)}, {arm['train_seconds']:.0f} s training"
    )


def format_table(result: dict[str, Any]):
    from rich.table import Table

    pairs = result["pairs"]
    table = Table(
        title=f"alignment on {pairs['decided']} rule-judged pairs ({result['constitution']}), "
        f"{result['samples']} samples per arm, seed {result['seed']}",
        caption=f"target: {result['target']}",
    )
    for column in ("arm", "validity", "violating", "reduction", "unique", "KL", "FCD", "train s", "target"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for name in ARMS:
        arm = result["arms"][name]
        reduction = arm.get("violation_reduction")
        table.add_row(
            name,
            f"{arm['validity']:.3f}",
            f"{arm['violating']:.3f}",
            "-" if reduction is None else f"{reduction:.1%}",
            f"{arm['uniqueness']:.3f}",
            _shown(arm["kl_to_prior"], 2),
            _shown(arm.get("fcd_to_heldout"), 3),
            f"{arm['train_seconds']:.0f}",
            "-" if name == "prior" else ("met" if result["targets"][name] else "missed"),
        )
    return table
