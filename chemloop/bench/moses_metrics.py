"""The MOSES distribution-learning metrics (Polykovskiy et al. 2020), written afresh.

Definitions follow the MOSES paper and the conventions behind its published tables
(``molsets`` 0.3), so that our numbers can be set beside the published rows:

* ``valid``: fraction of generated strings that RDKit parses (empty strings are invalid).
* ``unique@k``: fraction of distinct canonical SMILES among the first ``k`` valid molecules.
* ``FCD/*``: Fréchet ChemNet Distance between ChemNet activations (fcd-torch) of the valid
  generated molecules and of the reference set.
* ``SNN/*``: mean over valid generated molecules of the largest Tanimoto similarity to a
  reference molecule (Morgan radius 2, 1024 bits).
* ``Frag/*``, ``Scaf/*``: cosine similarity of BRICS-fragment and Bemis–Murcko-scaffold
  count vectors. As in MOSES, scaffolds with fewer than two rings are not counted.
* ``IntDiv1``, ``IntDiv2``: ``1 - mean_i (mean_j T_ij^p)^(1/p)`` over valid generated
  molecules, self-pairs included (MOSES calls the first one ``IntDiv``). For ``p = 2`` this
  per-molecule form is what produced the published numbers; the paper's formula takes the
  root of the global mean (see :func:`internal_diversity`).
* ``Filters``: fraction of valid generated molecules with only C, N, S, O, F, Cl, Br, H
  atoms, no formal charges, no ring of 8 or more atoms, and no MCF or PAINS match.
* ``Novelty``: fraction of distinct valid generated molecules absent from the training set.

Reference statistics (ChemNet mean and covariance, fingerprints, fragment and scaffold
counts) are built once per set by :func:`reference_stats`; for the MOSES splits they are
cached as ``.npz`` (no pickles) plus ``.json`` by :func:`moses_reference_stats`.
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import json
import logging
import math
import multiprocessing
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rdkit
from rdkit import Chem, RDLogger
from rdkit.Chem import rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold

from chemloop.chem.mol import try_canonical as canonical_or_none  # None for invalid/empty
from chemloop.data.corpus import load_moses, moses_data_dir

RDLogger.DisableLog("rdApp.*")
log = logging.getLogger(__name__)

MORGAN_RADIUS = 2
MORGAN_BITS = 1024
SCAFFOLD_MIN_RINGS = 2
MAX_RING_ATOMS = 7  # a ring of 8 or more atoms fails the filters, as in MOSES
ALLOWED_ATOMS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})
DEFAULT_CACHE_DIR = Path("~/.cache/chemloop/moses")
DEFAULT_K = (1000, 10000)
SERIAL_BELOW = 2000  # smaller inputs are processed in this process, without a Pool
_STATS_FORMAT = 1


# --------------------------------------------------------------------------- per molecule


@functools.cache
def _morgan() -> rdFingerprintGenerator.FingerprintGenerator64:
    return rdFingerprintGenerator.GetMorganGenerator(radius=MORGAN_RADIUS, fpSize=MORGAN_BITS)


@functools.cache
def filter_patterns() -> tuple[Chem.Mol, ...]:
    """The MOSES MCF and PAINS SMARTS, read from the data files shipped with ``molsets``."""
    folder = moses_data_dir().parent.parent / "metrics"
    smarts = []
    with (folder / "mcf.csv").open(newline="") as handle:
        smarts += [row["smarts"].strip() for row in csv.DictReader(handle)]
    with (folder / "wehi_pains.csv").open(newline="") as handle:
        smarts += [row[0].strip() for row in csv.reader(handle) if row]
    patterns = tuple(Chem.MolFromSmarts(s) for s in smarts)
    if any(p is None for p in patterns):
        raise ValueError(f"unparsable SMARTS in {folder}")
    return patterns


def fingerprint(mol: Chem.Mol) -> np.ndarray:
    """Morgan (radius 2, 1024 bits) fingerprint as 128 packed bytes."""
    return np.packbits(_morgan().GetFingerprintAsNumPy(mol))


def fragments(mol: Chem.Mol) -> list[str]:
    """SMILES of the BRICS fragments of a molecule (with dummy atoms at cut bonds)."""
    return Chem.MolToSmiles(Chem.FragmentOnBRICSBonds(mol)).split(".")


def scaffold(mol: Chem.Mol, min_rings: int = SCAFFOLD_MIN_RINGS) -> str | None:
    """Bemis–Murcko scaffold SMILES; ``None`` if it has fewer than ``min_rings`` rings."""
    try:
        core = MurckoScaffold.GetScaffoldForMol(mol)
    except (ValueError, RuntimeError):
        return None
    text = Chem.MolToSmiles(core)
    if not text or core.GetRingInfo().NumRings() < min_rings:
        return None
    return text


def passes_filters(mol: Chem.Mol | str | None) -> bool:
    """Whether a molecule passes the MOSES filters (atoms, charges, ring size, MCF, PAINS)."""
    if isinstance(mol, str):
        mol = Chem.MolFromSmiles(mol) if mol else None
    if mol is None:
        return False
    if any(len(ring) > MAX_RING_ATOMS for ring in mol.GetRingInfo().AtomRings()):
        return False
    for atom in mol.GetAtoms():
        if atom.GetFormalCharge() != 0 or atom.GetSymbol() not in ALLOWED_ATOMS:
            return False
    with_h = Chem.AddHs(mol)
    if any(with_h.HasSubstructMatch(p) for p in filter_patterns()):
        return False
    flat = Chem.MolToSmiles(mol, isomericSmiles=False)
    return bool(flat) and Chem.MolFromSmiles(flat) is not None


def _fingerprint_of_smiles(smiles: str) -> np.ndarray | None:
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    return None if mol is None else fingerprint(mol)


def fingerprints_of(smiles: Sequence[str], n_jobs: int = 1) -> np.ndarray:
    """Packed Morgan fingerprints (``n × 128`` uint8) of the valid SMILES among ``smiles``."""
    fps = [fp for fp in _map(_fingerprint_of_smiles, list(smiles), n_jobs) if fp is not None]
    return np.stack(fps) if fps else np.zeros((0, MORGAN_BITS // 8), np.uint8)


def _features(smiles: str, with_filters: bool) -> tuple[np.ndarray, list[str], str | None, bool]:
    """Fingerprint, fragments, scaffold and (optionally) the filter verdict of one molecule."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"invalid SMILES passed to the MOSES metrics: {smiles!r}")
    ok = passes_filters(mol) if with_filters else True
    return fingerprint(mol), fragments(mol), scaffold(mol), ok


def _ref_features(smiles: str) -> tuple[np.ndarray, list[str], str | None, bool]:
    return _features(smiles, False)


def _gen_features(smiles: str) -> tuple[np.ndarray, list[str], str | None, bool]:
    return _features(smiles, True)


def _map(func: Callable[[str], Any], items: Sequence[str], n_jobs: int) -> list[Any]:
    """``map`` over a spawn Pool of ``n_jobs`` workers; in-process for small inputs."""
    if n_jobs <= 1 or len(items) < SERIAL_BELOW:
        return [func(x) for x in items]
    chunk = max(64, min(2000, len(items) // (n_jobs * 16)))
    with multiprocessing.get_context("spawn").Pool(n_jobs) as pool:
        return list(pool.imap(func, items, chunksize=chunk))


def _collect(
    smiles: Sequence[str], func: Callable, n_jobs: int, weights: Sequence[int] | None = None
) -> tuple[np.ndarray, Counter[str], Counter[str], float]:
    """Run ``func`` over molecules; return fingerprints, fragment and scaffold counts, and
    the (weighted) fraction passing the filters. ``weights`` count duplicates."""
    weights = weights if weights is not None else [1] * len(smiles)
    fps, frags, scafs, passed = [], Counter(), Counter(), 0
    for (fp, frag, scaf, ok), w in zip(_map(func, smiles, n_jobs), weights, strict=True):
        fps.append(fp)
        for f in frag:
            frags[f] += w
        if scaf is not None:
            scafs[scaf] += w
        passed += w * ok
    matrix = np.stack(fps) if fps else np.zeros((0, MORGAN_BITS // 8), np.uint8)
    return matrix, frags, scafs, passed / max(1, sum(weights))


# --------------------------------------------------------------------------- set metrics


def fraction_valid_from(canonical: Sequence[str | None]) -> float:
    """Fraction of non-``None`` entries of a :func:`canonical_or_none` result."""
    if not canonical:
        raise ValueError("no generated SMILES given")
    return sum(c is not None for c in canonical) / len(canonical)


def fraction_valid(generated: Sequence[str], n_jobs: int = 1) -> float:
    """Fraction of strings that RDKit parses (empty strings count as invalid)."""
    return fraction_valid_from(_map(canonical_or_none, list(generated), n_jobs))


def unique_at_k(valid_canonical: Sequence[str], k: int | None = None) -> float:
    """Fraction of distinct SMILES among the first ``k`` (canonical, valid) molecules.

    With fewer than ``k`` molecules all are used and a warning says so, as in MOSES.
    """
    if k is not None:
        if len(valid_canonical) < k:
            warnings.warn(
                f"unique@{k}: only {len(valid_canonical)} valid molecules; using all of them",
                stacklevel=2,
            )
        valid_canonical = valid_canonical[:k]
    if not valid_canonical:
        return math.nan
    return len(set(valid_canonical)) / len(valid_canonical)


def novelty(valid_canonical: Iterable[str], train_canonical: set[str] | frozenset[str]) -> float:
    """Fraction of distinct valid generated molecules not in the (canonical) training set."""
    unique = set(valid_canonical)
    if not unique:
        return math.nan
    return len(unique - train_canonical) / len(unique)


def cos_similarity(ref: dict[str, int], gen: dict[str, int]) -> float:
    """Cosine similarity of two count dictionaries (missing keys count 0); NaN if one is empty."""
    if not ref or not gen:
        return math.nan
    dot = sum(float(v) * gen.get(key, 0) for key, v in ref.items())
    norm = math.sqrt(sum(float(v) ** 2 for v in ref.values()))
    norm *= math.sqrt(sum(float(v) ** 2 for v in gen.values()))
    return dot / norm


def _bit_matrix(packed: np.ndarray, dtype: Any, device: str = "cpu") -> Any:
    import torch

    return torch.from_numpy(np.unpackbits(packed, axis=1)).to(device=device, dtype=dtype)


def _mm_dtype(*popcounts: np.ndarray) -> Any:
    """bfloat16 is exact for intersection counts up to 256 and ~3x faster than float32."""
    import torch

    high = max((int(p.max()) for p in popcounts if len(p)), default=0)
    return torch.bfloat16 if high <= 256 else torch.float32


def _popcount(packed: np.ndarray) -> np.ndarray:
    return np.unpackbits(packed, axis=1).sum(1, dtype=np.int64)


def max_tanimoto(
    query: np.ndarray,
    ref: np.ndarray,
    *,
    q_chunk: int = 4096,
    r_chunk: int = 16384,
    device: str = "cpu",
) -> np.ndarray:
    """For each query fingerprint, the largest Tanimoto similarity to any reference one.

    Both inputs are packed bit matrices (``np.packbits`` rows). Intersection counts come
    from chunked matrix products. Tanimoto ``c / (a + b - c)`` grows with ``c`` when the
    bit counts ``a``, ``b`` are fixed, so references are grouped by bit count and only the
    largest intersection per group is kept; the division is done on that small matrix.
    Two empty fingerprints have similarity 1.
    """
    import torch

    if len(query) == 0 or len(ref) == 0:
        return np.full(len(query), np.nan)
    a_all, b_all = _popcount(query), _popcount(ref)
    dtype = _mm_dtype(a_all, b_all)
    order = np.argsort(b_all, kind="stable")
    counts_sorted = b_all[order]
    values, group = np.unique(counts_sorted, return_inverse=True)
    group_t = torch.from_numpy(group.astype(np.int64)).to(device)
    ref_bits = _bit_matrix(ref[order], dtype, device)
    b_groups = torch.from_numpy(values.astype(np.float64)).to(device)
    best = np.empty(len(query))
    for i in range(0, len(query), q_chunk):
        q = _bit_matrix(query[i : i + q_chunk], dtype, device)
        top = torch.full((len(q), len(values)), -1.0, dtype=dtype, device=device)
        for j in range(0, len(ref_bits), r_chunk):
            inter = q @ ref_bits[j : j + r_chunk].T
            idx = group_t[j : j + r_chunk].expand(len(q), -1)
            top.scatter_reduce_(1, idx, inter, reduce="amax")
        c = top.double()
        a = torch.from_numpy(a_all[i : i + q_chunk].astype(np.float64)).to(device)[:, None]
        sim = c / (a + b_groups[None, :] - c)
        sim = torch.nan_to_num(sim, nan=1.0)
        best[i : i + len(q)] = sim.amax(1).cpu().numpy()
    return best


def _tanimoto_row_means(
    fps: np.ndarray, chunk: int = 4096, device: str = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """Per molecule, the mean Tanimoto similarity and mean squared similarity to all rows."""
    import torch

    pop = _popcount(fps)
    dtype = _mm_dtype(pop)
    bits = _bit_matrix(fps, dtype, device)
    pop_t = torch.from_numpy(pop.astype(np.float32)).to(device)
    s1, s2 = np.zeros(len(fps)), np.zeros(len(fps))
    for i in range(0, len(fps), chunk):
        q = bits[i : i + chunk]
        a = pop_t[i : i + chunk, None]
        for j in range(0, len(fps), 4 * chunk):
            c = (q @ bits[j : j + 4 * chunk].T).float()
            sim = c.div_((a + pop_t[None, j : j + 4 * chunk]).sub_(c))
            sim = torch.nan_to_num_(sim, nan=1.0)
            s1[i : i + len(q)] += sim.sum(1, dtype=torch.float64).cpu().numpy()
            s2[i : i + len(q)] += sim.square_().sum(1, dtype=torch.float64).cpu().numpy()
    return s1 / len(fps), s2 / len(fps)


def internal_diversity(
    fps: np.ndarray, p: int = 1, *, per_molecule: bool = True, device: str = "cpu"
) -> float:
    """``1 -`` the mean pairwise Tanimoto similarity (power mean of order ``p``).

    ``per_molecule=True`` (MOSES' implementation, used for its tables) averages
    ``(mean_j T_ij^p)^(1/p)`` over molecules ``i``; ``False`` gives the paper's formula
    ``(mean_ij T_ij^p)^(1/p)``. Both agree for ``p = 1``.
    """
    if len(fps) == 0:
        return math.nan
    m1, m2 = _tanimoto_row_means(fps, device=device)
    if p == 1:
        return float(1 - m1.mean())
    if p != 2:
        raise ValueError("p must be 1 or 2")
    return float(1 - (np.sqrt(m2).mean() if per_molecule else math.sqrt(m2.mean())))


# --------------------------------------------------------------------------- FCD


@functools.cache
def _fcd_model(device: str, batch_size: int) -> Any:
    from fcd_torch import FCD

    return FCD(device=device, n_jobs=1, batch_size=batch_size)


def chemnet_activations(smiles: Sequence[str], device: str = "cpu", batch_size: int = 512) -> np.ndarray:
    """ChemNet penultimate-layer activations (``n × 512``) from fcd-torch's ``FCD``.

    Molecules go to ``FCD.get_predictions`` a few batches at a time: on CPU each batch's
    result there is a view that keeps the whole LSTM output alive until the call returns
    (~170 kB per molecule), which for the 176k-molecule test set would need ~30 GB.
    """
    model, smiles = _fcd_model(device, batch_size), list(smiles)
    step = 4 * batch_size
    parts = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # np.row_stack inside fcd-torch
        for i in range(0, len(smiles), step):
            parts.append(np.array(model.get_predictions(smiles[i : i + step]), np.float32))
    return np.concatenate(parts) if parts else np.zeros((0, 512), np.float32)


def gaussian_stats(activations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of activations, in float64."""
    acts = np.asarray(activations, dtype=np.float64)
    return acts.mean(0), np.cov(acts.T)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance of two Gaussians, computed by fcd-torch."""
    from fcd_torch.utils import calculate_frechet_distance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # scipy's sqrtm(disp=...)
        return float(calculate_frechet_distance(mu1, sigma1, mu2, sigma2))


# --------------------------------------------------------------------------- references


@dataclass
class ReferenceStats:
    """What the metrics need from a reference set (e.g. the MOSES test set)."""

    mu: np.ndarray  # ChemNet activation mean, (512,)
    sigma: np.ndarray  # ChemNet activation covariance, (512, 512)
    fingerprints: np.ndarray  # packed Morgan bits, (n, 128) uint8
    fragments: dict[str, int]
    scaffolds: dict[str, int]
    n: int

    def save(self, stem: Path) -> None:
        """Write ``stem.npz`` (arrays) and ``stem.json`` (counts); no pickles."""
        stem.parent.mkdir(parents=True, exist_ok=True)
        np.savez(stem.with_suffix(".npz"), mu=self.mu, sigma=self.sigma, fingerprints=self.fingerprints)
        meta = {
            "format": _STATS_FORMAT,
            "n": self.n,
            "fragments": self.fragments,
            "scaffolds": self.scaffolds,
        }
        stem.with_suffix(".json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, stem: Path) -> ReferenceStats:
        """Read statistics written by :meth:`save`."""
        meta = json.loads(stem.with_suffix(".json").read_text())
        if meta.get("format") != _STATS_FORMAT:
            raise ValueError(f"{stem}: unknown statistics format {meta.get('format')!r}")
        with np.load(stem.with_suffix(".npz"), allow_pickle=False) as data:
            return cls(
                mu=data["mu"],
                sigma=data["sigma"],
                fingerprints=data["fingerprints"],
                fragments=meta["fragments"],
                scaffolds=meta["scaffolds"],
                n=meta["n"],
            )


def reference_stats(
    smiles: Sequence[str], *, n_jobs: int = 2, device: str = "cpu", batch_size: int = 512
) -> ReferenceStats:
    """Build reference statistics from a list of SMILES (invalid ones are dropped)."""
    canon = [c for c in _map(canonical_or_none, list(smiles), n_jobs) if c is not None]
    if len(canon) < 2:
        raise ValueError("a reference set needs at least two valid molecules")
    fps, frags, scafs, _ = _collect(canon, _ref_features, n_jobs)
    mu, sigma = gaussian_stats(chemnet_activations(canon, device, batch_size))
    return ReferenceStats(
        mu=mu, sigma=sigma, fingerprints=fps, fragments=dict(frags), scaffolds=dict(scafs), n=len(canon)
    )


def _digest(smiles: Sequence[str]) -> str:
    h = hashlib.sha256(f"rdkit={rdkit.__version__};r={MORGAN_RADIUS};n={MORGAN_BITS}\n".encode())
    for s in smiles:
        h.update(s.encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def cached_reference_stats(
    smiles: Sequence[str],
    name: str,
    *,
    cache_dir: str | Path | None = None,
    n_jobs: int = 2,
    device: str = "cpu",
    batch_size: int = 512,
) -> ReferenceStats:
    """:func:`reference_stats`, cached under ``cache_dir`` by name, content and RDKit version."""
    folder = Path(cache_dir or DEFAULT_CACHE_DIR).expanduser()
    stem = folder / f"{name}-{_digest(smiles)}"
    if stem.with_suffix(".npz").is_file() and stem.with_suffix(".json").is_file():
        return ReferenceStats.load(stem)
    start = time.perf_counter()
    log.info("building MOSES reference statistics for %s (%d molecules)", name, len(smiles))
    stats = reference_stats(smiles, n_jobs=n_jobs, device=device, batch_size=batch_size)
    stats.save(stem)
    log.info("built %s statistics in %.0f s -> %s", name, time.perf_counter() - start, stem)
    return stats


def moses_reference_stats(
    split: str,
    *,
    cache_dir: str | Path | None = None,
    n_jobs: int = 2,
    device: str = "cpu",
    batch_size: int = 512,
) -> ReferenceStats:
    """Statistics of a MOSES split (``test`` or ``test_scaffolds``), built once and cached."""
    return cached_reference_stats(
        load_moses(split), split, cache_dir=cache_dir, n_jobs=n_jobs, device=device, batch_size=batch_size
    )


def moses_train_canonical(cache_dir: str | Path | None = None, n_jobs: int = 2) -> frozenset[str]:
    """The MOSES training set as RDKit canonical SMILES (cached as gzipped text)."""
    train = load_moses("train")
    path = Path(cache_dir or DEFAULT_CACHE_DIR).expanduser() / f"train-{_digest(train)}.smi.gz"
    if path.is_file():
        with gzip.open(path, "rt") as handle:
            return frozenset(handle.read().split("\n"))
    canon = [c for c in _map(canonical_or_none, train, n_jobs) if c is not None]
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(canon))
    return frozenset(canon)


# --------------------------------------------------------------------------- all metrics


def moses_metrics(
    generated: Sequence[str],
    train: Iterable[str] | None = None,
    test: Sequence[str] | ReferenceStats | None = None,
    test_scaffolds: Sequence[str] | ReferenceStats | None = None,
    *,
    device: str = "cpu",
    n_jobs: int = 2,
    batch_size: int = 512,
    k: Sequence[int] = DEFAULT_K,
    cache_dir: str | Path | None = None,
) -> dict[str, float]:
    """All MOSES metrics of generated SMILES, keyed as in the MOSES tables.

    ``train``, ``test`` and ``test_scaffolds`` default to the MOSES splits (reference
    statistics and the canonical training set are cached under ``cache_dir``). A reference
    may also be given as a list of SMILES or as prebuilt :class:`ReferenceStats`.
    ``train`` given as a list is canonicalised; a ``set``/``frozenset`` is taken as canonical.
    With ``n_jobs > 1``, inputs of :data:`SERIAL_BELOW` molecules or more are processed by
    spawned worker processes, so scripts must call this under ``if __name__ == "__main__":``.
    """
    generated = list(generated)
    canon = _map(canonical_or_none, generated, n_jobs)
    valid = [c for c in canon if c is not None]
    out: dict[str, float] = {"valid": fraction_valid_from(canon)}
    for kk in k:
        out[f"unique@{kk}"] = unique_at_k(valid, kk)

    refs = {}
    for label, ref, split in (("Test", test, "test"), ("TestSF", test_scaffolds, "test_scaffolds")):
        if isinstance(ref, ReferenceStats):
            refs[label] = ref
        elif ref is None:
            refs[label] = moses_reference_stats(
                split, cache_dir=cache_dir, n_jobs=n_jobs, device=device, batch_size=batch_size
            )
        else:
            refs[label] = reference_stats(ref, n_jobs=n_jobs, device=device, batch_size=batch_size)

    counts = Counter(valid)
    unique = list(counts)
    fps_u, frags, scafs, filters = _collect(unique, _gen_features, n_jobs, [counts[s] for s in unique])
    index = {s: i for i, s in enumerate(unique)}
    fps = fps_u[[index[s] for s in valid]] if valid else fps_u
    if len(valid) >= 2:
        mu, sigma = gaussian_stats(chemnet_activations(valid, device, batch_size))
    for label, ref in refs.items():
        out[f"FCD/{label}"] = frechet_distance(mu, sigma, ref.mu, ref.sigma) if len(valid) >= 2 else math.nan
        snn = max_tanimoto(fps_u, ref.fingerprints, device=device)
        weights = np.array([counts[s] for s in unique], dtype=np.float64)
        out[f"SNN/{label}"] = float(snn @ weights / weights.sum()) if valid else math.nan
        out[f"Frag/{label}"] = cos_similarity(ref.fragments, frags)
        out[f"Scaf/{label}"] = cos_similarity(ref.scaffolds, scafs)
    if valid:
        m1, m2 = _tanimoto_row_means(fps, device=device)
        out["IntDiv1"] = float(1 - m1.mean())
        out["IntDiv2"] = float(1 - np.sqrt(m2).mean())
    else:
        out["IntDiv1"] = out["IntDiv2"] = math.nan
    out["Filters"] = filters if valid else math.nan
    if train is None:
        train_set = moses_train_canonical(cache_dir, n_jobs)
    elif isinstance(train, set | frozenset):
        train_set = train
    else:
        train_set = {c for c in _map(canonical_or_none, list(train), n_jobs) if c is not None}
    out["Novelty"] = novelty(valid, train_set)
    order = ["valid", *(f"unique@{kk}" for kk in k)]
    order += [f"{m}/{r}" for m in ("FCD", "SNN", "Frag", "Scaf") for r in refs]
    return {key: out[key] for key in order + ["IntDiv1", "IntDiv2", "Filters", "Novelty"]}
