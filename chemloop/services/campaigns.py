"""Design-make-test campaigns for every face: create, read, propose, import results, archive, delete.

The operations take data, not paths: a results file arrives as its bytes and the name its client
gave it (so an error names the file as the chemist knows it), seed values as rows. Each calls
:mod:`chemloop.loop.campaign` or :mod:`chemloop.loop.results`, which store what they are given in
one transaction, or reads through :mod:`chemloop.loop.campaign_reads`. Preferences, ratings, the
review pair, judged pairs and notes are in :mod:`chemloop.services.campaign_feedback`.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chemloop.chem.prompts import PromptError, parse_prompt
from chemloop.chem.user_input import WITHHELD_PROBLEM
from chemloop.config_files import validate, validation_problems
from chemloop.dock.poses import pose_path
from chemloop.errors import ChemloopError
from chemloop.jobs import ACTIVE, Job, JobConflictError
from chemloop.loop import campaign as loop_campaign
from chemloop.loop import campaign_reads, lifecycle
from chemloop.loop import results as loop_results
from chemloop.loop.assay import Assay, check_assay, written
from chemloop.loop.campaign import Proposed
from chemloop.loop.columns import RECOGNISED, ColumnChoice, ColumnsError
from chemloop.loop.config import CampaignConfig
from chemloop.loop.domain import MeasuredSet, trust_region_miss
from chemloop.loop.progress import ProgressCallback
from chemloop.loop.store import UnknownCampaignError, check_campaign_name
from chemloop.reward.data import CsvTable, FeedbackError, read_table
from chemloop.services import schemas
from chemloop.services.errors import FieldError, Loc, check_at_most, problem
from chemloop.services.jobs import job_out
from chemloop.services.molecules import checked_prompt_text
from chemloop.services.scoring import request_score_config
from chemloop.services.settings import ServeSettings
from chemloop.services.workspace import Workspace

NOT_PROPOSED = "never proposed by this campaign; import it as an external result"
PREVIEW_ROWS = 20  # rows of a dry run's answer (its problems are listed for every row)
MAX_NAMED = 10  # bad rows an error's text names


def not_proposed(smiles: str) -> str:
    """A bad row's reason for a molecule the campaign never proposed, naming it."""
    return f"{smiles}: {NOT_PROPOSED}"


# --- reading ------------------------------------------------------------------------------------


def exists(workspace: Workspace, name: str) -> bool:
    try:
        campaign_reads.require_campaign(workspace.factory, name)
    except UnknownCampaignError:
        return False
    return True


def require(workspace: Workspace, name: str) -> None:
    """Raise :class:`UnknownCampaignError` naming ``name`` unless the campaign exists."""
    campaign_reads.require_campaign(workspace.factory, name)


def list_all(workspace: Workspace, archived: bool = False) -> list[dict[str, Any]]:
    """Every campaign by name, with its rounds proposed, molecules tested and whether it is archived;
    archived ones only when ``archived``."""
    shelved = lifecycle.archived_names(workspace.factory)
    listed = [
        c | {"archived": c["campaign"] in shelved} for c in campaign_reads.list_campaigns(workspace.factory)
    ]
    return [c for c in listed if archived or not c["archived"]]


def status(workspace: Workspace, name: str) -> dict[str, Any]:
    """Rounds, molecules tested, best value per round, feedback counts and the reward model's quality."""
    return campaign_reads.status(workspace.factory, name)


def molecules(workspace: Workspace, name: str) -> list[dict[str, Any]]:
    """Every molecule the campaign proposed or measured, with its prediction and measured value."""
    return campaign_reads.molecules(workspace.factory, name)


def molecule(workspace: Workspace, name: str, key: str) -> dict[str, Any] | None:
    """One molecule of the campaign by its key (None if it has none with that key)."""
    return next((m for m in molecules(workspace, name) if m["key"] == key), None)


def docking_poses(workspace: Workspace, name: str, smiles: str) -> dict[str, Path | None]:
    """Every docking target of the campaign's server-side config that keeps poses, with the pose file
    of ``smiles`` (None: not docked yet). Files are found from the config and the molecule, never
    from a path a request names."""
    config = campaign_reads.stored_config(workspace.factory, name)
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


def outside_trust_region(workspace: Workspace, name: str, round_number: int) -> dict[str, str]:
    """The proposals of round ``round_number`` that lie outside the campaign's trust region (SMILES:
    why), by the rule propose applied (:func:`chemloop.loop.domain.trust_region_miss`): each
    proposal's stored similarity to its nearest measured molecule, and the spacing, scaffolds and
    series core of the molecules measured before that round. Propose takes such molecules only when
    too few lie inside; a proposal stored without an explanation is not judged."""
    rule = campaign_reads.stored_config(workspace.factory, name).campaign.trust_rule()
    if rule.similarity is None:
        return {}
    table = molecules(workspace, name)
    measured = [m for m in table if m["value"] is not None and m["round"] < round_number]
    if not measured:
        return {}
    anchor = MeasuredSet([m["smiles"] for m in measured], [m["value"] for m in measured]).anchor(rule)
    judged = (
        (m["smiles"], trust_region_miss(m["smiles"], m["nearest_similarity"], anchor, rule))
        for m in table
        if m["round"] == round_number and m["rank"] is not None and m["nearest_similarity"] is not None
    )
    return {smiles: why for smiles, why in judged if why is not None}


# A campaign's job kinds, as a message names them.
JOB_WORDS = {
    "propose": "a propose round",
    "create": "the first reward-model fit",
    "import": "a reward-model refit after an import",
}


def campaign_jobs(workspace: Workspace, name: str) -> list[Job]:
    """The campaign's jobs of every kind (create, propose, import), newest first."""
    return [j for j in workspace.jobs.list() if j.params.get("campaign") == name]


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
    if request.core is not None:
        try:
            parse_prompt(request.core, "decorate")
        except PromptError as err:
            raise FieldError(("body", "core"), request.core, str(err), kind="invalid_prompt") from None
        data["run"] = {"prompt": {"scaffold": request.core}}
    try:
        return validate(CampaignConfig, data, "campaign config")
    except ChemloopError as err:
        raise FieldError(("body",), None, str(err)) from None


def config_from_tables(
    name: str, data: dict[str, Any], settings: ServeSettings, core: str | None = None
) -> CampaignConfig:
    """The config of a campaign given as TOML tables (a page's config box) and a core to keep,
    checked exactly as :func:`campaign_config` checks a JSON request."""
    extra = sorted(set(data) - {"campaign", "reward", "score"})
    if extra:
        raise ChemloopError(f"unknown config table {extra[0]!r}; use [campaign], [reward] and [score]")
    try:
        request = schemas.CampaignCreate.model_validate({**data, "name": name, "core": core})
    except ValidationError as err:
        raise ChemloopError(f"invalid campaign config: {validation_problems(err)}") from None
    return campaign_config(request, settings)


def create(
    workspace: Workspace,
    name: str,
    config: CampaignConfig,
    seed: CsvTable | None = None,
    fit_reward: bool = True,
    assay: Assay | None = None,
    columns: ColumnChoice = RECOGNISED,
    skip_bad_rows: bool = False,
    user: str | None = None,
) -> dict[str, Any]:
    """Create campaign ``name`` measuring ``assay``; ``seed`` results (or the config's ``seed_data``;
    every row checked before anything is stored; ``columns`` names its SMILES and value columns when
    they are not recognised) become round 0 and fit its first reward model (``fit_reward=False``: the
    caller starts that as a job, :func:`start_fit`). Returns its status; with ``skip_bad_rows`` only
    the good rows are stored and the bad ones come back as ``skipped`` beside it. ``user``: who
    created it (recorded as the seed file's uploader)."""
    check_campaign_name(name)  # before anything is read
    source = seed if seed is not None else config.campaign.seed_data
    rows = loop_results.read_results(source, columns, skip_bad_rows) if source is not None else None
    loop_campaign.init_campaign(
        workspace.factory, name, config, seed=rows, fit_reward=fit_reward, assay=assay, user=user
    )
    skipped = [{"row": row, "message": message} for row, message in (rows.skipped if rows else [])]
    left_out = [{"row": row, "message": message} for row, message in (rows.no_result if rows else [])]
    return (
        status(workspace, name)
        | ({"skipped": skipped} if skipped else {})
        | ({"left_out": left_out} if left_out else {})
    )


def check_core(workspace: Workspace, config: CampaignConfig, loc: tuple[str, ...] = ("body", "core")) -> None:
    """A core to keep that the server's model cannot write is refused before the campaign exists."""
    prompt = config.run.prompt
    if prompt is not None:
        checked_prompt_text(workspace.model(), prompt.text, prompt.kind, loc)


def create_from_request(
    workspace: Workspace, request: schemas.CampaignCreate, settings: ServeSettings, user: str | None = None
) -> dict[str, Any]:
    """Create a campaign from a JSON request (``user``: who sent it): its seed rows are refused by
    index, its name if taken."""
    if exists(workspace, request.name):
        raise FieldError(
            ("body", "name"), request.name, f"campaign {request.name!r} already exists", kind="exists"
        )
    config = campaign_config(request, settings)
    check_core(workspace, config)
    assay = None
    if request.assay is not None:
        try:
            assay = check_assay(request.assay.name, request.assay.unit, request.assay.direction)
        except ChemloopError as err:
            raise FieldError(("body", "assay"), None, str(err)) from None
    try:
        seed = _seed_table(request.seed) if request.seed else None
        return create(workspace, request.name, config, seed, assay=assay, user=user)
    except FeedbackError as err:
        raise _seed_problems(err, request.seed) from None


def _seed_table(seed: list[schemas.SeedRow], where: Loc = ("body", "seed")) -> CsvTable:
    with_std = [r.std is not None for r in seed]
    if any(with_std) and not all(with_std):
        i = with_std.index(False)
        raise FieldError((*where, i, "std"), None, "give a std for every row or for none")
    with_id = any(r.compound_id is not None for r in seed)
    header = ["smiles", "value", *(["std"] if any(with_std) else []), *(["id"] if with_id else [])]
    lines = [
        [
            r.smiles,
            f"{r.qualifier or ''}{r.value!r}",
            *([repr(r.std)] if r.std is not None else []),
            *([r.compound_id or ""] if with_id else []),
        ]
        for r in seed
    ]
    return CsvTable(str(where[-1]), header, lines)  # named as the request's field: "seed", "results"


def _seed_problems(
    err: FeedbackError, seed: list[schemas.SeedRow], where: Loc = ("body", "seed"), kind: str = "value_error"
) -> FieldError:
    """Row numbers of the seed table (header = row 1) back to indices of the request's ``seed`` list;
    the error's text names each (``results[3] (CCO): ...``), for a face that shows only the text."""

    def smiles(row: int, message: str) -> str | None:  # a withheld molecule is not repeated back
        known = 0 <= row - 2 < len(seed) and WITHHELD_PROBLEM not in message
        return seed[row - 2].smiles if known else None

    found = [
        problem((*where, row - 2), message, smiles(row, message), kind) for row, message in err.problems
    ] or [problem(where, str(err))]
    first = found[0]
    named = "; ".join(_named_problem(where[-1], p) for p in found[:MAX_NAMED])
    more = f"; and {len(found) - MAX_NAMED} more" if len(found) > MAX_NAMED else ""
    summary = named + more if err.problems else str(err)
    return FieldError(
        tuple(first["loc"]), first["input"], first["msg"], kind, also=found[1:], summary=summary
    )


def _named_problem(field: str | int, found: dict[str, Any]) -> str:
    """``results[3] (CCO): message``; without the molecule where none is to be shown."""
    molecule = f" ({found['input']})" if found["input"] else ""
    return f"{field}[{found['loc'][-1]}]{molecule}: {found['msg']}"


def record_results(
    workspace: Workspace,
    name: str,
    rows: list[schemas.SeedRow],
    external: bool = False,
    user: str | None = None,
) -> dict[str, Any]:
    """Store measured values given as rows, not a file (an assistant's tool), with a file's checks: a
    bad row, or a molecule the campaign never proposed (unless ``external``), refuses them all,
    naming each by its index in ``rows``. A salt or another charge state of a proposal is that
    proposal's result. The reward model's refit starts as a job (``fit_job``)."""
    require_active(workspace, name, "import results")
    where = ("results",)
    try:
        results = loop_results.read_results(_seed_table(rows, where))
    except FeedbackError as err:
        raise _seed_problems(err, rows, where) from None
    unproposed = [] if external else loop_results.unproposed_rows(workspace.factory, name, results)
    if unproposed:
        refused = FeedbackError(NOT_PROPOSED, problems=[(row, NOT_PROPOSED) for row, _ in unproposed])
        raise _seed_problems(refused, rows, where, kind="not_proposed")
    done = loop_results.import_results(
        workspace.factory, name, results, external=external, user=user, fit_reward=False
    )
    fit = start_fit(workspace, name, "import").model_dump() if done["imported"] else None
    # Rows of the table (header = row 1) back to indices of ``rows``, as the errors name them.
    left_out = [{"index": i["row"] - 2, "message": i["message"]} for i in done.get("left_out", [])]
    return {**done, "left_out": left_out, "fit_job": fit}


# --- proposing ----------------------------------------------------------------------------------


def start_propose(workspace: Workspace, name: str, batch: int | None = None) -> schemas.JobOut:
    """Queue a propose round as a background job (one at a time per campaign); once it is done its
    ``proposals.csv`` holds the picks. An unknown campaign fails now, not later inside the job."""
    require_active(workspace, name, "propose new rounds")
    return job_out(workspace.jobs.start_propose(workspace.db_url, name, batch))


def start_fit(workspace: Workspace, name: str, kind: str) -> schemas.JobOut:
    """Queue a fit of the campaign's reward model as a background job: ``kind`` "create" (the first
    fit of a campaign just created) or "import" (the refit after results were stored). A fit already
    waiting for the campaign is returned instead of a second one; it will see the new data."""
    require(workspace, name)
    return job_out(workspace.jobs.start_fit(workspace.db_url, name, kind))


def propose(
    workspace: Workspace,
    name: str,
    batch: int | None = None,
    output: Path | None = None,
    progress: ProgressCallback | None = None,
) -> Proposed:
    """Propose the next round in this process (the command line waits for it, ``progress`` hearing
    of each stage)."""
    require_active(workspace, name, "propose new rounds")
    return loop_campaign.propose(workspace.factory, name, batch=batch, output=output, progress=progress)


# --- results -------------------------------------------------------------------------------------


def preview_results(
    workspace: Workspace,
    name: str,
    data: bytes,
    filename: str,
    external: bool = False,
    columns: ColumnChoice = RECOGNISED,
) -> dict[str, Any]:
    """What importing ``data`` would store, storing nothing: ``kind``, the parsed ``rows`` (the good
    ones when some are bad), every bad row (``problems``: (row, message)), the rows naming a molecule
    the campaign never proposed (``unproposed``: (row, SMILES)), those naming a proposed molecule in
    another form (``other_forms``: (row, as written, as proposed)), the rows an import leaves out
    as holding nothing new (``left_out``: (row, why): no result yet, or one stored already), a
    ``file_error`` for a file that cannot be read at all, ``ok``: whether the import would succeed
    as it is (with ``external``, unproposed molecules are accepted), ``good``: how many rows an
    import (with ``skip_bad_rows`` where some are bad) would store, ``columns``: the file's headers
    read as SMILES, value and id, ``header``: the file's columns when its SMILES or value column
    must be chosen (else None), ``censored``: the good rows whose value is censored, as written (row
    number: ``">8"``), and ``table``: the file as read (None when it cannot be), for a page that
    shows its rows."""
    require(workspace, name)
    found: dict[str, Any] = {
        "ok": False,
        "kind": None,
        "rows": [],
        "problems": [],
        "unproposed": [],
        "other_forms": [],
        "left_out": [],
    }
    found["censored"] = {}
    found |= {"good": 0, "columns": None, "header": None, "file_error": None, "table": None}
    table = None
    try:
        table = found["table"] = read_table(data, filename)
        results = loop_results.read_results(table, columns)
    except ColumnsError as err:
        return found | {"file_error": str(err), "header": err.header}
    except FeedbackError as err:
        if not err.problems:
            return found | {"file_error": str(err)}
        found["problems"] = err.problems
        try:  # the good rows, which the user may choose to store alone
            results = loop_results.read_results(table, columns, skip_bad_rows=True)
        except FeedbackError:
            return found
    except ChemloopError as err:
        return found | {"file_error": str(err)}
    unproposed, other_forms = loop_results.match_proposals(workspace.factory, name, results)
    stored_before = loop_results.already_stored(workspace.factory, name, results)
    # A preference row names two molecules: count rows, not unproposed molecules.
    not_stored = {row for row, _ in stored_before} | (set() if external else {row for row, _ in unproposed})
    return found | {
        "ok": not found["problems"] and (external or not unproposed),
        "kind": results.kind,
        "rows": results.rows,
        "unproposed": unproposed,
        "other_forms": other_forms,
        "left_out": sorted(results.no_result + stored_before),
        "good": len(results.rows) - len(not_stored),
        "columns": results.columns,
        "censored": {  # value rows are (smiles, bound, std, qualifier) when censored
            number: written(row[3], row[1])
            for number, row in zip(results.row_numbers, results.rows, strict=True)
            if results.kind == "values" and len(row) == 4
        },
    }


def bad_rows(found: dict[str, Any], external: bool) -> list[tuple[int, str]]:
    """Every row a preview (:func:`preview_results`) found bad, as (row, reason), by row: its
    problems and, unless ``external``, its molecules the campaign never proposed."""
    rows = list(found["problems"])
    if not external:
        rows += [(row, not_proposed(smiles)) for row, smiles in found["unproposed"]]
    return sorted(rows)


def bad_rows_csv(table: CsvTable | None, bad: list[tuple[int, str]]) -> str:
    """The bad rows of a results file (read by :func:`read_table`; None: one that cannot be read) as
    CSV, to fix and upload again: ``row``, ``problem`` (all of the row's problems) and the row's own
    cells under the file's header (an SD file's: its molecule's SMILES and data items). A row holding
    a molecule the dual-use guard withholds keeps its number and problem, without its cells."""
    reasons: dict[int, list[str]] = {}
    for row, message in bad:
        reasons.setdefault(row, []).append(message)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["row", "problem", *((table and table.header) or [])])
    for number, cells in enumerate(table.lines if table else [], start=2):
        if number in reasons:
            withheld = any(WITHHELD_PROBLEM in m for m in reasons[number])
            writer.writerow([number, "; ".join(reasons[number]), *([] if withheld else cells)])
    return out.getvalue()


def import_results(
    workspace: Workspace,
    name: str,
    data: bytes,
    filename: str,
    external: bool = False,
    user: str | None = None,
    fit_reward: bool = True,
    columns: ColumnChoice = RECOGNISED,
    skip_bad_rows: bool = False,
) -> dict[str, Any]:
    """Store results (values, preferences or ratings) and refit the reward model (``fit_reward=False``:
    the caller starts that as a job, :func:`start_fit`). Every bad row, and every molecule the
    campaign never proposed (unless ``external``), fails the import by row.
    ``user``: who uploaded the file (recorded beside it). ``columns`` names the SMILES and value
    columns where they are not recognised; with ``skip_bad_rows`` only the good rows are stored and
    the bad ones (and, unless ``external``, those of molecules never proposed) come back as ``skipped``."""
    require_active(workspace, name, "import results")
    results = loop_results.read_results(read_table(data, filename), columns, skip_bad_rows)
    results = _proposed_only(workspace, name, results, external, skip_bad_rows)
    return loop_results.import_results(
        workspace.factory, name, results, external=external, user=user, fit_reward=fit_reward
    )


def _proposed_only(
    workspace: Workspace, name: str, results: loop_results.ResultRows, external: bool, skip_bad_rows: bool
) -> loop_results.ResultRows:
    """``results`` if every molecule was proposed (or ``external``); else, with ``skip_bad_rows``, the
    results without the others (listed as skipped), or a refusal naming each such row."""
    unproposed = [] if external else loop_results.unproposed_rows(workspace.factory, name, results)
    if not unproposed:
        return results
    if skip_bad_rows:
        kept = results.without([(row, not_proposed(smiles)) for row, smiles in unproposed])
        if not kept.rows:
            raise ChemloopError(f"{results.filename}: no good rows to store (none was proposed by {name!r})")
        return kept
    (row, smiles), rest = unproposed[0], unproposed[1:]
    also = [problem(("body", "file", f"row {r}"), NOT_PROPOSED, s, "not_proposed") for r, s in rest]
    listed = "; ".join(f"row {r}: {s}" for r, s in unproposed[:5])
    more = f"; and {len(unproposed) - 5} more" if len(unproposed) > 5 else ""
    rows = f"{len(unproposed)} rows hold molecules" if len(unproposed) > 1 else "a row holds a molecule"
    summary = (
        f"{results.filename}: {rows} campaign {name!r} never proposed ({listed}{more}); nothing was "
        "stored. Import such rows as external results (--external), or the others alone (--skip-bad-rows)"
    )
    raise FieldError(
        ("body", "file", f"row {row}"), smiles, NOT_PROPOSED, kind="not_proposed", also=also, summary=summary
    )


def import_file(
    workspace: Workspace,
    name: str,
    path: Path,
    external: bool = False,
    columns: ColumnChoice = RECOGNISED,
    skip_bad_rows: bool = False,
    user: str | None = None,
) -> dict[str, Any]:
    """Store a results file from the user's own disk (the command line), named by its path; options
    as :func:`import_results`."""
    require_active(workspace, name, "import results")
    results = loop_results.read_results(path, columns, skip_bad_rows)
    results = _proposed_only(workspace, name, results, external, skip_bad_rows)
    return loop_results.import_results(workspace.factory, name, results, external=external, user=user)


# --- archive and delete --------------------------------------------------------------------------


def require_active(workspace: Workspace, name: str, action: str) -> None:
    """Refuse ``action`` (a verb phrase: "propose new rounds", "record ratings") on an archived
    campaign, naming it (409 over HTTP). Notes stay open: they are comments, not feedback."""
    try:
        lifecycle.require_active(workspace.factory, name, action)
    except lifecycle.ArchivedCampaignError as err:
        raise FieldError(("path", "name"), name, str(err), kind="archived") from None


def is_archived(workspace: Workspace, name: str) -> bool:
    require(workspace, name)
    return name in lifecycle.archived_names(workspace.factory)


def archive(workspace: Workspace, name: str, user: str | None = None) -> dict[str, Any]:
    """Archive the campaign: out of the campaign list by default, no more propose or import."""
    return lifecycle.archive(workspace.factory, name, user)


def unarchive(workspace: Workspace, name: str) -> dict[str, Any]:
    return lifecycle.unarchive(workspace.factory, name)


def delete_campaign(workspace: Workspace, name: str, confirm: str) -> dict[str, Any]:
    """Delete the campaign and all its rows in one transaction; ``confirm`` repeats its name. While
    any job of the campaign is queued or running it is refused: a propose would store a round, a fit
    a reward model, into a campaign that is gone."""
    require(workspace, name)
    if confirm != name:
        raise FieldError(("confirm",), confirm, f"to delete campaign {name!r}, confirm with its exact name")
    busy = [j for j in campaign_jobs(workspace, name) if j.status in ACTIVE]
    if busy:
        listed = ", ".join(f"{JOB_WORDS.get(j.kind, j.kind)} (job {j.id}, {j.status})" for j in busy)
        raise JobConflictError(
            f"campaign {name!r} cannot be deleted while it has work queued or running: {listed}; "
            "wait for it to finish or cancel it first"
        )
    return lifecycle.delete_campaign(workspace.factory, name, confirm)
