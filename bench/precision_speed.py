"""fp32 against bf16 autocast (and torch.compile) for training and sampling a SMILES GPT.

Trains the same architecture from the same initial weights on the same batches of ZINC-250k
(random spellings) once per variant, alternating nothing else, and reports tokens/s and the
held-out NLL reached after the same number of steps, so speed is compared at equal loss; then
samples with each precision and reports valid molecules/s. The first steps of each variant are
not timed (torch.compile compiles then).

    OMP_NUM_THREADS=2 python bench/precision_speed.py --data ../shared/data/zinc250k.smi.gz \\
        [--steps 150] [--n-layer 6 --n-head 4 --n-embd 256] [--compile] \\
        [--output bench/results/precision_speed.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

WARM_UP = 5  # steps run before the clock starts, alike for every variant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--molecules", type=int, default=40_000, help="corpus sample for the batches")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--n-layer", type=int, default=6)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=256)
    parser.add_argument("--sample", type=int, default=4096, help="molecules sampled per precision")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (bf16)")
    parser.add_argument("--output", type=Path, default=Path("bench/results/precision_speed.json"))
    args = parser.parse_args()

    from chemloop.bench.machine import describe
    from chemloop.chem.tokenizer import COMMON_EXTRA_TOKENS, SmilesTokenizer
    from chemloop.data.batching import TokenizedCorpus
    from chemloop.data.corpus import is_held_out, load_corpus
    from chemloop.model.checkpoint import LanguageModel
    from chemloop.model.device import autocast
    from chemloop.model.generate import sample
    from chemloop.model.gpt import GPT, GPTConfig
    from chemloop.train.pretrain import summed_token_nll, tokens_per_batch
    from chemloop.train.transfer import corpus_nll

    corpus = load_corpus(args.data, standardize=True)
    rng = np.random.default_rng(0)
    chosen = [corpus.smiles[i] for i in rng.choice(len(corpus), args.molecules, replace=False)]
    held = [s for s in chosen if is_held_out(s, 0.05)]
    train = [s for s in chosen if not is_held_out(s, 0.05)]
    tokenizer = SmilesTokenizer.from_corpus(chosen, extra=COMMON_EXTRA_TOKENS)
    train_set = TokenizedCorpus(train, tokenizer, 128)
    val_set = TokenizedCorpus(held[:2000], tokenizer, 128)
    loss_scale = tokens_per_batch(train_set, args.batch_size)
    batches = []
    epoch = 0
    while len(batches) < args.steps:  # the same random spellings for every variant
        batches += list(
            train_set.batches(args.batch_size, np.random.default_rng(epoch), randomize_smiles=True)
        )
        epoch += 1
    batches = batches[: args.steps]
    config = GPTConfig(len(tokenizer), 128, args.n_layer, args.n_head, args.n_embd)
    torch.manual_seed(0)
    initial = GPT(config).state_dict()
    cpu = torch.device("cpu")

    variants = [("fp32", False), ("bf16", False)] + ([("bf16", True)] if args.compile else [])
    training, trained = [], {}
    for precision, compiled in variants:
        model = GPT(config)
        model.load_state_dict(initial)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
        step_model = torch.compile(model, dynamic=True) if compiled else model
        amp = autocast(cpu, precision)
        tokens, start = 0, time.perf_counter()
        for step, batch in enumerate(batches):
            if step == WARM_UP:  # timed from here: torch.compile compiles in the first steps
                tokens, start = 0, time.perf_counter()
            with amp:
                loss = summed_token_nll(step_model, batch, tokenizer.pad_id) / loss_scale
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            tokens += int((batch[:, 1:] != tokenizer.pad_id).sum())
        seconds = time.perf_counter() - start
        nll = corpus_nll(model, val_set, autocast(cpu, "fp32"))
        row = {
            "precision": precision,
            "compile": compiled,
            "steps": len(batches),
            "timed_steps": len(batches) - WARM_UP,
            "tokens_per_s": round(tokens / seconds),
            "seconds": round(seconds, 1),
            "heldout_nll_fp32": round(nll, 3),
        }
        print(row, flush=True)
        training.append(row)
        trained[precision] = model

    sampling = []
    lm = LanguageModel(trained["bf16"].eval(), tokenizer)
    for precision in ("fp32", "bf16", "fp32", "bf16"):  # alternated: drift on a shared machine cancels
        report = sample(lm, args.sample, seed=1, batch_size=1024, precision=precision)
        row = {"precision": precision, **report.summary()}
        print(row, flush=True)
        sampling.append(row)

    result = {
        "machine": describe(),
        "torch_threads": torch.get_num_threads(),
        "architecture": config.to_dict(),
        "parameters": trained["fp32"].num_parameters(),
        "batch_size": args.batch_size,
        "training": training,
        "sampling_after_training": sampling,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
