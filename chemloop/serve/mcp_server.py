"""``chemloop mcp``: chemloop's tools for LLM assistants, over the Model Context Protocol (stdio).

    chemloop mcp --db sqlite:///chemloop.db --runs-dir runs/mcp --model prior

An assistant (Claude Desktop, an IDE agent, ...) starts this as its own child process and calls
the tools below. Each tool calls the same operation of :mod:`chemloop.services` as the HTTP API
and the CLI, with the same request types (:mod:`chemloop.services.schemas`), so every face accepts
and refuses the same values.

The server runs as the user's own process, so it needs no API key; still, a tool input is only
data. It never names a file, a model folder or a plugin: those come from :class:`ServeSettings`,
and scoring components are built with ``allow_plugins=False``.
"""

# No `from __future__ import annotations` here: the SDK builds each tool's JSON schema from its
# signature, and some bounds are values of `settings` in build_server's closure, which string
# annotations could not reach.

import functools
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from chemloop.chem.mol import canonical, molecule_key
from chemloop.errors import ChemloopError
from chemloop.jobs import JOB_ID
from chemloop.services import campaign_feedback, campaigns, jobs, molecules, schemas, scoring
from chemloop.services.settings import ServeSettings
from chemloop.services.users import ASSISTANT
from chemloop.services.workspace import Workspace

INSTRUCTIONS = """chemloop designs drug-like molecules. Compute properties and scores of SMILES, sample
from the chemical language model (or have it decorate a scaffold or link two fragments), steer it
towards a score with an optimize job, and run design-make-test campaigns (status, propose the next
batch, record the lab's results, let the constitution's rules judge pairs, note what you see on a
molecule). Optimize, propose and the refit after results are jobs: start one, then poll job_status
with its id until the status is done, failed or cancelled."""

DEFAULT_BUDGET = 1000  # oracle calls of an optimize job that names none: minutes, not hours, on a CPU
MAX_JUDGED_PAIRS = 500  # per judge call: the rules judge ~100 pairs/s, and the call waits for them

Tool = TypeVar("Tool", bound=Callable[..., Any])
JobId = Annotated[
    str, Field(pattern=JOB_ID.pattern, description="an id from optimize_start or campaign_propose")
]
Campaign = Annotated[schemas.CampaignName, Field(description="the campaign's name")]
Components = Annotated[
    list[schemas.Component],
    Field(
        min_length=1,
        max_length=schemas.MAX_COMPONENTS,
        description="scoring components: names from list_components ('qed'), or tables "
        "{type, name?, weight?, params?, transform?: {type, ...}, filter?}; plugins are not accepted",
    ),
]
AGGREGATES = schemas.ScoreIn.model_fields["aggregate"].annotation  # Literal["geometric", "arithmetic"]
Aggregate = Annotated[AGGREGATES, Field(description="how component scores combine")]


def user_errors(tool: Tool) -> Tool:
    """Report a :class:`ChemloopError` (bad input) to the assistant as a tool error with its message;
    the SDK would hide any other exception's text behind a generic one."""

    @functools.wraps(tool)
    def wrapper(*args, **kwargs):
        try:
            return tool(*args, **kwargs)
        except ChemloopError as err:
            raise ToolError(str(err)) from None

    return wrapper  # type: ignore[return-value]


def build_server(settings: ServeSettings) -> MCPServer:
    """An MCP server whose tools work within ``settings`` (locations, model, request limits)."""
    workspace = Workspace.from_settings(settings)
    workspace.check_model()  # a wrong --model fails at start, not at the first sample

    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncIterator[None]:
        try:
            yield None
        finally:  # the assistant closed the connection: stop the jobs this server started
            workspace.close()

    server = MCPServer("chemloop", instructions=INSTRUCTIONS, lifespan=lifespan)
    Smiles = Annotated[
        list[schemas.Smiles],
        Field(
            min_length=1, max_length=settings.max_molecules, description="SMILES strings, one per molecule"
        ),
    ]
    budget = min(DEFAULT_BUDGET, settings.max_budget)

    @server.tool()
    def list_components() -> dict[str, Any]:
        """The scoring components that score and optimize_start accept, and the score transforms."""
        return molecules.components_catalogue()

    @server.tool()
    @user_errors
    def properties(smiles: Smiles) -> dict[str, Any]:
        """Properties a medicinal chemist looks at first (MW, cLogP, TPSA, HBD/HBA, QED, SA score, ...)
        and PAINS/Brenk alerts, per molecule. An invalid SMILES gets a row with an error."""
        rows, bad = molecules.properties_of_each(smiles)
        valid, invalid = iter(rows), dict(bad)  # back into request order, invalid ones with an error
        return {
            "molecules": [
                {"smiles": s, "error": f"invalid SMILES: {s!r}"} if i in invalid else next(valid)
                for i, s in enumerate(smiles)
            ]
        }

    @server.tool()
    @user_errors
    def score(smiles: Smiles, components: Components, aggregate: Aggregate = "geometric") -> dict[str, Any]:
        """Score molecules with named components: the aggregate, each component's raw and transformed
        value, and why a score is zero or missing (an invalid SMILES scores 0 with the reason)."""
        request = schemas.ScoreRequest(smiles=smiles, components=components, aggregate=aggregate)
        scored = scoring.score_request(request, settings.max_molecules, refuse_invalid=False)
        return {"molecules": _finite(scored.model_dump()["results"])}

    @server.tool()
    @user_errors
    def sample(  # the bounds of the HTTP API's schemas.SampleRequest
        num: Annotated[int, Field(ge=1, le=settings.max_samples, description="strings to generate")] = 100,
        seed: Annotated[schemas.Seed, Field(description="the same seed gives the same strings")] = 0,
        temperature: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False, description="0: greedy")] = 1.0,
        top_k: Annotated[int, Field(ge=0, le=1000, description="0 keeps every token")] = 0,
        top_p: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 1.0,
        scaffold: Annotated[
            schemas.Smiles | None,
            Field(
                description="decorate this scaffold at its '*' attachment points (one point grows a fragment)"
            ),
        ] = None,
        link: Annotated[
            schemas.Smiles | None, Field(description="link two fragments with one '*' each: FRAG1*.*FRAG2")
        ] = None,
        unique: Annotated[
            bool, Field(description="under a prompt: draw again where a product repeats")
        ] = True,
    ) -> dict[str, Any]:
        """Sample molecules from the server's chemical language model: each string with its validity,
        canonical SMILES and negative log-likelihood, and the batch's validity and uniqueness. With a
        scaffold or a link, every molecule continues that prompt and says whether it contains it."""
        if scaffold is not None and link is not None:
            raise ChemloopError("give a scaffold to decorate or fragments to link, not both")
        prompt = (
            None
            if scaffold is None and link is None
            else schemas.PromptIn(scaffold=scaffold, link=link, unique=unique)
        )
        request = schemas.SampleRequest(
            num=num, seed=seed, temperature=temperature, top_k=top_k, top_p=top_p, prompt=prompt
        )
        return _finite(molecules.sample_molecules(workspace, request, settings.max_samples).model_dump())

    @server.tool()
    @user_errors
    def optimize_start(
        components: Components,
        run: Annotated[
            schemas.RunIn | None,
            Field(
                description="options of the [run] table of `chemloop optimize`, each left out keeps its "
                f"default; budget: at most {settings.max_budget} oracle calls, {budget} if left out"
            ),
        ] = None,
        aggregate: Aggregate = "geometric",
    ) -> dict[str, Any]:
        """Start an RL optimization job that steers the model towards the score of these components.
        Returns the job; poll job_status with its id for progress and, once done, the top molecules."""
        request = schemas.OptimizeRequest(
            run=run or schemas.RunIn(), score=schemas.ScoreIn(components=components, aggregate=aggregate)
        )
        return _finite(jobs.start_optimize(workspace, request, settings, DEFAULT_BUDGET).model_dump())

    @server.tool()
    @user_errors
    def job_status(
        job_id: JobId,
        top: Annotated[int, Field(ge=1, le=100, description="result rows returned once done")] = 10,
    ) -> dict[str, Any]:
        """A job's status (queued, running, done, failed, cancelled) and progress; once done, its
        result: the top molecules of an optimize job, the proposed batch of a propose job."""
        return _finite(jobs.job_result(workspace, job_id, top, loc=("job_id",)))

    @server.tool()
    @user_errors
    def job_list() -> dict[str, Any]:
        """Every job this server knows, newest first."""
        return _finite({"jobs": [j.model_dump() for j in jobs.list_jobs(workspace)]})

    @server.tool()
    @user_errors
    def job_cancel(job_id: JobId) -> dict[str, Any]:
        """Stop a queued or running job (a finished one is returned as it is)."""
        return _finite(jobs.cancel_job(workspace, job_id, loc=("job_id",)).model_dump())

    @server.tool()
    @user_errors
    def campaign_status(campaign: Campaign) -> dict[str, Any]:
        """A design-make-test campaign: its rounds, molecules tested, best measured value per round,
        and the quality of its reward model."""
        return _finite(campaigns.status(workspace, campaign))

    @server.tool()
    @user_errors
    def campaign_propose(
        campaign: Campaign, batch: Annotated[int | None, schemas.ProposeRequest.model_fields["batch"]] = None
    ) -> dict[str, Any]:
        """Start a job that proposes the campaign's next batch to make and test (it fine-tunes the
        agent on the current reward: minutes on a CPU). Poll job_status with its id: its progress says
        what it is doing and how long it may take; once done, it holds the proposals."""
        return _finite(campaigns.start_propose(workspace, campaign, batch).model_dump())

    @server.tool()
    @user_errors
    def campaign_record_results(
        campaign: Campaign,
        results: Annotated[
            list[schemas.SeedRow],
            Field(
                min_length=1,
                max_length=settings.max_molecules,
                description="the lab's measured values, one per molecule: smiles, value, and optionally "
                "std, qualifier ('<' with value 5 for a result of <5) and compound_id",
            ),
        ],
        external: Annotated[
            bool, Field(description="accept molecules the campaign never proposed (e.g. from the literature)")
        ] = False,
    ) -> dict[str, Any]:
        """Store measured results of the campaign's molecules (a salt or another charge state of a
        proposed molecule counts as that molecule) and start the reward model's refit as a job
        (fit_job; poll job_status). A bad row, or a molecule never proposed, stores nothing and is
        named by its index; a result stored before (the same molecule and value) is left out and
        listed in left_out."""
        return _finite(campaigns.record_results(workspace, campaign, results, external, user=ASSISTANT))

    @server.tool()
    @user_errors
    def judge(
        campaign: Campaign,
        pairs: Annotated[int, Field(ge=1, le=MAX_JUDGED_PAIRS, description="pairs to judge")] = 50,
        fresh: Annotated[
            int | None,
            Field(ge=0, le=2 * MAX_JUDGED_PAIRS, description="fresh samples to pair (default 2 × pairs)"),
        ] = None,
        seed: schemas.Seed = 0,
    ) -> dict[str, Any]:
        """AI feedback: the shipped constitution's rules judge pairs of the campaign's molecules and
        fresh samples of its model; decided pairs are stored as preferences naming their judge and
        principle (weighed below a chemist's; a chemist can overrule each on the review page)."""
        if fresh is not None and fresh > settings.max_samples:
            raise ChemloopError(
                f"fresh: {fresh} is above this server's limit of {settings.max_samples} samples"
            )
        return _finite(campaign_feedback.judge(workspace, campaign, pairs, fresh=fresh, seed=seed))

    @server.tool()
    @user_errors
    def add_note(
        campaign: Campaign,
        smiles: Annotated[schemas.Smiles, Field(description="one of the campaign's molecules")],
        text: Annotated[
            str, Field(min_length=1, max_length=campaign_feedback.MAX_NOTE_LENGTH, description="plain text")
        ],
    ) -> dict[str, Any]:
        """Add a short note to one of the campaign's molecules (shown on its page, by 'assistant')."""
        return campaign_feedback.add_note(
            workspace, campaign, molecule_key(canonical(smiles)), ASSISTANT, text
        )

    @server.tool()
    @user_errors
    def molecule_notes(
        campaign: Campaign,
        smiles: Annotated[schemas.Smiles, Field(description="one of the campaign's molecules")],
    ) -> dict[str, Any]:
        """The notes on one of the campaign's molecules, oldest first, with author and time."""
        return {"notes": campaign_feedback.notes(workspace, campaign, molecule_key(canonical(smiles)))}

    return server


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None: JSON has no NaN, and a missing score reads as null."""
    return json.loads(json.dumps(value, default=str), parse_constant=lambda _: None)
