"""Request and response bodies of the HTTP API, with the limits the OpenAPI spec documents.

Limits that the server's settings decide (molecules per request, samples, budget) are checked
per request and written into the spec by :func:`chemloop.serve.limits.document_limits`; the fixed
ones (SMILES length, component count, RL and reward-model sizes) live here as field constraints.
Run and campaign sections mirror the layers' configs without the keys a request may not set (a
model path, a seed-data path, plugins); a field left out keeps the layer's default.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from chemloop.chem.user_input import MAX_ABS_VALUE, MAX_SMILES_LENGTH, smiles_text_problem
from chemloop.loop.acquisition import Acquisition
from chemloop.loop.store import (
    MAX_NOTE_LENGTH,
    NAME_PATTERN,  # the one rule for a new campaign's name, every face's
)

MAX_COMPONENTS = 20
MAX_PARAM_TEXT = 1000  # characters of one string inside a component's params (a SMARTS, a SMILES)
MAX_PARAM_ITEMS = 100  # items of one list or table inside a component's params
MAX_SEED = 2**31 - 1


def _smiles_text(text: str) -> str:
    problem = smiles_text_problem(text)
    if problem is not None:
        raise ValueError(f"this SMILES {problem}")
    return text


Smiles = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_SMILES_LENGTH), AfterValidator(_smiles_text)
]
Value = Annotated[float, Field(ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE, allow_inf_nan=False)]
# Component types and labels: plain words (a label lands in CSV headers and HTML reports).
ComponentName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.+-]{1,64}$")]
CampaignName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Section(Strict):
    """A config section whose fields default to the layer's: a field left out, or null, keeps the
    layer's default, except the fields in ``NULL_MEANS_NONE`` where null is a value ("no cap")."""

    NULL_MEANS_NONE: ClassVar[frozenset[str]] = frozenset()

    def overrides(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in self.model_dump(exclude_unset=True).items()
            if v is not None or k in self.NULL_MEANS_NONE
        }


# --- molecules ----------------------------------------------------------------------------------


def _bounded(value: Any, path: str = "") -> Any:
    """Refuse long strings and long or deep lists anywhere inside a component's parameters: their
    cost (a 60,000-character similarity reference, a SMARTS with thousands of atoms) is paid per
    molecule, before any limit on the request itself could help."""
    if len(path) > 200:
        raise ValueError("parameters nest too deeply")
    if isinstance(value, str) and len(value) > MAX_PARAM_TEXT:
        raise ValueError(f"{path or 'a string'} is {len(value):,} characters; the limit is {MAX_PARAM_TEXT}")
    if isinstance(value, list | dict) and len(value) > MAX_PARAM_ITEMS:
        raise ValueError(f"{path or 'a list'} has {len(value):,} items; the limit is {MAX_PARAM_ITEMS}")
    if isinstance(value, dict):
        for key, item in value.items():
            _bounded(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _bounded(item, f"{path}[{index}]")
    return value


class ComponentIn(Strict):
    """A scoring component as in a run config's ``[[score.components]]``, minus plugin keys."""

    type: ComponentName = Field(description="a registered component (GET /api/components)")
    name: ComponentName | None = Field(None, description="label in the results (default: the type)")
    weight: float = Field(1.0, ge=0, le=1000, allow_inf_nan=False)
    params: Annotated[dict[str, Any], AfterValidator(_bounded)] = Field(
        default_factory=dict,
        max_length=20,
        description=f"keyword arguments; never a file path; strings up to {MAX_PARAM_TEXT} characters, "
        f"lists up to {MAX_PARAM_ITEMS} items",
    )
    transform: Annotated[dict[str, Any], AfterValidator(_bounded)] | None = Field(
        None, max_length=10, description="{type: 'sigmoid', ...}"
    )
    filter: bool = Field(False, description="a transformed score below 0.5 zeroes the aggregate")


def _named(value: Any) -> Any:
    return {"type": value} if isinstance(value, str) else value


# "qed" is short for {"type": "qed"}; converting first keeps a refusal's message about one shape.
Component = Annotated[
    ComponentIn, BeforeValidator(_named, json_schema_input_type=ComponentName | ComponentIn)
]


class ScoreIn(Strict):
    components: list[Component] = Field(
        min_length=1, max_length=MAX_COMPONENTS, examples=[["qed", "sa_score"]]
    )
    aggregate: Literal["geometric", "arithmetic"] = "geometric"


class ScoreRequest(ScoreIn):
    smiles: list[Smiles] = Field(min_length=1, description="at most the server's max_molecules")


class Scored(BaseModel):
    smiles: str
    canonical: str | None
    score: float | None = Field(description="aggregate; null where a component gave no value")
    raw: dict[str, float | None]
    transformed: dict[str, float | None]
    reason: str = Field(description="why the score is 0 or null, where it is")


class ScoreResponse(BaseModel):
    components: list[str]
    results: list[Scored]


class RunPromptIn(Strict):
    """What every molecule must contain (``[run] prompt`` of a job): give ``scaffold`` or ``link``,
    not both; checked against the model before any work."""

    scaffold: Smiles | None = Field(
        None,
        description="a scaffold to decorate, its attachment points written '*' (one point grows a fragment)",
        examples=["O=C1CN=C(c2ccccc2)c2cc(*)ccc2N1*"],
    )
    link: Smiles | None = Field(
        None,
        description="two fragments to link, each with one attachment point: FRAG1*.*FRAG2",
        examples=["*c1ccc(F)cc1.*N1CCC(O)(c2ccc(Cl)cc2)CC1"],
    )

    @model_validator(mode="after")
    def _one_kind(self) -> RunPromptIn:
        if (self.scaffold is None) == (self.link is None):
            raise ValueError("give a scaffold to decorate or fragments to link, one of the two")
        return self


class PromptIn(RunPromptIn):
    """The prompt of a sampling request."""

    unique: bool = Field(True, description="draw again where a product repeats an earlier one")


class SampleRequest(Strict):
    num: int = Field(100, ge=1, description="strings to generate; at most the server's max_samples")
    seed: Seed = 0
    temperature: float = Field(1.0, ge=0, le=10, allow_inf_nan=False)
    top_k: int = Field(0, ge=0, le=1000, description="0 keeps every token")
    top_p: float = Field(1.0, ge=0, le=1, allow_inf_nan=False)
    prompt: PromptIn | None = Field(None, description="decorate a scaffold or link two fragments")


class Sampled(BaseModel):
    smiles: str
    valid: bool
    canonical: str
    nll: float | None
    prompt: str | None = Field(None, description="the prompt it continues (attachment points '*')")
    contains_prompt: bool | None = Field(
        None, description="the molecule contains the prompt, each attachment point matching an atom"
    )


class SampleResponse(BaseModel):
    model: str = Field(description="the model that wrote them: a shipped prior's name or its folder's name")
    molecules: list[Sampled]
    validity: float
    uniqueness: float
    seconds: float
    prompt: str | None = Field(None, description="the prompt, as the model was given it")
    contains_prompt: float | None = Field(None, description="the fraction of valid molecules that contain it")
    withheld: int = Field(0, description="molecules the dual-use guard withheld (docs/guard.md): never shown")
    repeats: int = Field(0, description="under a unique prompt: products drawn again because they repeated")


class PropertiesRequest(Strict):
    smiles: list[Smiles] = Field(min_length=1, description="at most the server's max_molecules")


class Alert(BaseModel):
    catalog: str
    description: str


class Properties(BaseModel):
    smiles: str
    canonical: str
    formula: str
    mw: float
    clogp: float
    tpsa: float
    hbd: int
    hba: int
    rotatable_bonds: int
    rings: int
    aromatic_rings: int
    heavy_atoms: int
    fraction_sp3: float
    stereocentres: int
    qed: float
    sa_score: float | None
    alerts: list[Alert]


class ComponentInfo(BaseModel):
    name: str
    description: str


class ComponentsOut(BaseModel):
    components: list[ComponentInfo]
    transforms: list[str]


# --- jobs ---------------------------------------------------------------------------------------


class RunIn(Section):
    """The ``[run]`` table of ``chemloop optimize`` without ``model`` (the server's) or checkpoints."""

    NULL_MEANS_NONE = frozenset({"diversity_bucket", "target_score"})

    budget: int | None = Field(None, ge=1, description="unique oracle calls; at most the server's max_budget")
    max_steps: int | None = Field(None, ge=1, le=10_000)
    seed: Seed | None = None
    batch_size: int | None = Field(None, ge=1, le=1024)
    update: Literal["reinvent", "reinforce_kl"] | None = None
    sigma: float | None = Field(None, gt=0, le=10_000, allow_inf_nan=False)
    beta: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    lr: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    replay: int | None = Field(None, ge=0, le=256)
    memory_size: int | None = Field(None, ge=1, le=10_000)
    augment_rounds: int | None = Field(None, ge=0, le=10)
    randomize: bool | None = Field(None, description="random SMILES spellings in replay and augmentation")
    diversity_bucket: int | None = Field(None, ge=1, le=10_000, description="null disables the filter")
    target_score: float | None = Field(None, allow_inf_nan=False)
    patience: int | None = Field(None, ge=1, le=10_000)
    ga_share: float | None = Field(
        None, ge=0, lt=1, allow_inf_nan=False, description="share of each batch made by graph-GA offspring"
    )
    ga_mutation_rate: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    ga_rank_coefficient: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    screen_factor: int | None = Field(
        None, ge=1, le=8, description="samples per molecule scored, screened by a nearest-neighbour estimate"
    )
    prompt: RunPromptIn | None = Field(None, description="every molecule the agent writes keeps this prompt")


class OptimizeRequest(Strict):
    run: RunIn = Field(default_factory=RunIn)
    score: ScoreIn


class JobOut(BaseModel):
    id: str
    kind: str = Field(
        description="optimize | propose | create (a new campaign's first reward-model fit) | import "
        "(the refit after results were imported)"
    )
    status: str = Field(description="queued | running | done | failed | cancelled")
    created: str
    started: str | None = Field(None, description="when it started running (ISO time)")
    finished: str | None = Field(None, description="when it finished (ISO time)")
    params: dict[str, Any]
    progress: dict[str, Any] = Field(
        description="the latest report: `message` in words (e.g. 'fine-tuning on the measured molecules: "
        "2/5 epochs'), `fraction` of the whole job done (0–1); propose, create and import also give "
        "`stage`, `done`, `total` and `unit` of the step running; optimize gives step, oracle_calls, "
        "budget, best, mean, …"
    )
    elapsed_s: float | None = Field(None, description="seconds it has run (until it finished)")
    remaining_s: float | None = Field(
        None, description="estimated seconds left while it runs (None: nothing to estimate from yet)"
    )
    estimate_from: str | None = Field(
        None,
        description="what remaining_s rests on: 'previous job' (the last one of this kind in this "
        "campaign) or 'steps' (this job's elapsed time and fraction done)",
    )
    error: str | None
    files: list[str] = Field(description="result files to download, once the job has finished")


# --- campaigns ----------------------------------------------------------------------------------


class CampaignSectionIn(Section):
    """The ``[campaign]`` table without ``model`` (the server's) and ``seed_data`` (use ``seed``)."""

    NULL_MEANS_NONE = frozenset({"max_similarity", "trust_similarity", "trust_core", "rl_kappa"})

    batch: int | None = Field(None, ge=1, le=1000)
    acquisition: Acquisition | None = None
    kappa: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    rl_kappa: Annotated[float, Field(ge=-10, le=10, allow_inf_nan=False)] | Literal["auto"] | None = Field(
        None, description="'auto': -1 in an open campaign, kappa in a series; null: kappa"
    )
    max_similarity: float | None = Field(None, gt=0, le=1, description="null: no similarity cap")
    candidates: int | None = Field(None, ge=10, description="at most the server's max_samples")
    rl_steps: int | None = Field(None, ge=0, le=500)
    rl_batch_size: int | None = Field(None, ge=1, le=512)
    min_measurements: int | None = Field(None, ge=4, le=10_000)
    finetune_epochs: int | None = Field(None, ge=0, le=100)
    finetune_min_steps: int | None = Field(None, ge=0, le=10_000)
    carry_agent: bool | None = None
    explore_share: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    inception: bool | None = None
    trust_similarity: float | None = Field(None, gt=0, le=1, description="null: no trust region")
    trust_scaffold: bool | None = None
    trust_core: float | None = Field(None, gt=0, le=1, description="null: no series-core rule")
    constitution_filter: bool | None = Field(
        None, description="drop candidates that break the default constitution (on unless false)"
    )
    seed: Seed | None = None


class RewardSectionIn(Section):
    features: Literal["fingerprints", "prior"] | None = None
    ensemble: int | None = Field(None, ge=2, le=20)
    hidden: int | None = Field(None, ge=1, le=2048)
    epochs: int | None = Field(None, ge=1, le=1000)
    cv_folds: int | None = Field(None, ge=0, le=10)
    parent_forms: bool | None = None


class SeedRow(Strict):
    smiles: Smiles
    value: Value = Field(description="the measured value, or the bound of a censored one")
    std: float | None = Field(None, gt=0, le=MAX_ABS_VALUE, allow_inf_nan=False)
    qualifier: Literal["<", "<=", ">", ">="] | None = Field(
        None, description="a censored result: '<' with value 5 is '<5' (below the assay's range)"
    )
    compound_id: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="the chemist's own ID of the compound, e.g. 'CHEM-0042'",
    )


class AssayIn(Strict):
    """What the campaign's values measure."""

    name: str = Field("value", min_length=1, max_length=100, description="e.g. 'pIC50 EGFR'")
    unit: str = Field("", max_length=30, description="e.g. 'log units', 'nM', '%'")
    direction: Literal["higher", "lower"] = Field("higher", description="which values are better")


class AssayOut(BaseModel):
    name: str
    unit: str
    direction: Literal["higher", "lower"]


class CampaignCreate(Strict):
    name: CampaignName
    core: Smiles | None = Field(
        None,
        description="a core to keep: a scaffold with '*' attachment points that every proposal decorates",
        examples=["Clc1cccc(N2CCN(*)CC2)c1Cl"],
    )
    campaign: CampaignSectionIn = Field(default_factory=CampaignSectionIn)
    reward: RewardSectionIn = Field(default_factory=RewardSectionIn)
    score: ScoreIn | None = Field(None, description="constraints and terms beside the learned reward")
    seed: list[SeedRow] = Field(
        default_factory=list, max_length=10_000, description="values measured before round 1 (round 0)"
    )
    assay: AssayIn | None = Field(
        None, description="what the values measure (default: 'value', no unit, higher is better)"
    )


class CampaignSummary(BaseModel):
    campaign: str
    created: str
    rounds: int
    molecules_tested: int
    archived: bool = Field(False, description="archived: no more propose or import")


class RoundStatus(BaseModel):
    round: int
    proposed: int
    measured: int
    best: float | None = Field(description="the best result; a censored one ('>8') counts at its bound")
    best_bound: str | None = Field(None, description="the best result as written when it is censored ('>8')")
    propose_seconds: float


class CampaignStatus(BaseModel):
    campaign: str
    assay: AssayOut = Field(description="what the values measure; best values follow its direction")
    core: str | None = Field(None, description="the core every proposal keeps (its prompt), if any")
    rounds: list[RoundStatus]
    seed_measurements: int
    best_seed: float | None
    best_seed_bound: str | None = Field(None, description="the seed's best as written when it is censored")
    molecules_tested: int
    best: float | None = Field(description="the best result; a censored one ('>8') counts at its bound")
    best_bound: str | None = Field(None, description="the best result as written when it is censored ('>8')")
    censored: int = Field(0, description="results beyond the assay's range ('<5'): bounds, not values")
    preferences: int
    ratings: int
    reward_model: dict[str, Any] | None = Field(
        description="size and cross-validated metrics of the latest fit"
    )
    reward_model_stale: bool = Field(
        description="feedback arrived since the latest fit; the next propose refits"
    )


class CampaignMolecule(BaseModel):
    key: str
    smiles: str
    compound_id: str | None = Field(
        None, description="the chemist's id from the results files' id column ('; ' between several)"
    )
    round: int = Field(description="the round that proposed it; 0 for seed and external data")
    rank: int | None
    predicted_mean: float | None
    predicted_std: float | None
    priority: float | None = Field(None, description="its acquisition score when proposed")
    nearest_smiles: str | None = Field(None, description="the nearest measured molecule when it was proposed")
    nearest_similarity: float | None = Field(None, description="ECFP4 Tanimoto to that molecule")
    nearest_value: float | None = Field(None, description="that molecule's measured value")
    out_of_domain: bool | None = Field(
        None,
        description="beyond the reward model's applicability domain (scored without an uncertainty bonus)",
    )
    value: float | None = Field(description="mean of its exact measurements, in the assay's unit")
    censored: list[str] = Field(
        default_factory=list, description="its results beyond the assay's range, as written ('<5')"
    )
    unit: str = Field("", description="the assay's unit")
    measurements: int
    external: bool


class ProposeRequest(Strict):
    batch: int | None = Field(
        None, ge=1, le=1000, description="molecules to propose (default: the campaign's)"
    )


class PreferenceIn(Strict):
    smiles_a: Smiles
    smiles_b: Smiles
    preferred: Literal["a", "b"]


class RatingIn(Strict):
    smiles: Smiles
    rating: int = Field(ge=1, le=5, strict=True)  # strict: JSON true is not the rating 1


class PreferenceRecorded(BaseModel):
    campaign: str
    id: int
    smiles_a: str = Field(description="canonical")
    smiles_b: str = Field(description="canonical")
    preferred: str


class RatingRecorded(BaseModel):
    campaign: str
    id: int
    smiles: str = Field(description="canonical")
    rating: int


class ImportResult(BaseModel):
    campaign: str
    imported: int
    kind: str | None = None
    note: str | None = None
    skipped: list[dict[str, Any]] = Field(
        default_factory=list, description="{row, message} of every bad row left out (skip_bad_rows)"
    )
    left_out: list[dict[str, Any]] = Field(
        default_factory=list,
        description="{row, message} of every row holding nothing new: no result yet (a blank value), "
        "or a result an earlier file stored already",
    )


class ResultsPreview(BaseModel):
    ok: bool
    kind: str | None
    rows: int
    sample: list[list[Any]] = Field(description="the first rows as parsed (canonical SMILES)")
    problems: list[dict[str, Any]] = Field(description="{row, message} for every bad row")
    good_rows: int = Field(0, description="rows an import with skip_bad_rows would store")
    left_out: list[dict[str, Any]] = Field(
        default_factory=list,
        description="{row, message} of every row an import leaves out as holding nothing new",
    )
    columns: dict[str, str | None] | None = Field(
        None, description="the file's headers read as the smiles, value and id columns"
    )
    header: list[str] | None = Field(
        None, description="the file's columns, when its SMILES or value column must be named"
    )
    other_forms: list[dict[str, Any]] = Field(
        [],
        description="{row, written, proposed}: a proposed molecule written in another protonation state "
        "or as a salt, stored under the SMILES it was proposed as",
    )


# --- people: who did what, the review counter and undo, judged pairs, notes, archive --------------


class PairCounts(BaseModel):
    campaign: str
    total: int = Field(description="pairs recorded in the campaign: chemists', imported and judged")
    by_you: int | None = Field(description="pairs the caller recorded one by one; null without a key")
    by_user: dict[str, int] = Field(description="pairs each user recorded one by one")


class PreferenceUndone(PreferenceRecorded):
    pass


class JudgedPair(BaseModel):
    id: int
    smiles_a: str
    smiles_b: str
    preferred: str
    judge: str
    constitution: str
    principle: str | None
    reason: str


class Overruled(BaseModel):
    campaign: str
    id: int
    preferred: str = Field(description="the molecule now preferred, as the chemist's own choice")
    overruled: str = Field(description="the judge that had decided it")


class NoteIn(Strict):
    text: str = Field(min_length=1, max_length=MAX_NOTE_LENGTH, description="plain text")


class NoteOut(BaseModel):
    id: int
    smiles: str
    author: str
    text: str
    created: str | None


class CampaignArchived(BaseModel):
    campaign: str
    archived: bool


class CampaignDeleted(BaseModel):
    campaign: str
    deleted: bool
    rows: dict[str, int] = Field(description="rows deleted, by table")
