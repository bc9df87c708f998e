"""How well a prior has learned its corpus, measured against the held-out split of that corpus.

A broad prior must write valid, diverse, new molecules that look like its corpus (FCD to the
held-out molecules, beside the *floor*: the FCD of an equally large sample of the training
set), keep the corpus' stereo marks, charges and size, and give random spellings of a
molecule nearly the likelihood of its canonical one, since the RL agent replays random
spellings. Each target below is checked on ``num`` samples; the held-out set's own stereo,
charge and MW figures are reported beside the samples' as the reference.

The split is the one ``chemloop pretrain`` made: the standardized corpus, split by a seeded
hash (:func:`chemloop.data.corpus.is_held_out`); the training set is every other molecule.
Any model can be measured against a split, so a model trained elsewhere (the MOSES prior)
can be set beside the one trained on it.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import Chem
from rdkit.Chem import Descriptors

from chemloop.bench.machine import describe
from chemloop.bench.moses_metrics import (
    ReferenceStats,
    cached_reference_stats,
    canonical_or_none,
    chemnet_activations,
    fraction_valid_from,
    frechet_distance,
    gaussian_stats,
    novelty,
    unique_at_k,
)
from chemloop.chem.mol import random_spelling
from chemloop.chem.tokenizer import TokenizerError
from chemloop.data.corpus import is_held_out, load_corpus
from chemloop.errors import ChemloopError
from chemloop.model import checkpoint
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.device import pick_device
from chemloop.model.generate import sample
from chemloop.model.inference import FLOAT, resolve_sampling_precision
from chemloop.model.likelihood import log_likelihood

DEFAULT_CACHE_DIR = Path("~/.cache/chemloop/heldout")
PRETRAIN_CONFIG = "pretrain_config.json"
HELDOUT_FILE = "heldout.smi"


@dataclass(frozen=True)
class Target:
    """A bound a metric must meet: ``value >= bound`` (``at_least``) or ``value <= bound``."""

    bound: float
    at_least: bool
    meaning: str

    def met(self, value: float | None) -> bool:
        if value is None or math.isnan(value):
            return False
        return value >= self.bound if self.at_least else value <= self.bound


TARGETS: dict[str, Target] = {
    "validity": Target(0.98, True, "fraction of samples RDKit parses"),
    "uniqueness": Target(0.999, True, "distinct canonical SMILES among the valid samples (unique@num)"),
    "novelty": Target(0.90, True, "distinct valid samples absent from the training split"),
    "fcd": Target(0.40, False, "Fréchet ChemNet Distance of the valid samples to the held-out split"),
    "stereo_fraction": Target(
        0.20, True, "valid samples with an RDKit chiral tag on an atom or stereo on a double bond"
    ),
    "charged_fraction": Target(0.10, True, "valid samples with an atom of nonzero formal charge"),
    "mw_p90": Target(400.0, True, "90th percentile (linear) of RDKit MolWt over the valid samples"),
    "spelling_nll_gap": Target(
        0.10,
        False,
        "(mean NLL of one seeded random spelling - mean NLL canonical) / mean NLL canonical, "
        "over held-out molecules the vocabulary and context can hold",
    ),
}


# --------------------------------------------------------------------------- the split


@dataclass(frozen=True)
class SplitOptions:
    """Where a split comes from, and whether each part was read from the model's pretrain config."""

    data: str
    holdout_fraction: float
    seed: int
    column: str | None = None
    standardize: bool = True
    from_config: tuple[str, ...] = ()  # which of data, holdout_fraction, seed the config gave
    heldout_file: Path | None = None  # the run's heldout.smi, when the split is the run's own


@dataclass(frozen=True)
class Split:
    """The training and held-out molecules (canonical SMILES) of a corpus."""

    options: SplitOptions
    train: list[str]
    heldout: list[str]

    def describe(self) -> dict[str, Any]:
        o = self.options
        return {
            "data": o.data,
            "holdout_fraction": o.holdout_fraction,
            "seed": o.seed,
            "standardized": o.standardize,
            "from_pretrain_config": list(o.from_config),
            "checked_against_heldout_smi": o.heldout_file is not None,
            "train_molecules": len(self.train),
            "heldout_molecules": len(self.heldout),
        }


def _config_data_path(data: str, folder: Path) -> str | None:
    """A corpus named in a pretrain config: as written (relative to here), else beside the run."""
    if data == "moses" or data.startswith("moses:") or Path(data).is_file():
        return data
    beside = folder / data
    return str(beside) if beside.is_file() else None


def split_options(
    model: str | Path,
    data: str | None = None,
    holdout_fraction: float | None = None,
    seed: int | None = None,
) -> SplitOptions:
    """The split to measure ``model`` against: the options given, the rest from its pretrain config.

    A model whose run folder records no held-out split (no ``pretrain_config.json``, or one
    without ``holdout_fraction``, like the shipped MOSES prior) needs ``data`` and
    ``holdout_fraction``; the seed then defaults to pretrain's default, 0.
    """
    if holdout_fraction is not None and not 0 < holdout_fraction < 1:
        raise ChemloopError(f"the held-out fraction must lie between 0 and 1, not {holdout_fraction}")
    folder = checkpoint.resolve(model)
    path = folder / PRETRAIN_CONFIG
    config = json.loads(path.read_text()) if path.is_file() else {}
    if "holdout_fraction" not in config:
        if data is None or holdout_fraction is None:
            raise ChemloopError(
                f"{model} records no held-out split ({PRETRAIN_CONFIG} with a holdout_fraction): "
                "give the corpus and split to measure it against with --data FILE and "
                "--holdout-fraction F (and --seed S if it was not 0)"
            )
        return SplitOptions(data, holdout_fraction, 0 if seed is None else seed)
    given = {"data": data, "holdout_fraction": holdout_fraction, "seed": seed}
    from_config = tuple(k for k, v in given.items() if v is None)
    trained_on = _config_data_path(str(config["data"]), folder)
    if data is None and trained_on is None:
        raise ChemloopError(
            f"{path} names the corpus {config['data']!r}, which is not found from here "
            "nor from the run folder; give its path with --data"
        )
    data = data if data is not None else trained_on
    fraction = holdout_fraction if holdout_fraction is not None else float(config["holdout_fraction"])
    seed = seed if seed is not None else int(config.get("seed", 0))
    own = (
        fraction == float(config["holdout_fraction"])
        and seed == int(config.get("seed", 0))
        and trained_on is not None
        and _same_file(data, trained_on)
    )
    heldout_file = folder / HELDOUT_FILE
    return SplitOptions(
        data=data,
        holdout_fraction=fraction,
        seed=seed,
        column=config.get("column") if own else None,
        standardize=bool(config.get("standardize", True)) if own else True,
        from_config=from_config,
        heldout_file=heldout_file if own and heldout_file.is_file() else None,
    )


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def split_corpus(smiles: Sequence[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Training and held-out molecules, split as ``chemloop pretrain`` splits them (a tiny corpus
    that would hold out nothing holds out its first molecule)."""
    held = [is_held_out(s, fraction, seed) for s in smiles]
    if held and not any(held):
        held[0] = True
    train = [s for s, h in zip(smiles, held, strict=True) if not h]
    heldout = [s for s, h in zip(smiles, held, strict=True) if h]
    return train, heldout


def load_split(options: SplitOptions) -> Split:
    """Read and split the corpus; check the held-out molecules against the run's ``heldout.smi``.

    A mismatch means the corpus is not the one the model was trained on, so novelty and FCD
    would be measured against the wrong molecules: that is an error. Rows RDKit cannot parse
    belong to neither split and are left out.
    """
    corpus = load_corpus(
        options.data, column=options.column, skip_invalid=True, standardize=options.standardize
    )
    train, heldout = split_corpus(corpus.smiles, options.holdout_fraction, options.seed)
    if options.heldout_file is not None:
        recorded = {s for s in options.heldout_file.read_text().split("\n") if s}
        if recorded != set(heldout):
            raise ChemloopError(
                f"{options.data} split by fraction {options.holdout_fraction} and seed {options.seed} holds "
                f"out {len(heldout)} molecules, but {options.heldout_file} lists {len(recorded)} "
                f"({len(recorded ^ set(heldout))} differ): the corpus differs from the one the model "
                "was trained on"
            )
    if not options.standardize or corpus.source.startswith("MOSES"):  # split raw, compare canonical
        train = [c for c in map(canonical_or_none, train) if c is not None]
        heldout = [c for c in map(canonical_or_none, heldout) if c is not None]
    return Split(options, train, heldout)


# --------------------------------------------------------------------------- molecule sets


def has_stereo(mol: Chem.Mol) -> bool:
    """An atom with a chiral tag or a double bond with E/Z (or cis/trans) stereo, as RDKit
    perceives them on parsing: marks on atoms and bonds that are not stereogenic do not count."""
    if any(a.GetChiralTag() != Chem.ChiralType.CHI_UNSPECIFIED for a in mol.GetAtoms()):
        return True
    return any(b.GetStereo() != Chem.BondStereo.STEREONONE for b in mol.GetBonds())


def has_charge(mol: Chem.Mol) -> bool:
    """An atom with a nonzero formal charge (zwitterions count)."""
    return any(a.GetFormalCharge() != 0 for a in mol.GetAtoms())


@dataclass(frozen=True)
class Chemistry:
    """Stereo, charge and size of a set of molecules: what a prior narrower than ZINC loses."""

    molecules: int
    stereo_fraction: float
    charged_fraction: float
    mw_p90: float


def chemistry(smiles: Sequence[str]) -> Chemistry:
    """:class:`Chemistry` of the valid molecules among ``smiles`` (every entry counts, repeats too)."""
    mols = [m for m in (Chem.MolFromSmiles(s) if s else None for s in smiles) if m is not None]
    if not mols:
        return Chemistry(0, math.nan, math.nan, math.nan)
    weights = np.array([Descriptors.MolWt(m) for m in mols])
    return Chemistry(
        molecules=len(mols),
        stereo_fraction=sum(map(has_stereo, mols)) / len(mols),
        charged_fraction=sum(map(has_charge, mols)) / len(mols),
        mw_p90=float(np.percentile(weights, 90)),
    )


def fcd_to(smiles: Sequence[str], reference: ReferenceStats, device: str = "cpu") -> float:
    """FCD of (valid, canonical) SMILES to a reference's ChemNet statistics; NaN below two molecules."""
    if len(smiles) < 2:
        return math.nan
    mu, sigma = gaussian_stats(chemnet_activations(list(smiles), device))
    return frechet_distance(mu, sigma, reference.mu, reference.sigma)


def heldout_reference(
    split: Split, *, cache_dir: str | Path | None = None, n_jobs: int = 2, device: str = "cpu"
) -> ReferenceStats:
    """ChemNet statistics of ``split``'s held-out molecules, cached under ``cache_dir`` by content."""
    o = split.options
    name = f"heldout-{Path(o.data).name}-{o.holdout_fraction}-{o.seed}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return cached_reference_stats(
            split.heldout, name, cache_dir=cache_dir or DEFAULT_CACHE_DIR, n_jobs=n_jobs, device=device
        )


@dataclass(frozen=True)
class Floor:
    """FCD of a seeded sample of the training split to the held-out split: what a perfect
    sampler of the corpus would score at this sample size."""

    fcd: float
    molecules: int


def floor_fcd(
    train: Sequence[str], reference: ReferenceStats, size: int, seed: int = 0, device: str = "cpu"
) -> Floor:
    """:class:`Floor` from ``size`` molecules of ``train`` drawn with ``seed``."""
    chosen = random.Random(seed).sample(list(train), min(size, len(train)))
    return Floor(fcd_to(chosen, reference, device), len(chosen))


@dataclass(frozen=True)
class SampleMetrics:
    """The sample-based metrics of generated strings against one split."""

    num: int
    validity: float
    uniqueness: float
    novelty: float
    fcd: float
    chemistry: Chemistry


def sample_metrics(
    generated: Sequence[str], train: frozenset[str], reference: ReferenceStats, device: str = "cpu"
) -> SampleMetrics:
    """Validity, uniqueness, novelty against ``train`` (canonical SMILES), FCD to ``reference``,
    and the stereo/charge/MW figures of the valid samples."""
    canonical = [canonical_or_none(s) for s in generated]
    valid = [c for c in canonical if c is not None]
    return SampleMetrics(
        num=len(canonical),
        validity=fraction_valid_from(canonical),
        uniqueness=unique_at_k(valid),
        novelty=novelty(valid, train),
        fcd=fcd_to(valid, reference, device),
        chemistry=chemistry(valid),
    )


# --------------------------------------------------------------------------- spellings


@dataclass(frozen=True)
class SpellingGap:
    """Mean NLL of canonical and random spellings of the same molecules, and their relative gap."""

    molecules: int
    left_out: int  # a spelling the vocabulary cannot write, or longer than the context
    mean_nll_canonical: float
    mean_nll_random: float
    gap: float


def _fits(lm: LanguageModel, smiles: str) -> bool:
    try:
        return len(lm.tokenizer.encode(smiles)) <= lm.model.config.block_size
    except TokenizerError:
        return False


def hashed_spelling(smiles: str, seed: int = 0) -> str:
    """A random SMILES spelling (stereo and charges kept) fixed by ``seed`` and the molecule alone.

    A nonzero RDKit seed per molecule, hashed from ``seed`` and the SMILES, gives the same spelling
    in any order, set or process.
    """
    digest = hashlib.sha256(f"{seed}:{smiles}".encode()).digest()
    return random_spelling(smiles, int.from_bytes(digest[:4], "big") % (2**31 - 1) + 1)


def spelling_gap(lm: LanguageModel, smiles: Sequence[str], seed: int = 0) -> SpellingGap:
    """One seeded random spelling per molecule (:func:`hashed_spelling`), scored beside the
    canonical spelling; molecules with a spelling the model cannot read are left out."""
    canonical = [c for c in map(canonical_or_none, smiles) if c is not None]
    spelled = [hashed_spelling(c, seed) for c in canonical]
    pairs = [(c, r) for c, r in zip(canonical, spelled, strict=True) if _fits(lm, c) and _fits(lm, r)]
    if not pairs:
        return SpellingGap(0, len(canonical), math.nan, math.nan, math.nan)
    nll = [-log_likelihood(lm.model, lm.tokenizer, [pair[i] for pair in pairs]).mean().item() for i in (0, 1)]
    return SpellingGap(
        molecules=len(pairs),
        left_out=len(canonical) - len(pairs),
        mean_nll_canonical=nll[0],
        mean_nll_random=nll[1],
        gap=(nll[1] - nll[0]) / nll[0],
    )


# --------------------------------------------------------------------------- the benchmark


def _number(value: float) -> float | None:
    """JSON has no NaN: a metric that cannot be computed is ``null``."""
    return None if value is None or math.isnan(value) else round(float(value), 4)


def verdicts(metrics: dict[str, float | None]) -> dict[str, dict[str, Any]]:
    """Each target with its bound, the measured value and whether the value meets it."""
    return {
        name: {
            "value": metrics.get(name),
            "bound": target.bound,
            "direction": ">=" if target.at_least else "<=",
            "passed": target.met(metrics.get(name)),
        }
        for name, target in TARGETS.items()
    }


def evaluate_model(
    lm: LanguageModel,
    split: Split,
    reference: ReferenceStats,
    *,
    num: int = 10_000,
    sample_seed: int = 0,
    temperature: float = 1.0,
    top_p: float = 1.0,
    device: str = "cpu",
    train_set: frozenset[str] | None = None,
    precision: str = FLOAT,
) -> dict[str, Any]:
    """Sample ``num`` molecules, measure them and the spelling gap on held-out molecules."""
    report = sample(lm, num, seed=sample_seed, temperature=temperature, top_p=top_p, precision=precision)
    train_set = train_set if train_set is not None else frozenset(split.train)
    found = sample_metrics([m.smiles for m in report.molecules], train_set, reference, device)
    held = random.Random(sample_seed).sample(split.heldout, min(num, len(split.heldout)))
    spelling = spelling_gap(lm, held, seed=sample_seed)
    metrics = {
        "validity": found.validity,
        "uniqueness": found.uniqueness,
        "novelty": found.novelty,
        "fcd": found.fcd,
        "stereo_fraction": found.chemistry.stereo_fraction,
        "charged_fraction": found.chemistry.charged_fraction,
        "mw_p90": found.chemistry.mw_p90,
        "spelling_nll_gap": spelling.gap,
    }
    metrics = {k: _number(v) for k, v in metrics.items()}
    targets = verdicts(metrics)
    return {
        "metrics": metrics,
        "targets": targets,
        "passed": all(t["passed"] for t in targets.values()),
        "valid_molecules": found.chemistry.molecules,
        "spelling": {k: _number(v) if isinstance(v, float) else v for k, v in asdict(spelling).items()},
        "sampling": report.summary(),
        "model_metadata": lm.metadata,
    }


def bench_prior(
    model: str | Path,
    data: str | None = None,
    holdout_fraction: float | None = None,
    seed: int | None = None,
    *,
    num: int = 10_000,
    sample_seed: int = 0,
    temperature: float = 1.0,
    top_p: float = 1.0,
    compare: Sequence[str | Path] = (),
    device: str = "auto",
    precision: str = FLOAT,
    n_jobs: int = 2,
    cache_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The prior benchmark of ``model`` (and of each ``compare`` model) against one held-out split,
    sampled in ``precision`` (``float`` by default: the model's weights, comparable over time;
    ``auto`` as ``chemloop sample`` does).

    The split defaults to the model's own (see :func:`split_options`). The held-out set's
    ChemNet statistics are cached under ``cache_dir`` by content, so a second model measured
    against the same split skips them.
    """
    say = progress or (lambda _: None)
    start = time.perf_counter()
    options = split_options(model, data, holdout_fraction, seed)
    lm = checkpoint.load(model, pick_device(device))
    say(f"reading and splitting {options.data}")
    split = load_split(options)
    if len(split.heldout) < 2 or not split.train:
        raise ChemloopError(f"{options.data}: the split leaves too few molecules to measure against")
    fcd_device = str(lm.device)
    say(f"ChemNet statistics of {len(split.heldout)} held-out molecules")
    reference = heldout_reference(split, cache_dir=cache_dir, n_jobs=n_jobs, device=fcd_device)
    say(f"floor: FCD of {min(num, len(split.train))} training molecules")
    floor = floor_fcd(split.train, reference, num, sample_seed, fcd_device)
    train_set = frozenset(split.train)
    evaluations = []
    for index, label in enumerate([model, *compare]):
        say(f"sampling and measuring {label}")
        loaded = lm if index == 0 else checkpoint.load(label, pick_device(device))
        evaluations.append(
            {
                "model": str(label),
                **evaluate_model(
                    loaded,
                    split,
                    reference,
                    num=num,
                    sample_seed=sample_seed,
                    temperature=temperature,
                    top_p=top_p,
                    device=fcd_device,
                    train_set=train_set,
                    precision=precision,
                ),
            }
        )
    held = chemistry(split.heldout)
    return {
        "benchmark": "prior",
        "machine": describe(lm.device),
        "precision": resolve_sampling_precision(precision, lm.device),
        "num": num,
        "sample_seed": sample_seed,
        "temperature": temperature,
        "top_p": top_p,
        "split": split.describe(),
        "floor": {"fcd": _number(floor.fcd), "molecules": floor.molecules},
        "reference": {
            "heldout": {
                "molecules": held.molecules,
                "stereo_fraction": _number(held.stereo_fraction),
                "charged_fraction": _number(held.charged_fraction),
                "mw_p90": _number(held.mw_p90),
            }
        },
        "definitions": {name: t.meaning for name, t in TARGETS.items()},
        **evaluations[0],
        "compare": evaluations[1:],
        "seconds": round(time.perf_counter() - start, 1),
    }


def format_table(result: dict[str, Any]) -> Any:
    """A rich table: each target, the model's value (and each compared model's), the reference."""
    from rich.table import Table

    table = Table(title=f"prior benchmark: {result['model']} on {Path(result['split']['data']).name}")
    table.add_column("metric")
    table.add_column("target", justify="right")
    for entry in (result, *result["compare"]):
        table.add_column(str(entry["model"]), justify="right")
    table.add_column("reference", justify="right")
    reference = dict(result["reference"]["heldout"], fcd=result["floor"]["fcd"])
    for name, verdict in result["targets"].items():
        cells = []
        for entry in (result, *result["compare"]):
            v = entry["targets"][name]
            cells.append("-" if v["value"] is None else f"{v['value']:.3f} {'ok' if v['passed'] else 'FAIL'}")
        ref = reference.get(name)
        label = "floor " if name == "fcd" else "held-out " if name in reference else ""
        table.add_row(
            name,
            f"{verdict['direction']} {verdict['bound']:g}",
            *cells,
            "" if ref is None else f"{label}{ref:.3f}",
        )
    return table
