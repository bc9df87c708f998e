"""Design-make-test campaigns for every face: create, read, propose, import results, record feedback.

The operations take data, not paths: a results file arrives as its bytes and the name its client
gave it (so an error names the file as the chemist knows it), seed values as rows. Each calls
:mod:`chemloop.loop.campaign` or :mod:`chemloop.loop.results`, which store what they are given in
one transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chemloop.chem.mol import InvalidSmilesError
from chemloop.config_files import validate
from chemloop.dock.poses import pose_path
from chemloop.errors import ChemloopError
from chemloop.jobs import Job
from chemloop.loop import campaign as loop_campaign
from chemloop.loop import results as loop_results
from chemloop.loop.campaign import Proposed
from chemloop.loop.config import CampaignConfig
from chemloop.loop.review import next_pair
from chemloop.loop.store import UnknownCampaignError, check_campaign_name
from chemloop.reward.data import CsvTable, FeedbackError, csv_table
from chemloop.services import schemas
from chemloop.services.errors import FieldError, check_at_most, problem
from chemloop.services.jobs import job_out
from chemloop.services.scoring import request_score_config
from chemloop.services.settings import ServeSettings
from chemloop.services.workspace import Workspace

NOT_PROPOSED = "the campaign never proposed this molecule; set external to import it"
PREVIEW_ROWS = 20  # rows of a dry run's answer (its problems are listed for every row)

# --- reading ------------------------------------------------------------------------------------


def exists(workspace: Workspace, name: str) -> bool:
    try:
        loop_campaign.require_campaign(workspace.factory, name)
    except UnknownCampaignError:
        return False
    return True


def require(workspace: Workspace, name: str) -> None:
    """Raise :class:`UnknownCampaignError` naming ``name`` unless the campaign exists."""
    loop_campaign.require_campaign(workspace.factory, name)


def list_all(workspace: Workspace) -> list[dict[str, Any]]:
    """Every campaign by name, with its rounds proposed and molecules tested."""
    return loop_campaign.list_campaigns(workspace.factory)


def status(workspace: Workspace, name: str) -> dict[str, Any]:
    """Rounds, molecules tested, best value per round, feedback counts and the reward model's quality."""
    return loop_campaign.status(workspace.factory, name)


def molecules(workspace: Workspace, name: str) -> list[dict[str, Any]]:
    """Every molecule the campaign proposed or measured, with its prediction and measured value."""
    return loop_campaign.molecules(workspace.factory, name)


def molecule(workspace: Workspace, name: str, key: str) -> dict[str, Any] | None:
    """One molecule of the campaign by its key (None if it has none with that key)."""
    return next((m for m in molecules(workspace, name) if m["key"] == key), None)


def docking_poses(workspace: Workspace, name: str, smiles: str) -> dict[str, Path | None]:
    """Every docking target of the campaign's server-side config that keeps poses, with the pose file
    of ``smiles`` (None: not docked yet). Files are found from the config and the molecule, never
    from a path a request names."""
    config = loop_campaign.stored_config(workspace.factory, name)
    poses: dict[str, Path | None] = {}
    for component in config.score.components if config.score else []:
        params = component.params
        if component.type != "vina" or not params.get("poses_dir"):
            continue
        if params.get("target"):
            target = str(params["target"]).upper()  # dockstring names are upper case
        elif params.get("receptor"):
            target = Path(str(params["receptor"])).stem
        else:
            continue
        file = pose_path(Path(str(params["poses_dir"])), target, smiles)
        poses[target] = file if file.is_file() else None
    return poses


def review_pair(workspace: Workspace, name: str, skipped=()) -> tuple[dict, dict] | None:
    """The next two molecules for a chemist to compare (None: every pair is done)."""
    return next_pair(workspace.factory, name, skipped)


def propose_jobs(workspace: Workspace, name: str) -> list[Job]:
    """The campaign's propose jobs, newest first."""
    return [j for j in workspace.jobs.list() if j.kind == "propose" and j.params.get("campaign") == name]


# --- creating -----------------------------------------------------------------------------------


def campaign_config(request: schemas.CampaignCreate, settings: ServeSettings) -> CampaignConfig:
    """The config of a campaign a client asks for: the server's model, sizes within its limits,
    components without plugins or paths."""
    section = request.campaign.overrides()
    if "candidates" in section:
        check_at_most(
            ("body", "campaign", "candidates"), section["candidates"], settings.max_samples, "molecules"
        )
    data: dict[str, Any] = {
        "campaign": {**section, "model": settings.model},
        "reward": request.reward.overrides(),
    }
    if request.score is not None:
        data["score"] = request_score_config(request.score, ("body", "score", "components")).model_dump()
    try:
        return validate(CampaignConfig, data, "campaign config")
    except ChemloopError as err:
        raise FieldError(("body",), None, str(err)) from None


def config_from_tables(name: str, data: dict[str, Any], settings: ServeSettings) -> CampaignConfig:
    """The config of a campaign given as TOML tables (a page's config box), checked exactly as
    :func:`campaign_config` checks a JSON request."""
    extra = sorted(set(data) - {"campaign", "reward", "score"})
    if extra:
        raise ChemloopError(f"unknown config table {extra[0]!r}; use [campaign], [reward] and [score]")
    try:
        request = schemas.CampaignCreate.model_validate({**data, "name": name})
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ChemloopError(f"invalid campaign config: {problems}") from None
    return campaign_config(request, settings)


def create(
    workspace: Workspace, name: str, config: CampaignConfig, seed: CsvTable | None = None
) -> dict[str, Any]:
    """Create campaign ``name``; ``seed`` results (every row checked before anything is stored)
    become round 0 and fit its first reward model. Returns its status."""
    check_campaign_name(name)  # before anything is read
    rows = loop_results.read_results(seed) if seed is not None else None
    loop_campaign.init_campaign(workspace.factory, name, config, seed=rows)
    return status(workspace, name)


def create_from_request(
    workspace: Workspace, request: schemas.CampaignCreate, settings: ServeSettings
) -> dict[str, Any]:
    """Create a campaign from a JSON request: its seed rows are refused by index, its name if taken."""
    if exists(workspace, request.name):
        raise FieldError(
            ("body", "name"), request.name, f"campaign {request.name!r} already exists", kind="exists"
        )
    config = campaign_config(request, settings)
    try:
        return create(workspace, request.name, config, _seed_table(request.seed) if request.seed else None)
    except FeedbackError as err:
        raise _seed_problems(err, request.seed) from None


def _seed_table(seed: list[schemas.SeedRow]) -> CsvTable:
    with_std = [r.std is not None for r in seed]
    if any(with_std) and not all(with_std):
        i = with_std.index(False)
        raise FieldError(("body", "seed", i, "std"), None, "give a std for every seed row or for none")
    header = ["smiles", "value", "std"] if any(with_std) else ["smiles", "value"]
    lines = [[r.smiles, repr(r.value), *([repr(r.std)] if r.std is not None else [])] for r in seed]
    return CsvTable("seed", header, lines)


def _seed_problems(err: FeedbackError, seed: list[schemas.SeedRow]) -> FieldError:
    """Row numbers of the seed table (header = row 1) back to indices of the request's ``seed`` list."""
    found = [
        problem(
            ("body", "seed", row - 2), message, seed[row - 2].smiles if 0 <= row - 2 < len(seed) else None
        )
        for row, message in err.problems
    ] or [problem(("body", "seed"), str(err))]
    first = found[0]
    return FieldError(tuple(first["loc"]), first["input"], first["msg"], also=found[1:])


# --- proposing ----------------------------------------------------------------------------------


def start_propose(workspace: Workspace, name: str, batch: int | None = None) -> schemas.JobOut:
    """Queue a propose round as a background job (one at a time per campaign); once it is done its
    ``proposals.csv`` holds the picks. An unknown campaign fails now, not later inside the job."""
    require(workspace, name)
    return job_out(workspace.jobs.start_propose(workspace.db_url, name, batch))


def propose(
    workspace: Workspace, name: str, batch: int | None = None, output: Path | None = None
) -> Proposed:
    """Propose the next round in this process (the command line waits for it)."""
    return loop_campaign.propose(workspace.factory, name, batch=batch, output=output)


# --- results and feedback -----------------------------------------------------------------------


def preview_results(
    workspace: Workspace, name: str, data: bytes, filename: str, external: bool = False
) -> dict[str, Any]:
    """What importing ``data`` would store, storing nothing: ``kind``, the parsed ``rows``, every
    bad row (``problems``: (row, message)), the rows naming a molecule the campaign never proposed
    (``unproposed``: (row, SMILES)), a ``file_error`` for a file that cannot be read at all, and
    ``ok``: whether the import would succeed (with ``external``, unproposed molecules are accepted)."""
    require(workspace, name)
    found: dict[str, Any] = {"ok": False, "kind": None, "rows": [], "problems": [], "unproposed": []}
    try:
        results = loop_results.read_results(csv_table(data, filename))
    except FeedbackError as err:
        return found | {"problems": err.problems, "file_error": None if err.problems else str(err)}
    except ChemloopError as err:
        return found | {"file_error": str(err)}
    unproposed = loop_results.unproposed_rows(workspace.factory, name, results)
    return found | {
        "ok": external or not unproposed,
        "kind": results.kind,
        "rows": results.rows,
        "unproposed": unproposed,
        "file_error": None,
    }


def import_results(
    workspace: Workspace, name: str, data: bytes, filename: str, external: bool = False
) -> dict[str, Any]:
    """Store results (values, preferences or ratings) and refit the reward model. Every bad row, and
    every molecule the campaign never proposed (unless ``external``), fails the import by row."""
    require(workspace, name)
    results = loop_results.read_results(csv_table(data, filename))
    unproposed = [] if external else loop_results.unproposed_rows(workspace.factory, name, results)
    if unproposed:
        (row, smiles), rest = unproposed[0], unproposed[1:]
        also = [problem(("body", "file", f"row {r}"), NOT_PROPOSED, s, "not_proposed") for r, s in rest]
        raise FieldError(("body", "file", f"row {row}"), smiles, NOT_PROPOSED, kind="not_proposed", also=also)
    return loop_results.import_results(workspace.factory, name, results, external=external)


def import_file(workspace: Workspace, name: str, path: Path, external: bool = False) -> dict[str, Any]:
    """Store a results file from the user's own disk (the command line), named by its path."""
    return loop_results.import_results(workspace.factory, name, path, external=external)


def record_preference(
    workspace: Workspace, name: str, smiles_a: str, smiles_b: str, preferred: str
) -> dict[str, Any]:
    """Store a chemist's choice between two molecules; the next reward-model fit uses it."""
    try:
        return loop_campaign.record_preference(workspace.factory, name, smiles_a, smiles_b, preferred)
    except InvalidSmilesError as err:
        raise _invalid_smiles(err, {"smiles_a": smiles_a, "smiles_b": smiles_b}) from None


def record_rating(workspace: Workspace, name: str, smiles: str, rating: int) -> dict[str, Any]:
    """Store a chemist's 1–5 rating of a molecule; the next reward-model fit uses it."""
    try:
        return loop_campaign.record_rating(workspace.factory, name, smiles, rating)
    except InvalidSmilesError as err:
        raise _invalid_smiles(err, {"smiles": smiles}) from None


def _invalid_smiles(err: InvalidSmilesError, fields: dict[str, str]) -> FieldError:
    field = next((k for k, v in fields.items() if v == err.smiles), next(iter(fields)))
    return FieldError(("body", field), err.smiles, f"invalid SMILES: {err.smiles!r}", kind="invalid_smiles")


def judge(
    workspace: Workspace,
    name: str,
    pairs: int,
    constitution: Path | None = None,
    command: str | None = None,
    fresh: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """AI feedback: a judge (the constitution's rules, or ``command``) compares ``pairs`` pairs of the
    campaign's molecules and fresh samples; the decided ones are stored as sourced preferences."""
    from chemloop.constitution.judges import CommandJudge, RuleJudge
    from chemloop.constitution.principles import DEFAULT_CONSTITUTION, load_constitution
    from chemloop.loop.judging import judge_campaign

    require(workspace, name)
    rules = load_constitution(constitution)
    judge_ = CommandJudge(rules, command) if command else RuleJudge(rules)
    label = (constitution or DEFAULT_CONSTITUTION).name
    return judge_campaign(workspace.factory, name, judge_, label, pairs, fresh=fresh, seed=seed)


def judged_preferences(workspace: Workspace, name: str) -> list[dict[str, Any]]:
    """The campaign's AI-judged pairs, newest first, with judge, principle and reason."""
    from chemloop.loop.judging import judged_preferences as judged

    return judged(workspace.factory, name)


def overrule(workspace: Workspace, name: str, preference_id: int) -> dict[str, Any]:
    """A chemist reverses a judged pair; it becomes the chemist's own preference."""
    from chemloop.loop.judging import overrule as reverse

    return reverse(workspace.factory, name, preference_id)
