"""The 23 oracles of the PMO benchmark (Gao et al., "Sample Efficiency Matters", NeurIPS 2022).

PMO scores molecules with TDC's oracles. Twenty of them restate GuacaMol's goal-directed
benchmarks (Brown et al. 2019, ``standard_benchmarks.py``) in the form of GuacaMol's v2
suite: MPO tasks and median molecules take the geometric mean of their terms, deco_hop and
scaffold_hop the arithmetic mean. The other three, DRD2, GSK3B and JNK3, are scikit-learn
classifiers that TDC ships and molscore re-distributes; they need the ``pmo-models`` extra.

Isomer terms (isomers_c7h8n2o2, isomers_c9h10n2o2pf2cl, and a term of zaleplon_mpo and
sitagliptin_mpo) are scored as PMO published them, with TDC 0.3.6's isomer function: the
geometric mean of per-element Gaussians (sigma 1, hydrogens counted) and a total-atom
Gaussian (sigma 2) whose count is read off the canonical SMILES *string* with a
molecular-formula regex, so aromatic atoms and implicit hydrogens are missed and ring-closure
digits are read as counts (:func:`isomer_published`). Each of these four tasks also runs by
the name ``<task>_corrected`` with the count TDC uses since 0.3.7, the molecule's real atom
count with hydrogens (:func:`isomer`, GuacaMol's form). The benchmark itself is the 23
published names.

Fingerprints come from RDKit's generators. Their sparse counts equal those of the legacy
calls GuacaMol and TDC make (``GetMorganFingerprint(m, 2)`` for ECFP4, ``useFeatures=True``
for FCFP4, ``GetAtomPairFingerprint(m, maxLength=10)`` for AP); Tanimoto is taken on counts,
so the unfolded sparse vectors are used, never a folded bit vector.
"""

from __future__ import annotations

import importlib.util
import math
import pickle
import re
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import Descriptors, rdFingerprintGenerator, rdMolDescriptors

from chemloop.chem.mol import to_mol
from chemloop.errors import ChemloopError
from chemloop.score.components.formula import parse_formula
from chemloop.score.transforms import clamp, gaussian

Term = Callable[[Chem.Mol], float]
Oracle = Callable[[Sequence[Chem.Mol]], list[float]]

PMO_TASKS: tuple[str, ...] = (
    "albuterol_similarity",
    "amlodipine_mpo",
    "celecoxib_rediscovery",
    "deco_hop",
    "drd2",
    "fexofenadine_mpo",
    "gsk3b",
    "isomers_c7h8n2o2",
    "isomers_c9h10n2o2pf2cl",
    "jnk3",
    "median1",
    "median2",
    "mestranol_similarity",
    "osimertinib_mpo",
    "perindopril_mpo",
    "qed",
    "ranolazine_mpo",
    "scaffold_hop",
    "sitagliptin_mpo",
    "thiothixene_rediscovery",
    "troglitazone_rediscovery",
    "valsartan_smarts",
    "zaleplon_mpo",
)
MODEL_TASKS: tuple[str, ...] = ("drd2", "gsk3b", "jnk3")
# The tasks with an isomer term; each also runs as "<task>_corrected" (see the module docstring).
ISOMER_TASKS: tuple[str, ...] = (
    "isomers_c7h8n2o2",
    "isomers_c9h10n2o2pf2cl",
    "sitagliptin_mpo",
    "zaleplon_mpo",
)
CORRECTED_SUFFIX = "_corrected"
CORRECTED_TASKS: tuple[str, ...] = tuple(task + CORRECTED_SUFFIX for task in ISOMER_TASKS)
MODELS_EXTRA = "pip install 'chemloop[pmo-models]' && pip install --no-deps molscore==1.9.5"

# Reference molecules, written exactly as in GuacaMol (descriptor targets are computed from them).
CELECOXIB = "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F"
TROGLITAZONE = "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O"
THIOTHIXENE = "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1"
ALBUTEROL = "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1"
MESTRANOL = "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1"
CAMPHOR = "CC1(C)C2CCC1(C)C(=O)C2"
MENTHOL = "CC(C)C1CCC(C)CC1O"
TADALAFIL = "O=C1N(CC(N2C1CC3=C(C2C4=CC5=C(OCO5)C=C4)NC6=C3C=CC=C6)=O)C"
SILDENAFIL = "CCCC1=NN(C2=C1N=C(NC2=O)C3=C(C=CC(=C3)S(=O)(=O)N4CCN(CC4)C)OCC)C"
OSIMERTINIB = "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34"
FEXOFENADINE = "CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4"
RANOLAZINE = "COc1ccccc1OCC(O)CN2CCN(CC(=O)Nc3c(C)cccc3C)CC2"
PERINDOPRIL = "O=C(OCC)C(NC(C(=O)N1C(C(=O)O)CC2CCCCC12)C)CCC"
AMLODIPINE = r"Clc1ccccc1C2C(=C(/N/C(=C2/C(=O)OCC)COCCN)C)\C(=O)OC"
SITAGLIPTIN = "Fc1cc(c(F)cc1F)CC(N)CC(=O)N3Cc2nnc(n2CC3)C(F)(F)F"
SITAGLIPTIN_VALSARTAN = "NC(CC(=O)N1CCn2c(nnc2C(F)(F)F)C1)Cc1cc(F)c(F)cc1F"  # same molecule, other SMILES
ZALEPLON = "O=C(C)N(CC)C1=CC=CC(C2=CC=NC3=C(C=NN23)C#N)=C1"
HOP_START = "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1S(=O)(=O)C(C)(C)C"
HOP_SCAFFOLD = "[#7]-c1n[c;h1]nc2[c;h1]c(-[#8])[c;h0][c;h1]c12"
VALSARTAN_SMARTS = "CN(C=O)Cc1ccc(c2ccccc2)cc1"


# --- score modifiers (GuacaMol's score_modifier.py) ------------------------------------------

Modifier = Callable[[float], float]


def gaussian_mod(mu: float, sigma: float) -> Modifier:
    return lambda x: gaussian(x, mu, sigma)


def min_gaussian(mu: float, sigma: float) -> Modifier:
    """1 up to ``mu``, then a Gaussian fall: rewards staying *below* ``mu``."""
    return lambda x: gaussian(max(x, mu), mu, sigma)


def max_gaussian(mu: float, sigma: float) -> Modifier:
    """1 from ``mu`` on, a Gaussian rise below it: rewards staying *above* ``mu``."""
    return lambda x: gaussian(min(x, mu), mu, sigma)


def clipped(upper_x: float) -> Modifier:
    """Linear from 0 at x = 0 to 1 at ``upper_x``, clipped to [0, 1]."""
    return lambda x: clamp(x / upper_x)


# --- terms: one number per molecule -------------------------------------------------------------


def _morgan(radius: int, features: bool = False) -> Callable[[Chem.Mol], Any]:
    invariants = rdFingerprintGenerator.GetMorganFeatureAtomInvGen() if features else None
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, atomInvariantsGenerator=invariants)
    return generator.GetSparseCountFingerprint


def _pharmacophore(mol: Chem.Mol) -> Any:
    # Gobbi 2D pharmacophore pairs/triplets (GuacaMol's "PHCO"); the slowest fingerprint here.
    from rdkit.Chem.Pharm2D import Generate, Gobbi_Pharm2D

    return Generate.Gen2DFingerprint(mol, Gobbi_Pharm2D.factory)


_FINGERPRINTS: dict[str, Callable[[Chem.Mol], Any]] = {
    "ECFP4": _morgan(2),
    "ECFP6": _morgan(3),
    "FCFP4": _morgan(2, features=True),
    "AP": rdFingerprintGenerator.GetAtomPairGenerator(maxDistance=10).GetSparseCountFingerprint,
    "PHCO": _pharmacophore,
}


def similarity(smiles: str, fingerprint: str, modifier: Modifier | None = None) -> Term:
    """Tanimoto similarity to one molecule on ``fingerprint``, then ``modifier``."""
    make = _FINGERPRINTS[fingerprint]
    reference = make(to_mol(smiles, "PMO reference"))

    def term(mol: Chem.Mol) -> float:
        value = DataStructs.TanimotoSimilarity(make(mol), reference)
        return modifier(value) if modifier else value

    return term


def descriptor(function: Callable[[Chem.Mol], float], modifier: Modifier) -> Term:
    return lambda mol: modifier(function(mol))


def element_count(symbol: str) -> Callable[[Chem.Mol], int]:
    return lambda mol: sum(atom.GetSymbol() == symbol for atom in mol.GetAtoms())


def _isomer_term(formula: str, total_atoms: Callable[[Chem.Mol, Counter], int]) -> Term:
    """Geometric mean of per-element Gaussians (sigma 1) and a total-atom Gaussian (sigma 2).

    Elements are counted on the molecule with its hydrogens; ``total_atoms(mol, counts)`` gives
    the count the total-atom Gaussian, centred on the formula's atom count, scores.
    """
    target = parse_formula(formula)
    total = sum(target.values())

    def term(mol: Chem.Mol) -> float:
        counts = Counter(atom.GetSymbol() for atom in Chem.AddHs(mol).GetAtoms())
        scores = [gaussian(counts[element], n, 1.0) for element, n in target.items()]
        scores.append(gaussian(total_atoms(mol, counts), total, 2.0))
        return _geometric_mean(scores)

    return term


def isomer(formula: str) -> Term:
    """Closeness to ``formula``, corrected form (GuacaMol, TDC >= 0.3.7): the total-atom count
    is the molecule's own, hydrogens included."""
    return _isomer_term(formula, lambda mol, counts: sum(counts.values()))


# TDC 0.3.6 parses the scored SMILES as if it were a molecular formula: an upper-case letter
# with any lower-case letters after it is an "element", the digits right after it its count.
_FORMULA_TOKEN = re.compile(r"([A-Z][a-z]*)(\d*)")


def formula_regex_atoms(smiles: str) -> int:
    """The total atom count TDC 0.3.6 reads off a SMILES string with its formula regex.

    Aromatic (lower-case) atoms and implicit hydrogens are not seen, bracket hydrogens are
    (``[NH3+]`` gives N and H3), ring-closure digits after an atom are read as its count
    (``C12`` is 12) and lower-case atoms after an upper-case one merge into it (``Cc1`` is 1).
    """
    return sum(int(digits) if digits else 1 for _, digits in _FORMULA_TOKEN.findall(smiles))


def isomer_published(formula: str) -> Term:
    """Closeness to ``formula`` as PMO published it: TDC 0.3.6's ``Isomer_scoring``.

    Later TDC keeps it as ``Isomer_scoring_prev``. The per-element Gaussians are those of
    :func:`isomer`; the total-atom count is :func:`formula_regex_atoms` of the molecule's RDKit
    canonical SMILES, the string PMO's harness (mol_opt) hands to TDC. So an aromatic isomer,
    whose canonical SMILES shows few upper-case atoms, scores far below 1, as in the published runs.
    """
    return _isomer_term(formula, lambda mol, counts: formula_regex_atoms(Chem.MolToSmiles(mol)))


def smarts(pattern: str, present: bool = True) -> Term:
    """1 if the SMARTS ``pattern`` matches (or, with ``present=False``, if it does not)."""
    query = Chem.MolFromSmarts(pattern)
    return lambda mol: float(mol.HasSubstructMatch(query) == present)


def _geometric_mean(values: Sequence[float]) -> float:
    return math.prod(values) ** (1 / len(values))


def geometric(*terms: Term) -> Term:
    return lambda mol: _geometric_mean([t(mol) for t in terms])


def arithmetic(*terms: Term) -> Term:
    return lambda mol: sum(t(mol) for t in terms) / len(terms)


logp, tpsa, bertz = Descriptors.MolLogP, Descriptors.TPSA, Descriptors.BertzCT


# --- the tasks ----------------------------------------------------------------------------------


def _sitagliptin_mpo(isomer_term: Callable[[str], Term]) -> Term:
    sitagliptin = to_mol(SITAGLIPTIN)
    return geometric(
        similarity(SITAGLIPTIN, "ECFP4", gaussian_mod(0, 0.1)),  # unlike sitagliptin ...
        descriptor(logp, gaussian_mod(logp(sitagliptin), 0.2)),  # ... but with its logP and TPSA
        descriptor(tpsa, gaussian_mod(tpsa(sitagliptin), 5)),
        isomer_term("C16H15F6N5O"),
    )


def _isomer_tasks(isomer_term: Callable[[str], Term]) -> dict[str, Callable[[], Term]]:
    """The tasks of :data:`ISOMER_TASKS`, built with ``isomer_term`` as their isomer term."""
    return {
        "isomers_c7h8n2o2": lambda: isomer_term("C7H8N2O2"),
        "isomers_c9h10n2o2pf2cl": lambda: isomer_term("C9H10N2O2PF2Cl"),
        "sitagliptin_mpo": lambda: _sitagliptin_mpo(isomer_term),
        "zaleplon_mpo": lambda: geometric(similarity(ZALEPLON, "ECFP4"), isomer_term("C19H17N3O2")),
    }


def _valsartan_smarts() -> Term:
    sitagliptin = to_mol(SITAGLIPTIN_VALSARTAN)
    return geometric(
        smarts(VALSARTAN_SMARTS),
        descriptor(logp, gaussian_mod(logp(sitagliptin), 0.2)),
        descriptor(tpsa, gaussian_mod(tpsa(sitagliptin), 5)),
        descriptor(bertz, gaussian_mod(bertz(sitagliptin), 30)),
    )


_TASKS: dict[str, Callable[[], Term]] = {
    "albuterol_similarity": lambda: similarity(ALBUTEROL, "FCFP4", clipped(0.75)),
    "amlodipine_mpo": lambda: geometric(
        similarity(AMLODIPINE, "ECFP4"),
        descriptor(rdMolDescriptors.CalcNumRings, gaussian_mod(3, 0.5)),
    ),
    # GuacaMol clips rediscovery at 1.0, which leaves a Tanimoto value unchanged.
    "celecoxib_rediscovery": lambda: similarity(CELECOXIB, "ECFP4"),
    "deco_hop": lambda: arithmetic(
        similarity(HOP_START, "PHCO", clipped(0.85)),
        smarts("CS([#6])(=O)=O", present=False),  # change the decoration ...
        smarts("[#7]-c1ccc2ncsc2c1", present=False),
        smarts(HOP_SCAFFOLD),  # ... but keep the scaffold
    ),
    "fexofenadine_mpo": lambda: geometric(
        similarity(FEXOFENADINE, "AP", clipped(0.8)),
        descriptor(tpsa, max_gaussian(90, 10)),
        descriptor(logp, min_gaussian(4, 1)),
    ),
    "median1": lambda: geometric(similarity(MENTHOL, "ECFP4"), similarity(CAMPHOR, "ECFP4")),
    "median2": lambda: geometric(similarity(TADALAFIL, "ECFP6"), similarity(SILDENAFIL, "ECFP6")),
    "mestranol_similarity": lambda: similarity(MESTRANOL, "AP", clipped(0.75)),
    "osimertinib_mpo": lambda: geometric(
        similarity(OSIMERTINIB, "FCFP4", clipped(0.8)),
        similarity(OSIMERTINIB, "ECFP6", min_gaussian(0.85, 0.1)),  # similar, but not too similar
        descriptor(tpsa, max_gaussian(100, 10)),
        descriptor(logp, min_gaussian(1, 1)),
    ),
    "perindopril_mpo": lambda: geometric(
        similarity(PERINDOPRIL, "ECFP4"),
        descriptor(rdMolDescriptors.CalcNumAromaticRings, gaussian_mod(2, 0.5)),
    ),
    "qed": lambda: Descriptors.qed,
    "ranolazine_mpo": lambda: geometric(
        similarity(RANOLAZINE, "AP", clipped(0.7)),
        descriptor(logp, max_gaussian(7, 1)),
        descriptor(element_count("F"), gaussian_mod(1, 1.0)),
        descriptor(tpsa, max_gaussian(95, 20)),
    ),
    "scaffold_hop": lambda: arithmetic(
        similarity(HOP_START, "PHCO", clipped(0.75)),
        smarts("[#6]-[#6]-[#6]-[#8]-[#6]~[#6]~[#6]~[#6]~[#6]-[#7]-c1ccc2ncsc2c1"),  # keep the decoration
        smarts(HOP_SCAFFOLD, present=False),  # ... on another scaffold
    ),
    "thiothixene_rediscovery": lambda: similarity(THIOTHIXENE, "ECFP4"),
    "troglitazone_rediscovery": lambda: similarity(TROGLITAZONE, "ECFP4"),
    "valsartan_smarts": _valsartan_smarts,
    **_isomer_tasks(isomer_published),
    **{task + CORRECTED_SUFFIX: build for task, build in _isomer_tasks(isomer).items()},
}


# --- DRD2, GSK3B, JNK3: TDC's scikit-learn models, shipped in the molscore wheel ----------------

# The "_current" pickles (scikit-learn 0.23) are the ones TDC loads for scikit-learn >= 0.24.
_MODEL_FILES = {"drd2": "drd2_current.pkl", "gsk3b": "gsk3b_current.pkl", "jnk3": "jnk3_current.pkl"}


def models_installed() -> bool:
    """Whether scikit-learn and molscore (the ``pmo-models`` extra) are installed; imports neither."""
    return all(importlib.util.find_spec(name) is not None for name in ("sklearn", "molscore"))


def _model_path(task: str) -> Path:
    # Found without importing molscore, whose __init__ pulls in its many dependencies.
    spec = importlib.util.find_spec("molscore")
    if spec is None or not spec.submodule_search_locations:
        raise ChemloopError(f"PMO task {task!r} needs molscore's models: {MODELS_EXTRA}")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "models" / "molopt"
    path = path / _MODEL_FILES[task]
    if not path.is_file():
        raise ChemloopError(f"PMO task {task!r}: {path} is missing; install molscore==1.9.5 ({MODELS_EXTRA})")
    return path


class _Pickled:
    """The attributes of a pickled scikit-learn 0.23 forest, tree or tree structure.

    Today's scikit-learn refuses those trees (their node records lack a field added in 1.3), and
    since 1.4 it reads leaf values as class fractions where 0.23 stored counts. So the forests
    are read as plain data and evaluated by :func:`_forest_proba`, as scikit-learn 0.23 did.
    """

    def __init__(self, *args: Any) -> None:
        self.args = args


class _ModelUnpickler(pickle.Unpickler):
    """Unpickles only what the three model files hold: numpy arrays and the model classes."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in {("numpy", "ndarray"), ("numpy", "dtype")}:
            return getattr(np, name)
        if module == "numpy.core.multiarray" and name in ("_reconstruct", "scalar"):
            try:  # numpy 2 moved numpy.core to numpy._core
                from numpy._core import multiarray
            except ImportError:  # pragma: no cover - numpy 1
                from numpy.core import multiarray
            return getattr(multiarray, name)
        if (module, name) == ("sklearn.svm._classes", "SVC"):
            from sklearn.svm import SVC

            return SVC
        if (module, name) in {
            ("sklearn.ensemble._forest", "RandomForestClassifier"),
            ("sklearn.tree._classes", "DecisionTreeClassifier"),
            ("sklearn.tree._tree", "Tree"),
        }:
            return _Pickled
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a PMO model file")


def _load_model(task: str) -> Any:
    with _model_path(task).open("rb") as f, warnings.catch_warnings():
        # scikit-learn warns that the SVC was pickled by 0.23; TDC uses it the same way.
        warnings.simplefilter("ignore")
        return _ModelUnpickler(f).load()


def _forest_proba(forest: _Pickled, features: np.ndarray) -> np.ndarray:
    """P(class 1) of a pickled random forest: the mean over trees of the leaf's class fractions."""
    x = features.astype(np.float32)  # scikit-learn compares float32 features with the thresholds
    rows = np.arange(len(x))
    total = np.zeros(len(x))
    for estimator in forest.estimators_:
        nodes, values = estimator.tree_.nodes, estimator.tree_.values[:, 0, :]
        at = np.zeros(len(x), dtype=np.intp)
        while True:
            left = nodes["left_child"][at]
            inner = left != -1
            if not inner.any():
                break
            go_left = x[rows, nodes["feature"][at]] <= nodes["threshold"][at]
            at = np.where(inner, np.where(go_left, left, nodes["right_child"][at]), at)
        leaf = values[at]
        sums = leaf.sum(axis=1)
        total += leaf[:, 1] / np.where(sums == 0, 1.0, sums)
    return total / len(forest.estimators_)


def _model_oracle(task: str) -> Oracle:
    model = _load_model(task)
    if task == "drd2":
        # FCFP6 counts folded onto 2048 slots by index modulo 2048 (TDC's fingerprints_from_mol).
        generator = rdFingerprintGenerator.GetMorganGenerator(
            radius=3, fpSize=2048, atomInvariantsGenerator=rdFingerprintGenerator.GetMorganFeatureAtomInvGen()
        )
        featurize, predict = generator.GetCountFingerprintAsNumPy, lambda x: model.predict_proba(x)[:, 1]
    else:
        # ECFP4 as a 2048-bit vector (TDC's gsk3b and jnk3).
        generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
        featurize, predict = generator.GetFingerprintAsNumPy, lambda x: _forest_proba(model, x)

    def score(mols: Sequence[Chem.Mol]) -> list[float]:
        if not mols:
            return []
        features = np.stack([featurize(m) for m in mols]).astype(np.float64)
        return [float(p) for p in predict(features)]

    return score


# --- public API ---------------------------------------------------------------------------------


def available_tasks() -> list[str]:
    """The tasks whose oracle can run here (DRD2, GSK3B, JNK3 only with the pmo-models extra)."""
    models = models_installed()
    return [task for task in PMO_TASKS if models or task not in MODEL_TASKS]


@cache
def _build(task: str) -> Oracle:
    if task in MODEL_TASKS:
        return _model_oracle(task)
    term = _TASKS[task]()
    return lambda mols: [float(term(m)) for m in mols]


def oracle(task: str) -> Oracle:
    """The oracle of PMO task ``task``: RDKit molecules in, one score in [0, 1] each out.

    ``task`` is one of :data:`PMO_TASKS` or of :data:`CORRECTED_TASKS`. Built once per task
    (reference fingerprints, models); DRD2, GSK3B and JNK3 raise :class:`ChemloopError` here
    when the ``pmo-models`` extra is not installed.
    """
    check_task(task)
    return _build(task)


def published_task(task: str) -> str:
    """The published PMO task that ``task`` scores: ``zaleplon_mpo_corrected`` gives ``zaleplon_mpo``."""
    return task.removesuffix(CORRECTED_SUFFIX) if task in CORRECTED_TASKS else task


def check_task(task: str) -> None:
    """Raise :class:`ChemloopError` unless ``task`` is a PMO task whose oracle can run here."""
    if task not in PMO_TASKS and task not in CORRECTED_TASKS:
        raise ChemloopError(
            f"unknown PMO task {task!r}; choose one of: {', '.join(PMO_TASKS)}; "
            f"or, with the corrected isomer count: {', '.join(CORRECTED_TASKS)}"
        )
    if task in MODEL_TASKS and not models_installed():
        raise ChemloopError(f"PMO task {task!r} needs scikit-learn and molscore's models: {MODELS_EXTRA}")
