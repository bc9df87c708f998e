"""Pretrain a SMILES GPT: the self-supervised first stage of chemloop.

On the CPU (tiny demo):
    chemloop pretrain --data my.smi --out runs/demo --max-steps 200 --n-layer 2 --n-embd 64
On one GPU, the full MOSES training set:
    chemloop pretrain --out runs/prior --max-steps 20000 --batch-size 512
On several GPUs (DDP; gloo on CPU-only machines):
    torchrun --nproc_per_node 8 -m chemloop.cli pretrain --out runs/prior ...

The run folder is itself a checkpoint (``model.safetensors``, ``config.json``,
``vocab.json``) plus the optimizer state, ``trainer_state.json`` and ``metrics.csv``;
``--resume`` continues it from the last saved step.

``--init-from MODEL`` starts a new run from a trained model instead of random weights (continued
pretraining: the shipped prior on an in-house library, or further epochs of its own corpus): its
architecture and vocabulary, extended by any token of the corpus it lacks; a fresh optimizer and
learning-rate schedule.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.distributed as dist
from pydantic import BaseModel, ConfigDict, Field
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel

from chemloop.chem.tokenizer import COMMON_EXTRA_TOKENS, SmilesTokenizer
from chemloop.data.batching import TokenizedCorpus
from chemloop.errors import ChemloopError
from chemloop.model import checkpoint
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.device import PRECISIONS, autocast, pick_device, resolve_precision
from chemloop.model.gpt import GPT, GPTConfig
from chemloop.model.optim_state import load_optimizer, save_optimizer
from chemloop.train.corpus_split import holds_split, save_split, split_corpus
from chemloop.train.transfer import corpus_nll, extend_vocabulary, unknown_tokens

METRICS_FIELDS = ["step", "epoch", "tokens", "train_loss", "val_nll", "lr", "tokens_per_s", "elapsed_s"]


class PretrainConfig(BaseModel):
    """Everything a pretraining run needs; saved as ``pretrain_config.json`` in the run folder."""

    model_config = ConfigDict(extra="forbid")

    data: str = Field("moses", description="'moses' or a .smi/.csv/.sdf file, gzipped or not")
    column: str | None = Field(None, description="SMILES column of a CSV file")
    skip_invalid: bool = Field(False, description="drop rows RDKit cannot parse instead of failing")
    standardize: bool = Field(
        True,
        description="file corpora: largest fragment, canonical SMILES (stereo, charges kept), no duplicates",
    )
    holdout_fraction: float = Field(
        0.05, gt=0, lt=1, description="molecules held out by a seeded hash of their SMILES (never trained on)"
    )
    out: Path = Field(Path("runs/pretrain"), description="run folder")
    n_layer: int = Field(4, ge=1)
    n_head: int = Field(4, ge=1)
    n_embd: int = Field(128, ge=8)
    block_size: int = Field(128, ge=8, description="longest sequence in tokens, <bos>/<eos> included")
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    batch_size: int = Field(128, ge=1, description="molecules per step on each process")
    max_steps: int = Field(2000, ge=1)
    max_minutes: float | None = Field(None, gt=0, description="stop (and save) after this wall time")
    lr: float = Field(1e-3, gt=0)
    min_lr: float = Field(1e-4, ge=0)
    warmup_steps: int = Field(200, ge=0)
    weight_decay: float = Field(0.1, ge=0)
    grad_clip: float = Field(1.0, gt=0)
    randomize: bool = Field(
        True, description="train on a fresh random SMILES spelling of each molecule per epoch"
    )
    val_size: int = Field(2000, ge=1, description="held-out molecules whose NLL is reported during training")
    eval_interval: int = Field(250, ge=1, description="steps between validation and checkpoint")
    seed: int = Field(
        0, description="seeds the held-out split, the initial weights and the order of the batches"
    )
    device: str = Field("auto", description="'auto', 'cpu', 'cuda' or 'cuda:N'")
    precision: Literal[PRECISIONS] = Field(
        "auto", description="'bf16' autocast, 'fp32', or 'auto': bf16 on a GPU or a CPU with bf16 units (AMX)"
    )
    compile: bool = Field(False, description="torch.compile the model (GPU)")
    resume: bool = Field(False, description="continue the run in `out`")
    init_from: str | None = Field(
        None,
        description="start from this model's weights (a shipped name or a folder): its architecture "
        "replaces n_layer/n_head/n_embd/block_size/dropout; a fresh optimizer and schedule",
    )


def learning_rate(step: int, config: PretrainConfig, elapsed_s: float = 0.0) -> float:
    """Linear warmup, then cosine decay from ``lr`` to ``min_lr``.

    The decay ends at ``max_steps`` or, with ``max_minutes``, at the time limit, whichever
    comes first: a run on a time budget still anneals fully before it stops.
    """
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.max_steps - config.warmup_steps)
    if config.max_minutes is not None:
        progress = max(progress, elapsed_s / (60 * config.max_minutes))
    progress = min(1.0, progress)
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1 + math.cos(math.pi * progress))


def _drop_metrics_after(path: Path, step: int) -> None:
    """Rows a stopped run logged after its last saved state are run again on resume: drop them, so
    that each step is logged once."""
    if not path.exists():
        return
    lines = path.read_text().splitlines()
    kept = lines[:1] + [line for line in lines[1:] if int(line.split(",", 1)[0]) <= step]
    if len(kept) < len(lines):
        path.write_text("\n".join(kept) + "\n")


def summed_token_nll(model: torch.nn.Module, batch: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Next-token cross-entropy summed over the non-pad tokens of ``batch``.

    Training divides it by a fixed token count (:func:`tokens_per_batch`), not by the batch's own:
    batches group molecules of similar length, and a per-batch mean gives every molecule the same
    weight whatever its length. Maximum likelihood so weighted learns the corpus reweighted by
    1/length: a prior trained that way wrote strings 5% shorter than its corpus (a mean of 40.2
    tokens against 42.5; the 1/length-weighted corpus has 40.7: bench/sample_lengths.py).
    """
    logits = model(batch[:, :-1])
    return F.cross_entropy(logits.float().transpose(1, 2), batch[:, 1:], ignore_index=pad_id, reduction="sum")


def tokens_per_batch(corpus: TokenizedCorpus, batch_size: int) -> float:
    """The predicted tokens of an average batch: ``batch_size`` molecules of the corpus's mean length."""
    return batch_size * max(1.0, float(corpus.lengths.mean()) - 1)  # <bos> is never predicted


class _Distributed:
    """Rank and world size, from torchrun's environment variables (1 process without them)."""

    def __init__(self, device_name: str) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.enabled = self.world > 1
        if self.enabled:
            local = int(os.environ.get("LOCAL_RANK", "0"))
            use_cuda = torch.cuda.is_available() and device_name != "cpu"
            if use_cuda:
                torch.cuda.set_device(local)
                self.device = torch.device("cuda", local)
            else:
                self.device = torch.device("cpu")
            if not dist.is_initialized():
                dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        else:
            self.device = pick_device(device_name)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def check_in_sync(self, model: torch.nn.Module) -> None:
        """Raise if the replicas' weights differ: DDP must keep every rank identical."""
        if not self.enabled:
            return
        checksum = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum()
        checksum = checksum.reshape(1).to(self.device)
        gathered = [torch.zeros_like(checksum) for _ in range(self.world)]
        dist.all_gather(gathered, checksum)
        values = [g.item() for g in gathered]
        if max(values) - min(values) > 1e-6 * max(1.0, abs(values[0])):
            raise ChemloopError(f"DDP replicas diverged: weight checksums per rank {values}")

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            # Every rank waits here first: a rank that tears down gloo while rank 0 is still saving
            # the checkpoint can abort the other ("terminate called without an active exception").
            dist.barrier()
            dist.destroy_process_group()


def _starting_model(config: PretrainConfig, smiles: list[str], device: torch.device) -> LanguageModel:
    """The model a run starts from (``init_from``), its vocabulary extended by the corpus' new tokens."""
    name = config.init_from
    _check_same_split(config, checkpoint.resolve(name) / "pretrain_config.json")
    start = checkpoint.load(name, device)
    if any(step.get("method") == "int8" for step in start.compression):
        raise ChemloopError(f"--init-from {name}: an int8 model cannot be trained; use its source model")
    return extend_vocabulary(start, unknown_tokens(start.tokenizer, smiles))


def _check_same_split(config: PretrainConfig, start_config: Path) -> None:
    """Refuse to go on training a model on its own corpus split another way: the new held-out set
    would hold molecules it trained on, and every held-out figure would flatter it."""
    if not start_config.is_file():
        return
    earlier = json.loads(start_config.read_text())
    if Path(str(earlier.get("data", ""))).name != Path(config.data).name:
        return  # another corpus: its split is its own
    then = (earlier.get("holdout_fraction", 0.05), earlier.get("seed", 0))
    if then != (config.holdout_fraction, config.seed):
        raise ChemloopError(
            f"--init-from {config.init_from} was trained on {config.data} with holdout_fraction "
            f"{then[0]} and seed {then[1]}; continue with the same (not {config.holdout_fraction} and "
            f"{config.seed}), or its held-out molecules would include ones it trained on"
        )


def pretrain(config: PretrainConfig, progress: Callable[[dict], None] | None = None) -> Path:
    """Run (or resume) pretraining; return the run folder, which is a loadable checkpoint.

    ``progress`` is called on the main process after every step with that step's metrics.
    """
    ddp = _Distributed(config.device)
    out = Path(config.out)
    state_file = out / "trainer_state.json"
    resuming = config.resume and state_file.exists()
    if config.resume and not resuming:
        raise ChemloopError(f"--resume: no run to resume in {out} (trainer_state.json missing)")
    if not config.resume and state_file.exists():
        raise ChemloopError(f"{out} already holds a run; pass --resume or choose another --out")

    torch.manual_seed(config.seed)
    saved = checkpoint.load(out, ddp.device) if resuming else None
    train_smiles, heldout_smiles, corpus = split_corpus(config, out if resuming else None)
    start = None
    if config.init_from and saved is None:
        start = _starting_model(config, corpus.smiles, ddp.device)
    if saved is not None or start is not None:  # the architecture is that model's
        model = (saved or start).model
        shape = model.config
        config = config.model_copy(
            update={k: getattr(shape, k) for k in ("n_layer", "n_head", "n_embd", "block_size", "dropout")}
        )
        tokenizer = (saved or start).tokenizer
    else:
        tokenizer = SmilesTokenizer.from_corpus(corpus.smiles, extra=COMMON_EXTRA_TOKENS)
        gpt_config = GPTConfig(
            vocab_size=len(tokenizer),
            block_size=config.block_size,
            n_layer=config.n_layer,
            n_head=config.n_head,
            n_embd=config.n_embd,
            dropout=config.dropout,
        )
        model = GPT(gpt_config)
    model = model.to(ddp.device)
    train_set = TokenizedCorpus(train_smiles, tokenizer, config.block_size)
    val_set = TokenizedCorpus(heldout_smiles[: config.val_size], tokenizer, config.block_size)
    loss_scale = tokens_per_batch(train_set, config.batch_size)

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
        betas=(0.9, 0.95),
        fused=ddp.device.type == "cuda",
    )
    state = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "tokens": 0, "elapsed_s": 0.0}
    if saved is not None:
        load_optimizer(optimizer, out)
        state = json.loads(state_file.read_text())
        if ddp.main:
            _drop_metrics_after(out / "metrics.csv", state["step"])
    elif ddp.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "pretrain_config.json").write_text(config.model_dump_json(indent=2))
        with (out / "metrics.csv").open("w", newline="") as f:
            csv.writer(f).writerow(METRICS_FIELDS)
    if ddp.main and not holds_split(out, config):  # new, resumed without one, or the file changed
        save_split(out, config, train_smiles, heldout_smiles, corpus)

    train_model = torch.compile(model) if config.compile else model
    if ddp.enabled:
        train_model = DistributedDataParallel(train_model)
    on_gpu = ddp.device.type == "cuda"
    precision = resolve_precision(config.precision, ddp.device)
    amp = autocast(ddp.device, precision)
    metadata = {
        "data": corpus.source,
        "train_molecules": len(train_set),
        "heldout_molecules": len(heldout_smiles),
        "duplicates_dropped": corpus.duplicates,
        "randomized_smiles": config.randomize,
        "precision": precision,
        "parameters": model.num_parameters(),
        "world_size": ddp.world,
        "device": torch.cuda.get_device_name() if on_gpu else "cpu",
        "batch_size_per_process": config.batch_size,
    }
    origin = saved.metadata.get("init_from") if saved is not None else config.init_from
    if origin:  # kept through resumed runs, which do not name it again
        metadata["init_from"] = origin

    def save() -> None:
        if ddp.main:
            checkpoint.save(out, model, tokenizer, {**metadata, **state})
            save_optimizer(optimizer, out)
            state_file.write_text(json.dumps(state, indent=2))

    start_time = time.perf_counter() - state["elapsed_s"]
    window_tokens, window_start = 0, time.perf_counter()
    model.train()
    while state["step"] < config.max_steps:
        rng = np.random.default_rng([config.seed, state["epoch"]])
        batches = train_set.batches(
            config.batch_size, rng, rank=ddp.rank, world=ddp.world, randomize_smiles=config.randomize
        )
        for index, batch in enumerate(batches):
            if index < state["batch_in_epoch"]:
                continue  # resuming mid-epoch: skip batches already trained on
            lr = learning_rate(state["step"], config, time.perf_counter() - start_time)
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch = batch.to(ddp.device, non_blocking=True)
            with amp:
                summed = summed_token_nll(train_model, batch, tokenizer.pad_id)
            optimizer.zero_grad(set_to_none=True)
            (summed / loss_scale).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()

            own_tokens = int((batch[:, 1:] != tokenizer.pad_id).sum())
            batch_tokens = own_tokens * ddp.world
            state["step"] += 1
            state["batch_in_epoch"] = index + 1
            state["tokens"] += batch_tokens
            window_tokens += batch_tokens
            state["elapsed_s"] = time.perf_counter() - start_time
            row = {
                "step": state["step"],
                "epoch": state["epoch"],
                "tokens": state["tokens"],
                "train_loss": round(summed.item() / max(1, own_tokens), 5),  # nats per token
                "val_nll": "",
                "lr": f"{lr:.3e}",
                "tokens_per_s": round(window_tokens / max(1e-9, time.perf_counter() - window_start)),
                "elapsed_s": round(state["elapsed_s"], 1),
            }
            out_of_time = config.max_minutes is not None and state["elapsed_s"] > 60 * config.max_minutes
            last = state["step"] >= config.max_steps or out_of_time
            if state["step"] % config.eval_interval == 0 or last:
                row["val_nll"] = round(corpus_nll(model, val_set, amp), 4)
                save()
                window_tokens, window_start = 0, time.perf_counter()
            if ddp.main:
                if row["val_nll"] != "" or state["step"] % 50 == 0:
                    with (out / "metrics.csv").open("a", newline="") as f:
                        csv.DictWriter(f, METRICS_FIELDS).writerow(row)
                if progress is not None:
                    progress({**row, "max_steps": config.max_steps})
            if last:
                break
        else:
            state["epoch"] += 1
            state["batch_in_epoch"] = 0
            continue
        break
    ddp.check_in_sync(model)
    ddp.close()
    return out
