"""On-policy DPO: a judge's budget of pairs spent over rounds, each on the model as it now is.

Offline DPO judges pairs of the starting model's samples once. Once the model has moved, those
pairs say little about what it now writes, and pushing their dispreferred molecules down frees
probability that may flow to invalid strings. Iterative ("online") DPO (Xiong et al., ICML 2024;
Guo et al., arXiv:2402.04792) judges fresh pairs of the current model each round and takes one DPO
step from it, the current model as that round's reference. The total number of judged pairs is
the same as offline DPO's, split evenly over the rounds.

:func:`validity_dpo` runs the same rounds without a judge: each string of the model's samples that
is no molecule loses to one of its valid samples, so the model learns to write valid SMILES.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chemloop.constitution.judges import Judge
from chemloop.errors import ChemloopError
from chemloop.model.checkpoint import LanguageModel
from chemloop.rl.dpo import MIN_PAIRS, DPOResult, DPOSettings, train_dpo
from chemloop.rl.pairs import JudgedPairs, invalid_string_pairs, judged_sample_pairs

# The pairs of one round: from the model as it now is, with the round's seed.
PairDraw = Callable[[LanguageModel, int], JudgedPairs]


@dataclass
class OnlineRound:
    """One round: the pairs judged on the model as it was, and the DPO step taken on them."""

    judged: JudgedPairs
    result: DPOResult


def online_dpo(
    lm: LanguageModel,
    judge: Judge,
    num_pairs: int,
    rounds: int,
    settings: DPOSettings | None = None,
    progress: Callable[[dict], None] | None = None,
    with_invalid: bool = False,
    invalid_samples: int = 0,
    invalid_share: float | None = None,
) -> list[OnlineRound]:
    """``rounds`` rounds of judging ``num_pairs / rounds`` pairs of the current model's samples and
    aligning it to them with DPO (round r seeds its samples and its DPO with ``settings.seed + r``);
    the last round's ``result.model`` is the aligned model; one round is offline DPO. ``lm`` is left
    as it was. ``progress`` gets each epoch's held-out metrics (with more than one round, the
    round's number under ``"round"``).
    ``with_invalid``: sampled strings that are no molecule join the pairs, as losers, from up to
    ``invalid_samples`` strings a round (:func:`~chemloop.rl.pairs.judged_sample_pairs`), together
    carrying ``invalid_share`` of each round's loss if set
    (:meth:`~chemloop.rl.pairs.JudgedPairs.weights`)."""
    if rounds < 1:
        raise ChemloopError(f"the number of rounds must be at least 1, not {rounds}")
    per_round = num_pairs // rounds
    if per_round < MIN_PAIRS:
        raise ChemloopError(
            f"{num_pairs} pairs over {rounds} rounds leave {per_round} a round; DPO needs {MIN_PAIRS}"
        )

    def draw(current: LanguageModel, seed: int) -> JudgedPairs:
        return judged_sample_pairs(
            current, judge, per_round, seed=seed, with_invalid=with_invalid, invalid_samples=invalid_samples
        )

    return dpo_rounds(lm, draw, rounds, settings, progress, invalid_share)


def validity_dpo(
    lm: LanguageModel,
    num_samples: int,
    rounds: int,
    settings: DPOSettings | None = None,
    progress: Callable[[dict], None] | None = None,
) -> list[OnlineRound]:
    """``rounds`` rounds of DPO on the strings that are no molecule among ``num_samples`` of the
    current model's samples, each losing to a different valid sample
    (:func:`~chemloop.rl.pairs.invalid_string_pairs`): the model learns to write valid SMILES and is
    told nothing else. No judge and no constitution."""
    return dpo_rounds(
        lm, lambda current, seed: invalid_string_pairs(current, num_samples, seed), rounds, settings, progress
    )


def dpo_rounds(
    lm: LanguageModel,
    draw: PairDraw,
    rounds: int,
    settings: DPOSettings | None = None,
    progress: Callable[[dict], None] | None = None,
    invalid_share: float | None = None,
) -> list[OnlineRound]:
    """Round r draws pairs of the current model with seed ``settings.seed + r`` and takes a DPO step
    from it on them; ``lm`` is left as it was."""
    if rounds < 1:
        raise ChemloopError(f"the number of rounds must be at least 1, not {rounds}")
    settings = settings or DPOSettings()
    done: list[OnlineRound] = []
    current = lm
    for r in range(rounds):
        seed = settings.seed + r
        judged = draw(current, seed)
        if len(judged.pairs) < MIN_PAIRS:
            raise ChemloopError(
                f"round {r + 1}: {len(judged.pairs)} pair(s) of the model's samples were decided; "
                f"DPO needs {MIN_PAIRS}"
            )

        def epoch(row: dict, number: int = r + 1) -> None:
            if progress is not None:
                progress({**row, "round": number} if rounds > 1 else row)

        result = train_dpo(
            current,
            judged.pairs,
            settings.model_copy(update={"seed": seed}),
            weights=judged.weights(invalid_share),
            progress=epoch,
        )
        done.append(OnlineRound(judged, result))
        current = result.model
    return done
