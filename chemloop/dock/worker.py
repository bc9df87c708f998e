"""One docking in this process, with dockstring: a JSON job on stdin, a JSON result on stdout.

Run as ``python -m chemloop.dock.worker`` by :func:`chemloop.dock.call.dock_prepared`, which
kills this process's whole group (Open Babel and Vina included) when it runs past its timeout.
dockstring prepares the ligand (canonical SMILES, uncharge, Open Babel protonation at pH 7.4,
ETKDG embedding, MMFF94 refinement, Gasteiger charges) and runs its bundled AutoDock Vina 1.1.2.

Job keys: smiles, receptor_pdbqt (text), vina_config (box + exhaustiveness), seed, cpus.
Result keys: score (kcal/mol, best pose), pose_sdf (every pose, best first), error.
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

# dockstring raises these before Vina runs: the molecule itself cannot be prepared.
_PREPARATION_ERRORS = (
    "CanonicalizationError",
    "ParsingError",
    "SanityError",
    "ProtonationError",
    "EmbeddingError",
    "StructureOptimizationError",
    "OutputError",
)


def poses_sdf(ligand: Any, affinities: list[float], smiles: str, target: str) -> str:
    """Every docked pose of ``ligand`` (one conformer each) as SDF text, best first."""
    from rdkit import Chem

    out = io.StringIO()
    writer = Chem.SDWriter(out)
    for rank, (conformer, affinity) in enumerate(zip(ligand.GetConformers(), affinities, strict=True), 1):
        ligand.SetProp("_Name", smiles)
        ligand.SetProp("target", target)
        ligand.SetIntProp("pose", rank)
        ligand.SetProp("vina_score", f"{affinity:g}")  # kcal/mol, as Vina prints it
        writer.write(ligand, confId=conformer.GetId())
    writer.close()
    return out.getvalue()


def dock_here(job: dict[str, Any]) -> dict[str, Any]:
    """Prepare and dock ``job['smiles']``; failures come back as ``error`` naming the SMILES."""
    import dockstring
    from dockstring.target import Target

    smiles = job["smiles"]
    with tempfile.TemporaryDirectory(prefix="chemloop-dock-") as tmp:
        folder = Path(tmp)
        # dockstring's Target reads <name>_target.pdbqt and <name>_conf.txt from a folder of targets.
        (folder / "job_target.pdbqt").write_text(job["receptor_pdbqt"])
        (folder / "job_conf.txt").write_text(job["vina_config"])
        target = Target("job", working_dir=folder, targets_dir=folder)
        try:
            score, aux = target.dock(smiles, num_cpus=job["cpus"], seed=job["seed"])
        except dockstring.DockstringError as err:
            kind = type(err).__name__
            stage = "preparation" if kind in _PREPARATION_ERRORS else "docking"
            return {"error": f"{stage} of {smiles!r} failed: {kind}: {str(err)[:300]}"}
        except Exception as err:  # RDKit or Open Babel failing in a way dockstring does not wrap
            return {"error": f"docking of {smiles!r} failed: {type(err).__name__}: {str(err)[:300]}"}
    if score is None:
        return {"error": f"Vina found no pose for {smiles!r} in the box"}
    sdf = poses_sdf(aux["ligand"], aux["affinities"], smiles, job.get("target", ""))
    return {"score": float(score), "pose_sdf": sdf}


def main() -> None:
    job = json.loads(sys.stdin.read())
    result = dock_here(job)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
