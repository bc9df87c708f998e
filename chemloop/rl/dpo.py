"""Direct preference optimization (DPO; Rafailov et al., arXiv:2305.18290, 2023) of a SMILES model.

    chemloop align --model prior --pairs pairs.csv --out runs/aligned

From pairs of molecules (the preferred one, the other) the policy, a copy of the reference model,
minimizes −log σ(β[(log πθ(w) − log πref(w)) − (log πθ(l) − log πref(l))]) on whole-sequence
log-likelihoods (:func:`~chemloop.model.likelihood.sequence_log_likelihood`, as the RL agent
computes them). No reward model and no sampling while training: the preferences steer the
model directly, and β sets how far from the reference it may go for them (small β: further).

DPO alone can lower the likelihood of the preferred molecule as well as of the other (only the
difference counts), which for a SMILES model erodes the grammar of everything it writes. With
``nll_weight`` α > 0 the loss adds α times the per-token NLL of the preferred molecule (DPO+NLL,
"RPO": Pang et al., arXiv:2404.19733, 2024), which keeps the model writing what was preferred.

A model trained on random SMILES spellings sees a fresh random spelling of each molecule every
epoch (augmentation: the preference is the molecule's, not one string's); one trained on
canonical spellings only keeps them. A seeded share of the pairs is held out, and the epoch with
the lowest held-out loss is kept (early stopping after ``patience`` epochs without a better one).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch.nn import functional as F

from chemloop.chem.mol import randomize as randomly_spelled
from chemloop.chem.mol import try_mol
from chemloop.chem.tokenizer import TokenizerError
from chemloop.errors import ChemloopError
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.generate import string_nll
from chemloop.model.gpt import GPT
from chemloop.model.likelihood import pad_batch, sequence_log_likelihood

MIN_PAIRS = 2  # one to learn from and one held out


class DPOSettings(BaseModel):
    """How a model is aligned to preference pairs (``chemloop align``, ``chemloop bench align``)."""

    model_config = ConfigDict(extra="forbid")

    beta: float = Field(
        0.1, gt=0, description="strength of the pull towards the reference model (Rafailov et al.'s β)"
    )
    lr: float = Field(
        5e-5, gt=0, description="AdamW learning rate; larger rates erode the validity of samples"
    )
    # Plain DPO (0) cut violations most on the broad prior but halved the validity of its samples;
    # with 1.0 validity and KL stayed near the prior's (docs/alignment.md).
    nll_weight: float = Field(
        1.0,
        ge=0,
        description="weight of the preferred molecule's per-token NLL in the loss (DPO+NLL); 0: plain DPO",
    )
    epochs: int = Field(20, ge=1, description="most passes over the training pairs")
    patience: int = Field(3, ge=1, description="epochs without a lower held-out loss before stopping")
    batch_size: int = Field(32, ge=1, description="pairs per optimizer step")
    val_fraction: float = Field(0.1, gt=0, lt=0.5, description="pairs held out for early stopping")
    randomize: bool | None = Field(
        None,
        description="a fresh random spelling of each molecule per epoch; unset: as the model was trained",
    )
    seed: int = Field(0, description="seeds the split, the batch order and the spellings")


@dataclass
class Encoded:
    """Pairs the model can write: canonical SMILES, token ids, weights, reference log-likelihoods."""

    preferred: list[str]
    other: list[str]
    weights: torch.Tensor
    ids_w: list[list[int]]
    ids_l: list[list[int]]
    ref_w: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    ref_l: torch.Tensor = field(default_factory=lambda: torch.zeros(0))

    def __len__(self) -> int:
        return len(self.preferred)

    def subset(self, rows: Sequence[int]) -> Encoded:
        pick = list(rows)
        return Encoded(
            [self.preferred[i] for i in pick],
            [self.other[i] for i in pick],
            self.weights[pick],
            [self.ids_w[i] for i in pick],
            [self.ids_l[i] for i in pick],
            self.ref_w[pick] if len(self.ref_w) else self.ref_w,
            self.ref_l[pick] if len(self.ref_l) else self.ref_l,
        )


@dataclass
class DPOResult:
    """The aligned model, the held-out metrics of the reference (``before``) and of it (``after``)."""

    model: LanguageModel
    before: dict[str, float]
    after: dict[str, float]
    best_epoch: int
    history: list[dict[str, float]]
    train_pairs: int
    heldout_pairs: int
    unwritable: int  # pairs dropped: a molecule the vocabulary cannot spell or the context cannot hold
    randomized: bool
    seconds: float


def dpo_loss(
    policy_w: torch.Tensor,
    policy_l: torch.Tensor,
    ref_w: torch.Tensor,
    ref_l: torch.Tensor,
    beta: float,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """The DPO loss of a batch of pairs (log-likelihoods of the preferred ``w`` and the other ``l``
    under the policy and the reference), a weighted mean over the pairs."""
    margin = beta * ((policy_w - ref_w) - (policy_l - ref_l))
    losses = F.softplus(-margin)  # −log σ(margin), stable for large margins
    if weights is None:
        return losses.mean()
    return (losses * weights).sum() / weights.sum().clamp_min(1e-12)


def preferred_nll(policy_w: torch.Tensor, ids_w: list[list[int]], weights: torch.Tensor) -> torch.Tensor:
    """The weighted mean per-token NLL of the preferred molecules (``ids_w`` with <bos> and <eos>:
    each predicts ``len - 1`` tokens)."""
    tokens = torch.tensor([len(ids) - 1 for ids in ids_w], dtype=policy_w.dtype, device=policy_w.device)
    return (-policy_w / tokens * weights).sum() / weights.sum().clamp_min(1e-12)


def encode_pairs(
    lm: LanguageModel, pairs: Sequence[tuple[str, str]], weights: Sequence[float] | None = None
) -> tuple[Encoded, int]:
    """The pairs ``lm`` can write, canonical and tokenized, and how many it cannot (dropped)."""
    kept = Encoded([], [], torch.zeros(0), [], [])
    kept_weights: list[float] = []
    dropped = 0
    for i, (w, other) in enumerate(pairs):
        ids_w, ids_l = _encode(lm, w), _encode(lm, other)
        if ids_w is None or ids_l is None:
            dropped += 1
            continue
        kept.preferred.append(w)
        kept.other.append(other)
        kept.ids_w.append(ids_w)
        kept.ids_l.append(ids_l)
        kept_weights.append(1.0 if weights is None else float(weights[i]))
    kept.weights = torch.tensor(kept_weights, dtype=torch.float32)
    return kept, dropped


def _encode(lm: LanguageModel, smiles: str) -> list[int] | None:
    try:
        ids = lm.tokenizer.encode(smiles)
    except TokenizerError:
        return None
    return ids if len(ids) <= lm.model.config.block_size else None


def split_pairs(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Training and held-out pair indices by a seeded shuffle (at least one of each)."""
    if n < MIN_PAIRS:
        raise ChemloopError(f"{n} usable preference pair(s); DPO needs at least {MIN_PAIRS}")
    order = np.random.default_rng(seed).permutation(n).tolist()
    held = min(n - 1, max(1, round(fraction * n)))
    return order[held:], order[:held]


def _pair_log_likelihoods(
    model: GPT, ids_w: list[list[int]], ids_l: list[list[int]], pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole-sequence log-likelihoods of the preferred and the other molecules, in one batch."""
    batch = pad_batch([*ids_w, *ids_l], pad_id).to(device)
    logp = sequence_log_likelihood(model, batch, pad_id)
    return logp[: len(ids_w)], logp[len(ids_w) :]


@torch.no_grad()
def reference_log_likelihoods(lm: LanguageModel, pairs: Encoded, batch_size: int = 256) -> Encoded:
    """``pairs`` with the reference's log-likelihoods of their canonical spellings filled in."""
    ws, ls = [], []
    for start in range(0, len(pairs), batch_size):
        w, lose = _pair_log_likelihoods(
            lm.model,
            pairs.ids_w[start : start + batch_size],
            pairs.ids_l[start : start + batch_size],
            lm.tokenizer.pad_id,
            lm.device,
        )
        ws.append(w.cpu())
        ls.append(lose.cpu())
    pairs.ref_w, pairs.ref_l = torch.cat(ws), torch.cat(ls)
    return pairs


@torch.no_grad()
def pair_metrics(
    model: GPT, pairs: Encoded, beta: float, pad_id: int, batch_size: int = 256, nll_weight: float = 0.0
) -> dict[str, float]:
    """How ``model`` ranks held-out pairs (canonical spellings; reference values must be filled in):

    - ``loss``: the training loss: ``dpo_loss`` plus ``nll_weight`` × ``preferred_nll``;
    - ``dpo_loss``: DPO's loss (log 2 ≈ 0.693 for the reference itself);
    - ``preferred_nll``: the preferred molecules' per-token NLL;
    - ``reward_accuracy``: the share whose implicit reward β·log(πθ/πref) is higher for the preferred
      molecule (0 for the reference itself: every margin is 0);
    - ``likelihood_accuracy``: the share where the model writes the preferred molecule more likely
      than the other (the model's own preference, meaningful before and after);
    - ``margin``: the mean of log πθ(preferred) − log πθ(other), in nats.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    ws, ls = [], []
    for start in range(0, len(pairs), batch_size):
        w, lose = _pair_log_likelihoods(
            model,
            pairs.ids_w[start : start + batch_size],
            pairs.ids_l[start : start + batch_size],
            pad_id,
            device,
        )
        ws.append(w.cpu())
        ls.append(lose.cpu())
    model.train(was_training)
    policy_w, policy_l = torch.cat(ws), torch.cat(ls)
    implicit = (policy_w - pairs.ref_w) - (policy_l - pairs.ref_l)
    nll = preferred_nll(policy_w, pairs.ids_w, pairs.weights)
    preference = dpo_loss(policy_w, policy_l, pairs.ref_w, pairs.ref_l, beta, pairs.weights)
    return {
        "loss": round(float(preference + nll_weight * nll), 4),
        "dpo_loss": round(float(preference), 4),
        "preferred_nll": round(float(nll), 4),
        "reward_accuracy": round(float((implicit > 0).float().mean()), 4),
        "likelihood_accuracy": round(float((policy_w > policy_l).float().mean()), 4),
        "margin": round(float((policy_w - policy_l).mean()), 4),
    }


def _batch_ids(
    lm: LanguageModel, pairs: Encoded, rows: np.ndarray, randomize: bool, rng: np.random.Generator
) -> tuple[list[list[int]], list[list[int]]]:
    """Token ids of a batch: fresh random spellings (the canonical one where a random spelling
    needs a token the model lacks or is too long; a string that is no molecule as written), or the
    canonical ones."""
    if not randomize:
        return [pairs.ids_w[i] for i in rows], [pairs.ids_l[i] for i in rows]
    ids_w, ids_l = [], []
    for i in rows:
        ids_w.append(_respelled(lm, pairs.preferred[i], pairs.ids_w[i], rng))
        ids_l.append(_respelled(lm, pairs.other[i], pairs.ids_l[i], rng))
    return ids_w, ids_l


def _respelled(lm: LanguageModel, smiles: str, ids: list[int], rng: np.random.Generator) -> list[int]:
    mol = try_mol(smiles)
    return ids if mol is None else (_encode(lm, randomly_spelled(mol, rng)) or ids)


def train_dpo(
    reference: LanguageModel,
    pairs: Sequence[tuple[str, str]],
    settings: DPOSettings | None = None,
    *,
    weights: Sequence[float] | None = None,
    progress: Callable[[dict], None] | None = None,
) -> DPOResult:
    """Align a copy of ``reference`` to ``pairs`` of canonical SMILES ``(preferred, other)``, each
    weighted by ``weights`` (default 1); ``reference`` is left as it was."""
    settings = settings or DPOSettings()
    started = time.perf_counter()
    encoded, unwritable = encode_pairs(reference, pairs, weights)
    train_rows, held_rows = split_pairs(len(encoded), settings.val_fraction, settings.seed)
    train, held = encoded.subset(train_rows), reference_log_likelihoods(reference, encoded.subset(held_rows))
    randomize = reference.writes_random_spellings if settings.randomize is None else settings.randomize
    pad_id, device = reference.tokenizer.pad_id, reference.device

    ref_model = reference.model.eval()
    policy = copy.deepcopy(ref_model).train()
    for p in policy.parameters():  # a reference that an earlier run froze is copied frozen
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=settings.lr, weight_decay=0.0)
    rng = np.random.default_rng(settings.seed)
    before = pair_metrics(ref_model, held, settings.beta, pad_id, nll_weight=settings.nll_weight)
    best = {"epoch": 0, "loss": before["loss"], "state": None, "metrics": before}
    history: list[dict[str, float]] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        for epoch in range(1, settings.epochs + 1):
            total, seen = 0.0, 0
            order = rng.permutation(len(train))
            for start in range(0, len(order), settings.batch_size):
                rows = order[start : start + settings.batch_size]
                ids_w, ids_l = _batch_ids(reference, train, rows, randomize, rng)
                with torch.no_grad():
                    ref_w, ref_l = _pair_log_likelihoods(ref_model, ids_w, ids_l, pad_id, device)
                policy_w, policy_l = _pair_log_likelihoods(policy, ids_w, ids_l, pad_id, device)
                loss = dpo_loss(
                    policy_w,
                    policy_l,
                    ref_w,
                    ref_l,
                    settings.beta,
                    train.weights[torch.as_tensor(rows)].to(device),
                )
                if settings.nll_weight > 0:
                    loss = loss + settings.nll_weight * preferred_nll(
                        policy_w, ids_w, train.weights[torch.as_tensor(rows)].to(device)
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
                optimizer.step()
                total += float(loss.detach()) * len(rows)
                seen += len(rows)
            metrics = pair_metrics(policy, held, settings.beta, pad_id, nll_weight=settings.nll_weight)
            history.append(
                {"epoch": epoch, "train_loss": round(total / max(1, seen), 4), **_heldout(metrics)}
            )
            if metrics["loss"] < best["loss"]:
                best.update(epoch=epoch, loss=metrics["loss"], metrics=metrics)
                best["state"] = copy.deepcopy(policy.state_dict())
            if progress is not None:
                progress({**history[-1], "epochs": settings.epochs, "best_epoch": best["epoch"]})
            if epoch - best["epoch"] >= settings.patience:
                break
    if best["state"] is not None:
        policy.load_state_dict(best["state"])
    else:  # no epoch beat the reference on held-out pairs: the reference is the best model
        policy.load_state_dict(ref_model.state_dict())
    policy.eval()
    for p in policy.parameters():
        p.requires_grad_(False)
    aligned = LanguageModel(policy, reference.tokenizer, dict(reference.metadata))
    return DPOResult(
        aligned,
        before,
        best["metrics"],
        best["epoch"],
        history,
        len(train),
        len(held),
        unwritable,
        randomize,
        round(time.perf_counter() - started, 2),
    )


def _heldout(metrics: dict[str, float]) -> dict[str, float]:
    return {f"heldout_{k}": v for k, v in metrics.items()}


def kl_estimate(policy: LanguageModel, reference: LanguageModel, strings: Sequence[str]) -> float | None:
    """KL(πθ ‖ πref) estimated on strings sampled from the policy: the mean of log πθ(x) − log πref(x).

    Both log-likelihoods come from the same forward pass code (fp32), so a policy identical to the
    reference gives 0. Strings the reference cannot write (a token it lacks) are left out.
    """
    if not strings:
        return None
    policy_nll = string_nll(policy, strings)
    reference_nll = string_nll(reference, strings)
    gaps = [
        r - p for p, r in zip(policy_nll, reference_nll, strict=True) if math.isfinite(p) and math.isfinite(r)
    ]
    return round(float(np.mean(gaps)), 4) if gaps else None
