"""Molecule tools shared by every face of chemloop (CLI, HTTP API, web app, MCP server):
properties with structural alerts, depictions, the catalogue of scoring components, sampling
(with or without a prompt)."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rdkit import Chem
from rdkit.Chem import rdMolDescriptors

from chemloop.chem.alerts import structural_alerts
from chemloop.chem.depict import svg as depiction
from chemloop.chem.descriptors import descriptor_values
from chemloop.chem.guard import is_withheld
from chemloop.chem.mol import InvalidSmilesError, to_mol
from chemloop.chem.prompts import Prompt, PromptError, PromptKind
from chemloop.chem.user_input import WITHHELD_PROBLEM
from chemloop.errors import ChemloopError
from chemloop.model import checkpoint
from chemloop.model.checkpoint import LanguageModel
from chemloop.model.device import pick_device
from chemloop.model.generate import sample
from chemloop.model.prompting import prepare_prompt, sample_with_prompt
from chemloop.score.registry import available_components
from chemloop.score.transforms import TRANSFORMS
from chemloop.services import schemas
from chemloop.services.compute import Run, call_here
from chemloop.services.errors import FieldError, Loc, check_at_most
from chemloop.services.scoring import invalid_smiles
from chemloop.services.workspace import Workspace


def _shown_molecule(smiles: str) -> Chem.Mol:
    """The molecule of ``smiles``, unless the dual-use guard withholds it (then a named refusal)."""
    mol = to_mol(smiles)
    if is_withheld(mol):
        raise ChemloopError(f"this molecule {WITHHELD_PROBLEM}")
    return mol


def properties(smiles: str) -> dict[str, Any]:
    """The properties a medicinal chemist looks at first, with the molecule's alerts."""
    mol = _shown_molecule(smiles)
    return {
        "smiles": smiles,
        "canonical": Chem.MolToSmiles(mol),
        "formula": rdMolDescriptors.CalcMolFormula(mol),
        **descriptor_values(mol),
        "alerts": structural_alerts(mol),
    }


def depict_svg(smiles: str, width: int = 300, height: int = 220) -> str:
    """An SVG drawing of the molecule, laid out and labelled by :mod:`chemloop.chem.depict`."""
    if not (50 <= width <= 2000 and 50 <= height <= 2000):
        raise ChemloopError(f"depiction size {width}x{height} is outside 50..2000 pixels")
    return depiction(_shown_molecule(smiles), width, height)


def properties_of_each(smiles: Sequence[str]) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    """Properties of every valid SMILES, and (index, SMILES) of the invalid ones."""
    rows, bad = [], []
    for i, s in enumerate(smiles):
        try:
            rows.append(properties(s))
        except InvalidSmilesError:
            bad.append((i, s))
    return rows, bad


def properties_request(
    request: schemas.PropertiesRequest, max_molecules: int, run: Run = call_here
) -> list[dict[str, Any]]:
    """Properties of each molecule of a request, in order (through ``run``: the server's worker
    processes); an invalid SMILES fails the request, named by its index."""
    check_at_most(("body", "smiles"), len(request.smiles), max_molecules, "molecules")
    rows, bad = run(properties_of_each, request.smiles)
    if bad:
        raise invalid_smiles(("body", "smiles"), bad)
    return rows


def components_catalogue() -> dict[str, Any]:
    """The scoring components a request may name, with descriptions, and the transforms it may apply."""
    return {
        "components": [{"name": n, "description": d} for n, d in available_components().items()],
        "transforms": sorted(TRANSFORMS),
    }


def checked_prompt(lm: LanguageModel, prompt: schemas.PromptIn, loc: Loc = ("body", "prompt")) -> Prompt:
    """The request's prompt, checked against ``lm`` before any sampling; a refusal names the field."""
    if prompt.scaffold:
        return checked_prompt_text(lm, prompt.scaffold, "decorate", (*loc, "scaffold"))
    return checked_prompt_text(lm, str(prompt.link), "link", (*loc, "link"))


def checked_prompt_text(lm: LanguageModel, text: str, kind: PromptKind, loc: Loc) -> Prompt:
    """``text`` as a prompt of ``kind`` that ``lm`` can write; a refusal names ``loc``."""
    try:
        return prepare_prompt(lm, text, kind)
    except PromptError as err:
        raise FieldError(loc, text, str(err), kind="invalid_prompt") from None


def sample_molecules(
    workspace: Workspace, request: schemas.SampleRequest, max_samples: int, run: Run | None = None
) -> schemas.SampleResponse:
    """Sample from the workspace's model, one sampling run at a time (the same seed gives the same
    strings), continuing the request's prompt if it has one. The answer names the model by its
    name, never by a server path.

    With ``run`` (the server's worker processes) the sampling happens there, bounded in time and
    memory like scoring: a prompted request that keeps drawing repeats cannot hold a core beyond the
    server's limit. The prompt is checked here first, so a bad one is refused before any work.
    """
    check_at_most(("body", "num"), request.num, max_samples, "molecules")
    with workspace.sampling:
        if run is None:
            return sample_from_model(workspace.model(), workspace.model_name, request)
        if request.prompt is not None:
            checked_prompt(workspace.model(), request.prompt)
        return run(sample_in_worker, workspace.model_name, request)


@functools.lru_cache(maxsize=1)
def _worker_model(model_name: str) -> LanguageModel:
    """The model a worker process samples from, loaded by its first sampling request."""
    return checkpoint.load(model_name, pick_device("auto"))


def sample_in_worker(model_name: str, request: schemas.SampleRequest) -> schemas.SampleResponse:
    """:func:`sample_from_model` in a compute worker, with the model that worker keeps loaded."""
    return sample_from_model(_worker_model(model_name), model_name, request)


def sample_from_model(
    lm: LanguageModel, model_name: str, request: schemas.SampleRequest
) -> schemas.SampleResponse:
    """The request's molecules sampled from ``lm`` (named ``model_name`` in the answer)."""
    start = time.perf_counter()
    options = {
        "seed": request.seed,
        "temperature": request.temperature,
        "top_k": request.top_k,
        "top_p": request.top_p,
    }
    if request.prompt is None:
        report = sample(lm, request.num, **options)
    else:
        prompt = checked_prompt(lm, request.prompt)
        report = sample_with_prompt(lm, prompt, request.num, unique=request.prompt.unique, **options)
    return schemas.SampleResponse(
        model=Path(model_name).name,
        molecules=[{**m.__dict__, "nll": None if math.isnan(m.nll) else m.nll} for m in report.molecules],
        validity=report.validity,
        uniqueness=report.uniqueness,
        seconds=round(time.perf_counter() - start, 3),
        prompt=None if report.prompt is None else report.prompt.smiles,
        contains_prompt=report.contains_prompt,
        withheld=report.withheld,
        repeats=report.repeats,
    )
