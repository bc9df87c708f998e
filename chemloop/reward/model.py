"""Reward models: an ensemble of small MLPs on molecule features, trained on CPU from feedback.

Each member is one hidden layer (ReLU, dropout) trained with AdamW on its own bootstrap
resample of the rows (pairs, for preferences), so the spread of the members' predictions
is an uncertainty: small near the training data, larger away from it. The members are held
as stacked weight tensors and trained together; a bootstrap resample is expressed as each
row's draw count, used as its weight in that member's loss (the same loss as training on the
resampled rows).

Losses, by feedback kind:

- ``values``: mean squared error on standardized values, each row weighted by 1/std² when
  the data gives the measurement's std; predictions are in the values' own units.
- ``preferences``: Bradley–Terry / RankNet, −log σ(f(preferred) − f(other)). A preference
  model predicts a utility with no unit; each member's utilities are centred on the
  training molecules, since the loss cannot see a constant shift.
- ``ratings``: mean squared error on the rating treated as a number from 1 to 5 (ratings
  are few and coarse; a regression keeps their order and spacing and predicts on the
  rating scale).

Saved as ``reward_model.safetensors`` (every member's weights, the feature and target
statistics) and ``reward_model.json`` (feature and feedback kinds, sizes, training
metadata): no pickles.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

from chemloop.chem.mol import parent_smiles, try_parse_canonical
from chemloop.errors import ChemloopError
from chemloop.reward.data import Feedback, PreferenceData
from chemloop.reward.features import FeatureTable, feature_size, featurize, provenance, scaled_columns

WEIGHTS, META = "reward_model.safetensors", "reward_model.json"
FORMAT = "chemloop-reward-model"
FORMAT_VERSION = 1
FEATURE_CLIP = 10.0  # standardized features are clipped: one extreme descriptor must not dominate
TENSORS = ("w1", "b1", "w2", "b2", "feature_mean", "feature_std", "target", "member_shift")


class RewardConfig(BaseModel):
    """How a reward model is built and trained."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["values", "preferences", "ratings"] = Field(description="the feedback it learns from")
    features: Literal["fingerprints", "prior"] = Field(
        "fingerprints", description="Morgan counts + RDKit descriptors, or the prior's embeddings"
    )
    ensemble: int = Field(5, ge=1, le=100, description="members, each on its own bootstrap resample")
    hidden: int = Field(256, ge=1, description="width of each member's hidden layer")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="dropout on the hidden layer")
    epochs: int = Field(100, ge=1, description="passes over the training rows")
    batch_size: int = Field(256, ge=1, description="rows (or pairs) per AdamW step")
    lr: float = Field(1e-3, gt=0.0, description="AdamW learning rate")
    weight_decay: float = Field(1e-2, ge=0.0, description="AdamW weight decay")
    seed: int = Field(0, description="seeds the bootstrap, initialization, dropout and batch order")
    parent_forms: bool = Field(
        True,
        description="learn and predict on each molecule's parent compound (largest fragment, neutralized): "
        "a salt or another protonation state of one compound is that compound",
    )


class _Ensemble(nn.Module):
    """``E`` one-hidden-layer MLPs as stacked weights: ``(N, D)`` features in, ``(E, N)`` outputs out."""

    def __init__(self, members: int, inputs: int, hidden: int, dropout: float) -> None:
        super().__init__()
        bound1, bound2 = 1 / math.sqrt(inputs), 1 / math.sqrt(hidden)  # nn.Linear's default range
        self.w1 = nn.Parameter(torch.empty(members, inputs, hidden).uniform_(-bound1, bound1))
        self.b1 = nn.Parameter(torch.empty(members, hidden).uniform_(-bound1, bound1))
        self.w2 = nn.Parameter(torch.empty(members, hidden).uniform_(-bound2, bound2))
        self.b2 = nn.Parameter(torch.empty(members).uniform_(-bound2, bound2))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        E, D, H = self.w1.shape
        # One (N, D) × (D, E·H) product instead of E small ones.
        h = (x @ self.w1.permute(1, 0, 2).reshape(D, E * H)).view(-1, E, H).transpose(0, 1)
        h = self.dropout(F.relu(h + self.b1[:, None, :]))
        return torch.einsum("enh,eh->en", h, self.w2) + self.b2[:, None]


class RewardModel:
    """A fitted ensemble with what it needs to predict: feature and target statistics, metadata."""

    def __init__(
        self,
        config: RewardConfig,
        net: _Ensemble,
        feature_mean: torch.Tensor,
        feature_std: torch.Tensor,
        target: torch.Tensor,
        member_shift: torch.Tensor,
        metadata: dict | None = None,
    ) -> None:
        self.config = config
        self.net = net.eval()
        self.feature_mean, self.feature_std = feature_mean, feature_std
        self.target = target  # (mean, scale): predictions = output · scale + mean
        self.member_shift = member_shift
        self.metadata = metadata or {}
        # Set only when fitted with a shared table (cross-validation); otherwise predictions compute
        # features afresh, so a model scoring an RL run's many molecules holds no growing cache.
        self.table: FeatureTable | None = None

    # --- fitting -------------------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        data: Feedback,
        config: RewardConfig | None = None,
        *,
        table: FeatureTable | None = None,
        pairs: PreferenceData | None = None,
    ) -> RewardModel:
        """Train an ensemble on ``data``; ``table`` shares features already computed (cross-validation).

        ``pairs`` adds preferences to a values (or ratings) model: a Bradley–Terry term on the same
        standardized scale as the values, so a chemist's choices shape the order among molecules
        the assay has not separated, while the measured values keep the unit.
        """
        config = config or RewardConfig(kind=data.kind)
        if config.kind != data.kind:
            raise ChemloopError(f"a {config.kind} reward model cannot learn from {data.kind} data")
        if len(data) < 2:
            raise ChemloopError(f"{data.source or 'feedback'}: a reward model needs at least 2 rows")
        shared = table is not None
        table = _table_for(config, table)
        started = time.perf_counter()
        # Readers canonicalize already; data built in Python may not be (prior embeddings see the string).
        if isinstance(data, PreferenceData):
            if pairs is not None:
                raise ChemloopError("extra preference pairs go with a values or ratings model")
            winners, losers = _keys(data.winners, config), _keys(data.losers, config)
            molecules = list(dict.fromkeys(winners + losers))
        else:
            molecules = _keys(data.smiles, config)
            if pairs is not None and len(pairs):
                winners, losers = _keys(pairs.winners, config), _keys(pairs.losers, config)
                seen = set(molecules)
                molecules += [s for s in dict.fromkeys(winners + losers) if s not in seen]
        raw = torch.from_numpy(table(molecules))
        wide = raw.double()  # float64 statistics: squares of large descriptors overflow float32
        mean, std = wide.mean(dim=0).float(), wide.std(dim=0, correction=0).float()
        scaled = torch.from_numpy(scaled_columns(config.features))
        std = torch.where(scaled & (std > 1e-6), std, torch.ones_like(std))  # see features.py
        x = _standardize(raw, mean, std)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            net = _Ensemble(config.ensemble, x.shape[1], config.hidden, config.dropout)
            if isinstance(data, PreferenceData):
                index = {s: i for i, s in enumerate(molecules)}
                rows = torch.tensor([index[s] for s in winners]), torch.tensor([index[s] for s in losers])
                target = torch.tensor([0.0, 1.0])
                loss = _train(net, config, len(data), _preference_loss(x, *rows), _pair_weights(data))
                with torch.no_grad():
                    shift = net.eval()(x).mean(dim=1)  # utilities centred on the training molecules
            else:
                y = torch.as_tensor(data.values, dtype=torch.float32)
                y_mean, y_scale = y.mean(), y.std(correction=0)
                y_scale = y_scale if y_scale > 1e-12 else torch.tensor(1.0)
                target = torch.stack([y_mean, y_scale])
                weights = None
                if getattr(data, "std", None) is not None:
                    precision = 1.0 / torch.as_tensor(data.std, dtype=torch.float32) ** 2
                    weights = precision / precision.mean()
                # Value rows come first in x (and in y); pair molecules, if any, after them.
                loss_fn, rows = _squared_loss(x, (y - y_mean) / y_scale), len(data)
                if pairs is not None and len(pairs):
                    index = {s: i for i, s in enumerate(molecules)}
                    pair_loss = _preference_loss(
                        x, torch.tensor([index[s] for s in winners]), torch.tensor([index[s] for s in losers])
                    )
                    loss_fn, rows = _joint_loss(loss_fn, pair_loss, len(data)), len(data) + len(pairs)
                    pair_weights = _pair_weights(pairs)
                    if weights is not None or pair_weights is not None:
                        value_weights = weights if weights is not None else torch.ones(len(data))
                        ones = torch.ones(len(pairs))
                        weights = torch.cat(
                            [value_weights, pair_weights if pair_weights is not None else ones]
                        )
                loss = _train(net, config, rows, loss_fn, weights)
                shift = torch.zeros(config.ensemble)
        metadata = {
            "rows": len(data),
            "pairs": 0 if pairs is None or isinstance(data, PreferenceData) else len(pairs),
            "molecules": len(set(molecules)),
            "source": data.source,
            "final_loss": loss,
            "features": provenance(config.features),
            "seconds": round(time.perf_counter() - started, 2),
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        model = cls(config, net, mean, std, target, shift.detach(), metadata)
        model.table = table if shared else None
        return model

    # --- prediction ----------------------------------------------------------------------------

    def predict_members(self, smiles: Sequence[str]) -> np.ndarray:
        """Every member's prediction, ``ensemble × n`` (float64)."""
        keys = _keys(smiles, self.config)
        raw = self.table(keys) if self.table is not None else featurize(keys, self.config.features)
        x = _standardize(torch.from_numpy(raw), self.feature_mean, self.feature_std)
        with torch.no_grad():
            out = (self.net(x) - self.member_shift[:, None]) * self.target[1] + self.target[0]
        return out.double().numpy()

    def predict(self, smiles: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation across the members for each SMILES (raises on an invalid one)."""
        if len(smiles) == 0:
            return np.zeros(0), np.zeros(0)
        members = self.predict_members(smiles)
        return members.mean(axis=0), members.std(axis=0)

    # --- files ---------------------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write ``reward_model.safetensors`` and ``reward_model.json`` into ``directory``."""
        import rdkit

        import chemloop

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {
            "w1": self.net.w1,
            "b1": self.net.b1,
            "w2": self.net.w2,
            "b2": self.net.b2,
            "feature_mean": self.feature_mean,
            "feature_std": self.feature_std,
            "target": self.target,
            "member_shift": self.member_shift,
        }
        save_file({k: v.detach().float().contiguous() for k, v in tensors.items()}, directory / WEIGHTS)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "chemloop_version": chemloop.__version__,
            "feedback_kind": self.config.kind,
            "feature_kind": self.config.features,
            "n_features": int(self.net.w1.shape[1]),
            "ensemble": self.config.ensemble,
            "hidden": self.config.hidden,
            "config": self.config.model_dump(),
            "training": self.metadata,
            "versions": {"rdkit": rdkit.__version__, "torch": torch.__version__},
        }
        (directory / META).write_text(json.dumps(meta, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> RewardModel:
        """Read a folder written by :meth:`save`; a missing or corrupt file is an error naming it."""
        directory = Path(directory)
        if not directory.is_dir():
            raise ChemloopError(f"no reward model folder at {directory}")
        weights_path, meta_path = directory / WEIGHTS, directory / META
        for path in (meta_path, weights_path):
            if not path.is_file():
                raise ChemloopError(f"reward model folder {directory} lacks {path.name}")
        try:
            meta = json.loads(meta_path.read_text())
            # Models saved before parent forms existed learned the molecules as written.
            config = RewardConfig(**{"parent_forms": False, **meta["config"]})
            n_features = int(meta["n_features"])
        except (ValueError, KeyError, TypeError, ValidationError) as err:
            raise ChemloopError(f"cannot read {meta_path}: {err}") from None
        try:
            tensors = load_file(weights_path)
        except Exception as err:  # safetensors raises its own error type for a damaged file
            raise ChemloopError(f"cannot read {weights_path}: {err}") from None
        missing = [k for k in TENSORS if k not in tensors]
        if missing:
            raise ChemloopError(f"{weights_path} lacks the tensors {', '.join(missing)}")
        expected = (config.ensemble, n_features, config.hidden)
        if tuple(tensors["w1"].shape) != expected:
            raise ChemloopError(
                f"{weights_path}: weights of shape {tuple(tensors['w1'].shape)} do not match "
                f"{meta_path.name} (ensemble, features, hidden = {expected})"
            )
        if n_features != feature_size(config.features):
            raise ChemloopError(
                f"{directory}: the model was trained on {n_features} {config.features} features, but this "
                f"installation computes {feature_size(config.features)} (a different RDKit or prior?)"
            )
        net = _Ensemble(config.ensemble, n_features, config.hidden, config.dropout)
        net.load_state_dict({k: tensors[k] for k in ("w1", "b1", "w2", "b2")})
        return cls(
            config,
            net,
            tensors["feature_mean"],
            tensors["feature_std"],
            tensors["target"],
            tensors["member_shift"],
            meta.get("training", {}),
        )


def write_predictions(path: str | Path, smiles: Sequence[str], mean: np.ndarray, std: np.ndarray) -> Path:
    """A CSV of ``smiles,mean,std``, one row per input molecule in input order."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["smiles", "mean", "std"])
        for s, m, d in zip(smiles, mean, std, strict=True):
            writer.writerow([s, f"{m:.6g}", f"{d:.6g}"])
    return path


# --- internals ---------------------------------------------------------------------------------


def _table_for(config: RewardConfig, table: FeatureTable | None) -> FeatureTable:
    if table is None:
        return FeatureTable(config.features)
    if table.kind != config.features:
        raise ValueError(f"feature table holds {table.kind} features, the config asks for {config.features}")
    return table


def _standardize(raw: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return ((raw - mean) / std).clamp(-FEATURE_CLIP, FEATURE_CLIP)


def _keys(smiles: Sequence[str], config: RewardConfig) -> list[str]:
    """The canonical SMILES the model sees for each input: its parent compound's, or as written."""
    parsed = [try_parse_canonical(s) for s in smiles]
    bad = [repr(s) for s, p in zip(smiles, parsed, strict=True) if p is None]
    if bad:
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ChemloopError(f"reward model input: invalid SMILES {', '.join(bad[:5])}{more}")
    if config.parent_forms:
        return [parent_smiles(mol) for mol, _ in parsed]
    return [canonical for _, canonical in parsed]


def _squared_loss(x: torch.Tensor, y: torch.Tensor):
    def loss(net: _Ensemble, rows: torch.Tensor) -> torch.Tensor:
        return (net(x[rows]) - y[rows]) ** 2  # (E, B)

    return loss


def _pair_weights(pairs: PreferenceData) -> torch.Tensor | None:
    return None if pairs.weights is None else torch.as_tensor(pairs.weights, dtype=torch.float32)


def _preference_loss(x: torch.Tensor, winners: torch.Tensor, losers: torch.Tensor):
    def loss(net: _Ensemble, rows: torch.Tensor) -> torch.Tensor:
        both = net(torch.cat([x[winners[rows]], x[losers[rows]]]))
        margin = both[:, : len(rows)] - both[:, len(rows) :]
        return F.softplus(-margin)  # −log σ(f(winner) − f(loser)), stable for large margins

    return loss


def _joint_loss(value_loss, pair_loss, values: int):
    """Rows ``0..values-1`` are value rows, the rest preference pairs; one (E, B) loss in batch order."""

    def loss(net: _Ensemble, rows: torch.Tensor) -> torch.Tensor:
        is_value = rows < values
        out = torch.empty(net.w1.shape[0], len(rows))
        if is_value.any():
            out[:, is_value] = value_loss(net, rows[is_value])
        if (~is_value).any():
            out[:, ~is_value] = pair_loss(net, rows[~is_value] - values)
        return out

    return loss


def _train(net: _Ensemble, config: RewardConfig, rows: int, loss_fn, weights: torch.Tensor | None) -> float:
    """AdamW on every member at once; each member weighs the rows by its bootstrap draw counts."""
    generator = np.random.default_rng(config.seed)
    counts = generator.multinomial(rows, np.full(rows, 1.0 / rows), size=config.ensemble)
    counts = torch.as_tensor(counts, dtype=torch.float32)  # (E, rows)
    if weights is not None:
        counts = counts * weights
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    net.train()
    last = math.nan
    for _ in range(config.epochs):
        total = 0.0
        for batch in torch.randperm(rows).split(config.batch_size):
            w = counts[:, batch]
            per_member = (loss_fn(net, batch) * w).sum(dim=1) / w.sum(dim=1).clamp_min(1e-8)
            loss = per_member.sum()  # members are independent: summing keeps each one's gradient
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        last = total / rows / config.ensemble
    net.eval()
    return round(last, 6)
