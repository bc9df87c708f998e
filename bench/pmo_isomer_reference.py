"""TDC's own isomer scores, published and corrected, as a test fixture for chemloop's PMO oracles.

PMO (Gao et al. 2022) scored its isomer terms with TDC 0.3.6's ``Isomer_scoring``, whose
total-atom count is parsed from the SMILES string; TDC 0.3.7 corrected it and kept the old one
as ``Isomer_scoring_prev``. This scores a fixed set of molecules (MOSES test molecules plus
hand-written ones: aromatic, charged, halogenated, with P, with multi-digit ring closures, and
isomers of the target formulas) with both, for the four formulas of the PMO isomer terms, and
zaleplon_mpo and sitagliptin_mpo in full, and writes them to ``tests/data/pmo_isomer_reference.json``.
As mol_opt (PMO's harness) does, TDC is handed each molecule's RDKit canonical SMILES.

It runs in an environment with ``pytdc`` (not a chemloop dependency) and RDKit, numpy, scipy,
networkx, setuptools and scikit-learn (TDC's oracle module reads its version on import); keep
RDKit at chemloop's version, since the published score depends on the canonical SMILES RDKit
writes. TDC's oracle module is loaded by file, without ``tdc/__init__.py`` (which imports TDC's
data-loading stack), and ``rdkit.six``, gone from RDKit, is shimmed. On these molecules TDC
1.1.15's ``*_prev`` scores equal those of TDC 0.3.6's own ``Isomer_scoring`` and ``zaleplon_mpo``.

    python -m venv /tmp/tdcenv
    /tmp/tdcenv/bin/pip install rdkit==<chemloop's> scipy numpy networkx setuptools scikit-learn
    /tmp/tdcenv/bin/pip install --no-deps pytdc==1.1.15
    /tmp/tdcenv/bin/python bench/pmo_isomer_reference.py \\
        --moses .venv/lib/python3.11/site-packages/moses/dataset/data/test.csv.gz
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib
import importlib.metadata
import importlib.util
import json
import sys
import types
from pathlib import Path

# Formula of each PMO isomer term, by the task that uses it.
FORMULAS = {
    "isomers_c7h8n2o2": "C7H8N2O2",
    "isomers_c9h10n2o2pf2cl": "C9H10N2O2PF2Cl",
    "zaleplon_mpo": "C19H17N3O2",
    "sitagliptin_mpo": "C16H15F6N5O",
}

HAND_WRITTEN = [
    # isomers of C7H8N2O2, aromatic and not, some written in Kekulé form
    "Cc1ccc([N+](=O)[O-])cc1N",
    "CC1=C(N)C=C([N+]([O-])=O)C=C1",
    "NC(=O)c1ccc(N)cc1O",
    "NC(=O)C1=CC=C(N)C(O)=C1",
    "Nc1ccc(C(=O)O)cc1N",
    "NNC(=O)c1ccc(O)cc1",
    "Nc1ccccc1C(=O)NO",
    "NC(=O)NC(=O)C1=CCC=C1",
    "CC(=O)NC(=O)C1=CC=CN1",
    "NC1=NC(=O)C2(CC2)C(=O)C1",
    # near C7H8N2O2
    "Cc1ccc([N+](=O)[O-])cc1",
    "Cc1ccccc1",
    "C=CC(=O)NC(=O)C(C)=CN",
    "C=CCOC(=O)C(N)C#N",
    # C9H10N2O2PF2Cl isomers and near ones
    "CCC(=O)Nc1ccc(Cl)cc1NP(=O)(F)F",
    "CCC(=O)NC1=CC=C(Cl)C=C1NP(=O)(F)F",
    "CCOP(=O)(F)F",
    "O=P(O)(O)c1ccc(Cl)cc1",
    # zaleplon, and isomers of C19H17N3O2
    "O=C(C)N(CC)C1=CC=CC(C2=CC=NC3=C(C=NN23)C#N)=C1",
    "NC(=O)c1ccc(Oc2ccc(NCc3ccccn3)cc2)cc1",
    "O=C(NCc1cccnc1)c1ccc(NC(=O)c2ccccc2)cc1",
    # sitagliptin (C16H15F6N5O), two writings
    "Fc1cc(c(F)cc1F)CC(N)CC(=O)N3Cc2nnc(n2CC3)C(F)(F)F",
    "NC(CC(=O)N1CCn2c(nnc2C(F)(F)F)C1)Cc1cc(F)c(F)cc1F",
    # charged atoms
    "[NH3+]CC(=O)[O-]",
    "C[N+](C)(C)CC(=O)[O-]",
    "[O-][n+]1ccccc1",
    "CC(=O)[O-].[Na+]",
    "C[n+]1ccn(C)c1.[Cl-]",
    "O=[N+]([O-])c1ccc(Cl)cc1",
    # halogens and phosphorus
    "ClC(Cl)(Cl)Cl",
    "FC(F)(F)c1ccccc1",
    "CCOP(=O)(OCC)SCCN",
    "OP(=O)(O)F",
    "Clc1ccc(Cl)cc1",
    "BrCCBr",
    "ICI",
    "CP(C)(C)=O",
    "FC(F)(Cl)C(F)(F)Cl",
    # multi-digit ring closures: kept in the canonical SMILES of cages, gone from small rings
    "C12C3C4C5C1C1C6C7C2C2C8C3C3C9C4C4C%10C5C1C1C6C6C%11C7C2C2C7C8C3C3C8C9C4C4C9C%10C1C1C6C6C%11C2C2C7C3C3C8C4C4C9C1C1C6C2C3C41",
    "c12c3c4c5c1c1c6c7c2c2c8c3c3c9c4c4c%10c5c5c1c1c6c6c%11c7c2c2c7c8c3c3c8c9c4c4c9c%10c5c5c1c1c6c6c%11c2c2c7c3c3c8c4c4c9c5c1c1c6c2c3c41",
    "C%10CCCCC%10",
    "c1ccc%10ccccc%10c1",
    "C%12CC%13CCC%12C%13",
    # ring-closure digits right after upper-case atoms, stereo and bracket hydrogens
    "C1C2CC3CC1CC(C2)C3",
    "C12C3C4C5C1C1C2C3C451",
    "[C@@H]12CC[C@@H](CC1)C2",
    "C[C@@H](N)C(=O)O",
    "N[C@@H](Cc1c[nH]c2ccccc12)C(=O)O",
    "c1cc[nH]c1",
    # explicit and isotopic hydrogens, isotopes
    "[H]C([H])([H])O",
    "[2H]C([2H])([2H])O",
    "[13CH3]C(=O)O",
    # other elements
    "C[Si](C)(C)C",
    "OB(O)c1ccccc1",
    "C[Se]C",
    "CS(=O)(=O)N",
    # far from every formula (a Gaussian may underflow to 0)
    "C" * 60,
    "CCO",
    "C",
    "O",
]


def load_tdc_oracle_module() -> types.ModuleType:
    """``tdc.chem_utils.oracle.oracle`` of the installed pytdc, loaded without TDC's package imports."""
    import rdkit

    six = types.ModuleType("rdkit.six")  # RDKit dropped its Python 2 compatibility module
    six.iteritems = lambda mapping: iter(mapping.items())
    sys.modules["rdkit.six"] = six
    rdkit.six = six

    spec = importlib.util.find_spec("tdc")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pytdc is not installed here: pip install --no-deps pytdc")
    root = Path(next(iter(spec.submodule_search_locations)))
    for name, folder in [("tdc", root), ("tdc.chem_utils", root / "chem_utils")]:
        package = types.ModuleType(name)
        package.__path__ = [str(folder)]
        sys.modules[name] = package
    package = types.ModuleType("tdc.chem_utils.oracle")
    package.__path__ = [str(root / "chem_utils" / "oracle")]
    sys.modules[package.__name__] = package

    def unused(*args, **kwargs):
        raise RuntimeError("TDC's download helpers are not available here")

    utils = types.ModuleType("tdc.utils")  # the oracle module imports these, the isomer code uses none
    utils.oracle_load = utils.print_sys = utils.install = unused
    sys.modules["tdc.utils"] = utils
    return importlib.import_module("tdc.chem_utils.oracle.oracle")


def moses_sample(path: Path, count: int) -> list[str]:
    with gzip.open(path, "rt", newline="") as f:
        rows = [row["SMILES"] for row in csv.DictReader(f)]
    step = len(rows) // count
    return rows[::step][:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moses", type=Path, required=True, help="MOSES test.csv.gz (molsets' data folder)")
    parser.add_argument("--moses-count", type=int, default=220, help="MOSES molecules, evenly spaced")
    parser.add_argument("--output", type=Path, default=Path("tests/data/pmo_isomer_reference.json"))
    args = parser.parse_args()

    import rdkit
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    oracle = load_tdc_oracle_module()
    published = {task: oracle.isomer_meta_prev(formula) for task, formula in FORMULAS.items()}
    corrected = {task: oracle.isomer_meta(formula) for task, formula in FORMULAS.items()}

    def task_scores(name: str, canonical: list[str]) -> list[float]:
        # The *_prev and corrected task functions share module globals set on first call, so
        # each set of calls starts from a fresh initialisation.
        for key in ("zaleplon_fp", "sitagliptin_fp_ecfp4"):
            vars(oracle).pop(key, None)
        function = getattr(oracle, name)
        return [float(function(s)) for s in canonical]

    smiles = HAND_WRITTEN + moses_sample(args.moses, args.moses_count)
    canonical = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in smiles]
    full = {
        task: (task_scores(f"{task}_prev", canonical), task_scores(task, canonical))
        for task in ("zaleplon_mpo", "sitagliptin_mpo")
    }
    molecules = []
    for i, (written, canon) in enumerate(zip(smiles, canonical, strict=True)):
        isomer = {task: [float(published[task](canon)), float(corrected[task](canon))] for task in FORMULAS}
        tasks = {task: [pair[0][i], pair[1][i]] for task, pair in full.items()}
        molecules.append({"smiles": written, "canonical": canon, "isomer": isomer, "task": tasks})

    result = {
        "tdc_version": importlib.metadata.version("pytdc"),
        "rdkit_version": rdkit.__version__,
        "source": "tdc/chem_utils/oracle/oracle.py: isomer_meta_prev (published, TDC 0.3.6's "
        "Isomer_scoring) and isomer_meta (corrected); zaleplon_mpo_prev/zaleplon_mpo and "
        "sitagliptin_mpo_prev/sitagliptin_mpo",
        "scored_string": "canonical: RDKit's canonical SMILES of smiles, as mol_opt hands TDC",
        "pairs": "[published, corrected]",
        "formulas": FORMULAS,
        "molecules": molecules,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    header = json.dumps(result, indent=1).rpartition('"molecules": [')[0]
    rows = ",\n".join("  " + json.dumps(m) for m in molecules)  # one molecule a line
    args.output.write_text(f'{header}"molecules": [\n{rows}\n ]\n}}\n')
    differ = sum(m["isomer"][t][0] != m["isomer"][t][1] for m in molecules for t in FORMULAS)
    print(f"wrote {args.output}: {len(molecules)} molecules, {differ} isomer scores where the forms differ")


if __name__ == "__main__":
    main()
