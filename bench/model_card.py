"""Write chemloop/priors/NAME/MODEL_CARD.md from measured results (nothing typed by hand).

    chemloop bench prior --model prior --compare moses --num 10000 --output bench/results/prior_zinc.json
    chemloop bench sampling --model prior --output bench/results/prior_sampling_cpu.json
    python bench/model_card.py --name prior --prior-json bench/results/prior_zinc.json \
        --sampling-json bench/results/prior_sampling_cpu.json [--pmo-json PMO_TABLE.json] [--note "..."]

    chemloop bench moses --model moses --num 30000 --output bench/results/prior_moses.json
    python bench/model_card.py --name moses --moses-json bench/results/prior_moses.json \
        --sampling-json bench/results/prior_sampling_cpu_moses.json

Reads the prior's config.json, pretrain_config.json and metrics.csv, and the benchmark
JSON files, and writes the card with the data, size, training, hardware and results.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from chemloop.bench.moses_reference import METRIC_KEYS, PUBLISHED
from chemloop.bench.pmo_reference import REINVENT, REINVENT_SUM_ALL
from chemloop.model import checkpoint

# How each shipped prior is reproduced (the training script, then ship_prior.py).
REPRODUCE = {
    "prior": "`bash bench/train_zinc_prior.sh`, then the header's three continuations "
    "(to runs/zinc-prior-lenfix2), then `python bench/ship_prior.py runs/zinc-prior-lenfix2`",
    "zinc": "`bash bench/train_zinc_prior.sh`, then `python bench/ship_prior.py runs/zinc-prior --name zinc`",
    "moses": "`bash bench/train_cpu_prior.sh`, then `python bench/ship_prior.py runs/prior-cpu --name moses`",
}
ABOUT = {
    "prior": "The default prior: drug-like molecules of ZINC-250k with their stereo marks and charges,\n"
    "learned from random SMILES spellings, so it can start a molecule at any atom.",
    "moses": "The MOSES prior: canonical SMILES of the MOSES training set (no stereo, no charges),\n"
    "kept so that the MOSES benchmark stays measurable.",
}

TARGETS = {
    "valid": (">=", 0.99),
    "unique@10000": (">=", 0.998),
    "Novelty": (">=", 0.80),
    "FCD/Test": ("<", 0.0732),
    "SNN/Test": (">=", 0.60),
}


def _met(value: float, op: str, bound: float) -> bool:
    return value >= bound if op == ">=" else value < bound


def unmet_line(names: list[str]) -> str:
    if not names:
        return "Every target above is met."
    return f"Targets not met: {', '.join(names)}."


def moses_table(metrics: dict[str, float]) -> str:
    names = list(PUBLISHED)
    lines = [
        "| metric | this prior | " + " | ".join(names) + " | target |",
        "|---" * (len(names) + 3) + "|",
    ]
    for key in METRIC_KEYS:
        target = TARGETS.get(key)
        verdict = ""
        if target:
            op, bound = target
            met = _met(metrics[key], op, bound)
            verdict = f"{op} {bound} {'met' if met else '**not met**'}"
        published = " | ".join(f"{PUBLISHED[n][key]:.4f}" for n in names)
        lines.append(f"| {key} | {metrics[key]:.4f} | {published} | {verdict} |")
    return "\n".join(lines)


def prior_table(result: dict) -> str:
    """The prior benchmark's targets: this prior, each compared model, the held-out reference."""
    models = [result, *result["compare"]]
    reference = dict(result["reference"]["heldout"], fcd=result["floor"]["fcd"])
    lines = [
        "| metric | target | " + " | ".join(f"`{m['model']}`" for m in models) + " | reference |",
        "|---" * (len(models) + 3) + "|",
    ]
    for name, verdict in result["targets"].items():
        cells = []
        for entry in models:
            v = entry["targets"][name]
            cells.append(
                "-" if v["value"] is None else f"{v['value']:.3f}" + ("" if v["passed"] else " **not met**")
            )
        ref = reference.get(name)
        label = "floor " if name == "fcd" else "held-out " if name in reference else ""
        ref_cell = "" if ref is None else f"{label}{ref:.3f}"
        lines.append(
            f"| {name} | {verdict['direction']} {verdict['bound']:g} | {' | '.join(cells)} | {ref_cell} |"
        )
    return "\n".join(lines)


def training_lines(name: str, folder: Path) -> list[str]:
    lm = checkpoint.load(folder)
    meta = lm.metadata
    train_config = json.loads((folder / "pretrain_config.json").read_text())
    with (folder / "metrics.csv").open() as handle:
        evaluated = [r for r in csv.DictReader(handle) if r["val_nll"]]
    hours = meta["elapsed_s"] / 3600
    epochs = meta["epoch"] + meta["batch_in_epoch"] * train_config["batch_size"] / meta["train_molecules"]
    spelling = (
        "random SMILES spellings (a fresh one per molecule per epoch)"
        if train_config["randomize"]
        else "canonical SMILES"
    )
    config = lm.model.config
    return [
        f"- Data: {meta['data']} ({meta['train_molecules']:,} molecules for training; "
        f"{train_config['val_size']:,} held out for validation NLL), {spelling}.",
        f"- Model: {meta['parameters']:,} parameters; {config.n_layer} layers, {config.n_head} heads, "
        f"width {config.n_embd}, context {config.block_size} tokens, vocabulary {len(lm.tokenizer)} tokens.",
        f"- Optimisation: AdamW (β 0.9/0.95, weight decay {train_config['weight_decay']}), "
        f"batch {train_config['batch_size']} molecules, lr {train_config['lr']} → "
        f"{train_config['min_lr']} (warmup {train_config['warmup_steps']} steps, cosine to the "
        f"{train_config['max_minutes']:g}-minute budget), grad clip {train_config['grad_clip']}, "
        f"precision {meta.get('precision', 'fp32')} at the last save.",
        f"- Ran {meta['step']:,} steps, {meta['tokens']:,} tokens "
        f"({meta['tokens'] / 1e6:.1f}M; {epochs:.2f} epochs) in {hours:.2f} h of training time on: "
        f"{meta['device']} (world size {meta['world_size']})"
        + (
            ", 2-core x86_64 machines without a GPU (sharing the cores with other work, so "
            "tokens/s in metrics.csv vary)."
            if meta["device"] == "cpu"
            else "."
        ),
        f"- Validation NLL per molecule (nats): {evaluated[0]['val_nll']} at step {evaluated[0]['step']}"
        f" → {evaluated[-1]['val_nll']} at step {evaluated[-1]['step']} (full curve: metrics.csv).",
        f"- Reproduce: {REPRODUCE.get(name, '`chemloop pretrain` with pretrain_config.json')}.",
    ]


def sampling_lines(name: str, path: str, result: dict) -> list[str]:
    """One line per number format of a `chemloop bench sampling` file (formats run in turn share one)."""
    formats = result.get("precisions") or {result.get("precision", "fp32"): result}
    command = (
        f"chemloop bench sampling --model {name} --num {result['num']} "
        f"--batch-size {result['batch_size']} --repeats {result['repeats']} --precision {','.join(formats)}"
    )
    if result.get("torch_threads"):
        command = f"OMP_NUM_THREADS={result['torch_threads']} {command}"
    together = ", run in turn" if len(formats) > 1 else ""
    return [
        f"- {result['device']}, {precision}: median **{figures['median_valid_per_s']:.0f} valid "
        f"molecules/s** ({figures['median_molecules_per_s']:.0f} strings/s) over {result['repeats']} runs "
        f"of {result['num']:,}{together}, batch {result['batch_size']} (`{path}`; command: `{command}`)."
        for precision, figures in formats.items()
    ]


def pmo_lines(path: str, result: dict) -> list[str]:
    """The PMO runs of the prior with the default settings (a `bench/pmo_table.py --output` file):
    the sum beside REINVENT's published one over the same tasks, then task by task."""
    summary = result["summary"]
    tasks = (
        f"all {len(REINVENT)} tasks" if len(summary) == len(REINVENT) else f"{len(summary)} of the 23 tasks"
    )
    ours, theirs = result["sum"], result["reinvent_sum_same_tasks"]
    published = f" ({REINVENT_SUM_ALL} as the paper states it)" if len(summary) == len(REINVENT) else ""
    rows = [
        f"| {task} | {figures['mean']:.3f} ± {figures['std']:.3f}"
        + (f" ({figures['seeds']} of {result['seeds']} seeds)" if figures["seeds"] < result["seeds"] else "")
        + f" | {REINVENT[task][0]:.3f} ± {REINVENT[task][1]:.3f} |"
        for task, figures in summary.items()
    ]
    return [
        "",
        "## Steered by RL (PMO)",
        "",
        "PMO's protocol (Gao et al. 2022: 10,000 oracle calls, AUC of the top-10 mean) with "
        f"`chemloop optimize`'s default settings, {result['seeds']} seeds, on {result['machine']} "
        "(`chemloop bench pmo`, joined by "
        f"`bench/pmo_table.py` into `{path}`; commands in docs/benchmarks/pmo.md). Over {tasks}: sum "
        f"**{ours:.3f}** against published REINVENT's {theirs:.3f}{published}.",
        "",
        "| task | this prior | REINVENT (published) |",
        "|---|---|---|",
        *rows,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default=checkpoint.DEFAULT_PRIOR, help="the shipped prior's name")
    parser.add_argument("--prior-json", help="`chemloop bench prior` results")
    parser.add_argument("--moses-json", help="`chemloop bench moses` results")
    parser.add_argument(
        "--sampling-json", action="append", default=[], help="`chemloop bench sampling` results"
    )
    parser.add_argument("--pmo-json", help="PMO runs of the prior joined by bench/pmo_table.py --output")
    parser.add_argument("--note", action="append", default=[], help="a provenance line the run cannot record")
    args = parser.parse_args()
    folder = checkpoint.resolve(args.name)
    lines = [
        f"# chemloop shipped prior (`{args.name}`)",
        "",
        ABOUT.get(args.name, "A GPT trained to write SMILES of drug-like molecules."),
        f"Load it with `chemloop.load_model({args.name!r})` or `--model {args.name}`.",
        "",
        "## Training",
        "",
        *training_lines(args.name, folder),
        *(f"- {note}" for note in args.note),
    ]
    if args.prior_json:
        result = json.loads(Path(args.prior_json).read_text())
        lines += [
            "",
            "## Against the held-out split of its corpus",
            "",
            f"`chemloop bench prior --model {result['model']} --num {result['num']}"
            + "".join(f" --compare {c['model']}" for c in result["compare"])
            + f"` on {result['machine']} (results: `{args.prior_json}`). FCD is set beside its floor, an "
            "equally large sample of the training set against the same held-out molecules.",
            "",
            prior_table(result),
            "",
            unmet_line([n for n, v in result["targets"].items() if not v["passed"]]),
        ]
    if args.moses_json:
        moses = json.loads(Path(args.moses_json).read_text())
        lines += [
            "",
            "## MOSES benchmark",
            "",
            f"`chemloop bench moses --model {args.name} --num {moses['num']} --seed {moses['seed']}` "
            f"(results: `{args.moses_json}`). Published rows: Polykovskiy et al. 2020 (MOSES README).",
            "",
            moses_table(moses["metrics"]),
            "",
            unmet_line([k for k, (op, b) in TARGETS.items() if not _met(moses["metrics"][k], op, b)]),
        ]
    if args.pmo_json:
        lines += pmo_lines(args.pmo_json, json.loads(Path(args.pmo_json).read_text()))
    if args.sampling_json:
        lines += ["", "## Sampling throughput", ""]
    for path in args.sampling_json:
        lines += sampling_lines(args.name, path, json.loads(Path(path).read_text()))
    (folder / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
