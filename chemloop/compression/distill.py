"""Distillation: a smaller student learns the teacher's next-token distributions.

Each step the teacher samples a fresh batch of molecules (its own distribution, random
spellings included when it writes them) and scores every position; the student is trained on
``KL(teacher ‖ student)`` of the next-token distributions at every real position — the
teacher's whole distribution, not just the sampled token (Hinton et al. 2015; sequence-level
data from the teacher as in Kim & Rush 2016). Fresh samples every step mean no data to run
out of and nothing to overfit. A student as wide as the teacher starts from evenly spaced
teacher blocks and its embeddings, which gets it most of the way before the first step.

The budget is wall-clock time (``max_minutes``); the learning rate follows a cosine over it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace

import torch
from torch.nn import functional as F

from chemloop.compression.options import CompressError, CompressOptions
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.device import autocast
from chemloop.model.gpt import GPT, GPTConfig
from chemloop.model.sampling import sample_ids

WARMUP_STEPS = 20
MIN_LR_FRACTION = 0.1


def student_config(teacher: GPTConfig, size: dict[str, int]) -> GPTConfig:
    """The teacher's config with the student's layers, heads and width (no pruning fields)."""
    config = replace(teacher, head_dim=None, mlp_width=None, dropout=0.0, **size)
    if config.n_embd % config.n_head:
        raise CompressError(f"student width {config.n_embd} is not a multiple of its {config.n_head} heads")
    return config


def init_student(teacher: GPT, config: GPTConfig, seed: int = 0) -> tuple[GPT, list[int]]:
    """A student; if its blocks have the teacher's shapes, it starts from evenly spaced teacher blocks."""
    torch.manual_seed(seed)
    student = GPT(config)
    same_shapes = config.n_embd == teacher.config.n_embd and config.mlp_hidden == teacher.config.mlp_hidden
    if not same_shapes or teacher.config.head_dim is not None:
        return student, []
    n = teacher.config.n_layer
    chosen = sorted({round(i * (n - 1) / max(1, config.n_layer - 1)) for i in range(config.n_layer)})
    if len(chosen) < config.n_layer:  # a student deeper than the teacher: start from scratch
        return student, []
    with torch.no_grad():
        for name in ("token_embedding", "position_embedding", "ln_final"):
            getattr(student, name).load_state_dict(getattr(teacher, name).state_dict())
        for target, source in zip(student.blocks, chosen, strict=True):
            target.load_state_dict(teacher.blocks[source].state_dict())
    return student, chosen


def kl_loss(teacher_logits: torch.Tensor, student_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real positions of ``KL(p_teacher ‖ p_student)`` (nats per token)."""
    t = F.log_softmax(teacher_logits.float(), dim=-1)
    s = F.log_softmax(student_logits.float(), dim=-1)
    per_position = (t.exp() * (t - s)).sum(dim=-1)
    return (per_position * mask).sum() / mask.sum().clamp(min=1)


def _lr(options: CompressOptions, step: int, progress: float) -> float:
    warm = min(1.0, (step + 1) / WARMUP_STEPS)
    cosine = MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return options.lr * warm * cosine


def distill(
    teacher: LanguageModel,
    options: CompressOptions,
    progress: Callable[[dict], None] | None = None,
    precision: str = "auto",
) -> tuple[LanguageModel, dict, list[dict]]:
    """Train a student of ``options.size`` on the teacher for ``options.max_minutes``.

    Returns the student, a summary and one row per logged step (step, seconds, KL, lr).
    """
    device = teacher.device
    config = student_config(teacher.model.config, options.size)
    student, copied = init_student(teacher.model, config, options.seed)
    student.to(device).train()
    teacher.model.eval()
    optimizer = torch.optim.AdamW(student.parameters(), lr=options.lr, betas=(0.9, 0.95), weight_decay=0.01)
    generator = torch.Generator().manual_seed(options.seed)
    pad = teacher.tokenizer.pad_id
    budget = options.max_minutes * 60
    start, step, history, recent = time.perf_counter(), 0, [], []
    while True:
        elapsed = time.perf_counter() - start
        done = elapsed / budget
        if options.max_steps is not None:
            done = max(done, step / options.max_steps)
        if done >= 1.0:
            break
        with torch.no_grad(), autocast(device, precision):
            ids, _ = sample_ids(teacher.model, teacher.tokenizer, options.batch_size, generator=generator)
            length = int((ids != pad).sum(dim=1).max())
            ids = ids[:, :length]
            target = teacher.model(ids[:, :-1])
        for group in optimizer.param_groups:
            group["lr"] = _lr(options, step, done)
        with autocast(device, precision):
            loss = kl_loss(target, student(ids[:, :-1]), ids[:, 1:] != pad)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        optimizer.step()
        step += 1
        recent.append(loss.item())
        if step % 10 == 0 or step == 1:
            row = {
                "step": step,
                "seconds": round(time.perf_counter() - start, 1),
                "kl": round(sum(recent) / len(recent), 5),
                "lr": round(_lr(options, step, done), 6),
            }
            history.append(row)
            recent = []
            if progress:
                progress(row)
    student.eval()
    summary = {
        "steps": step,
        "seconds": round(time.perf_counter() - start, 1),
        "final_kl": history[-1]["kl"] if history else None,
        "teacher_parameters": teacher.model.num_parameters(),
        "student_parameters": student.num_parameters(),
        "initialised_from_teacher_blocks": copied,
    }
    # What the student inherits: the corpus and the spellings it writes; the teacher's training
    # counters (steps, tokens) describe another model.
    metadata = {k: teacher.metadata[k] for k in ("data", "randomized_smiles") if k in teacher.metadata}
    metadata["parameters"] = student.num_parameters()
    return LanguageModel(student, teacher.tokenizer, metadata), summary, history
