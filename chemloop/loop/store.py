"""Campaign state in a SQL database (SQLAlchemy): a SQLite file by default, PostgreSQL by URL.

Every command is one transaction (``session_scope``): a process killed mid-way leaves the
database as the last committed command left it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
    validates,
)

from chemloop.errors import ChemloopError

DEFAULT_DB = "sqlite:///chemloop.db"
# A new campaign's name: what a web address, a file name and a shell argument carry as typed. Every
# face creates campaigns through Campaign, so the CLI, the HTTP API, the web app and MCP share it;
# campaigns stored before the rule keep their names and stay readable.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$"
NAME_RULE = "1–100 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit"
MAX_NAME_LENGTH = 200  # the column's size: longer names cannot be stored


def check_campaign_name(name: str) -> str:
    """``name`` if a new campaign may take it, else a :class:`ChemloopError` stating the rule."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise ChemloopError(f"campaign name {name[:120]!r}: use {NAME_RULE}")
    return name


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Campaign(Base):
    __tablename__ = "campaign"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    config_json: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    rounds: Mapped[list[Round]] = relationship(back_populates="campaign", order_by="Round.number")

    @validates("name")
    def _name_rule(self, _key: str, name: str) -> str:
        return check_campaign_name(name)  # on creation or rename; rows loaded from the database pass


class Round(Base):
    """One ``propose``: the molecules chosen to make and test, with their predictions."""

    __tablename__ = "round"
    __table_args__ = (UniqueConstraint("campaign_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    number: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    acquisition: Mapped[str] = mapped_column(String(20))
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    campaign: Mapped[Campaign] = relationship(back_populates="rounds")
    proposals: Mapped[list[Proposal]] = relationship(back_populates="round", order_by="Proposal.rank")


class Proposal(Base):
    __tablename__ = "proposal"
    __table_args__ = (UniqueConstraint("round_id", "smiles"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id"))
    rank: Mapped[int] = mapped_column(Integer)
    smiles: Mapped[str] = mapped_column(Text)  # canonical
    predicted_mean: Mapped[float | None] = mapped_column(Float, nullable=True)
    predicted_std: Mapped[float | None] = mapped_column(Float, nullable=True)
    priority: Mapped[float | None] = mapped_column(Float, nullable=True)
    round: Mapped[Round] = relationship(back_populates="proposals")


class ProposalExplanation(Base):
    """Why a molecule was proposed, as it stood then: its nearest measured molecule and whether it lay
    outside the reward model's applicability domain (a table of its own, so databases made before it
    gain it without a migration)."""

    __tablename__ = "proposal_explanation"
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposal.id"), primary_key=True)
    nearest_smiles: Mapped[str | None] = mapped_column(Text, nullable=True)
    nearest_similarity: Mapped[float] = mapped_column(Float)
    nearest_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    out_of_domain: Mapped[bool] = mapped_column(Boolean)


class ImportedFile(Base):
    """A results file, by content hash: importing the same file twice changes nothing."""

    __tablename__ = "imported_file"
    __table_args__ = (UniqueConstraint("campaign_id", "sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Measurement(Base):
    __tablename__ = "measurement"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("imported_file.id"), nullable=True)
    smiles: Mapped[str] = mapped_column(Text)  # canonical
    value: Mapped[float] = mapped_column(Float)
    std: Mapped[float | None] = mapped_column(Float, nullable=True)
    round_number: Mapped[int] = mapped_column(Integer)  # 0: seed data; else the round that proposed it
    external: Mapped[bool] = mapped_column(Boolean, default=False)


class AssayDefinition(Base):
    """What a campaign's values measure: the assay's name, its unit and whether higher or lower is
    better (a table of its own, so databases made before it gain it without a migration; a campaign
    without a row here reads as "value", no unit, higher is better: see ``chemloop.loop.assay``)."""

    __tablename__ = "assay"
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(30), default="")
    direction: Mapped[str] = mapped_column(String(6), default="higher")  # "higher" or "lower"


class CensoredMeasurement(Base):
    """A result beyond the assay's range (``<5``, ``>=10``): a bound, not a value. Kept apart from
    :class:`Measurement` so no reader of exact values ever takes a bound for one; the reward model
    uses it as pairs (see ``chemloop.loop.reward_store``)."""

    __tablename__ = "censored_measurement"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("imported_file.id"), nullable=True)
    smiles: Mapped[str] = mapped_column(Text)  # canonical
    qualifier: Mapped[str] = mapped_column(String(2))  # "<", "<=", ">" or ">="
    bound: Mapped[float] = mapped_column(Float)
    round_number: Mapped[int] = mapped_column(Integer)  # as Measurement.round_number
    external: Mapped[bool] = mapped_column(Boolean, default=False)


MAX_COMPOUND_ID_LENGTH = 100  # characters of a chemist's compound id: a registration number, not a note


class CompoundId(Base):
    """The chemist's own id of a measured molecule (a registration number such as ``EGFR-0042``),
    from the id column of a results or seed file (``id``, ``compound_id``, ``name``: see
    ``chemloop.loop.columns``); one row per molecule and id in each file, so a molecule registered
    under two ids keeps both. A table of its own, so databases made before it gain it without a
    migration; a molecule without a row here has no id but chemloop's."""

    __tablename__ = "compound_id"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("imported_file.id"), nullable=True)
    smiles: Mapped[str] = mapped_column(Text)  # canonical
    compound_id: Mapped[str] = mapped_column(String(MAX_COMPOUND_ID_LENGTH))


class Preference(Base):
    """A chemist's choice between two molecules (from a file, the web app or the API)."""

    __tablename__ = "preference"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("imported_file.id"), nullable=True)
    smiles_a: Mapped[str] = mapped_column(Text)
    smiles_b: Mapped[str] = mapped_column(Text)
    preferred: Mapped[str] = mapped_column(String(1))  # "a" or "b"
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class PreferenceSource(Base):
    """Who decided a preference, where it was not a chemist: an AI judge under a constitution, with
    the principle that decided and its one-line reason (a table of its own, so databases made before
    it gain it without a migration; a preference without a row here is a chemist's)."""

    __tablename__ = "preference_source"
    preference_id: Mapped[int] = mapped_column(ForeignKey("preference.id"), primary_key=True)
    judge: Mapped[str] = mapped_column(String(200))
    constitution: Mapped[str] = mapped_column(String(200))
    principle: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")


class Rating(Base):
    """A chemist's 1–5 rating of one molecule."""

    __tablename__ = "rating"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("imported_file.id"), nullable=True)
    smiles: Mapped[str] = mapped_column(Text)
    rating: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class RewardModelVersion(Base):
    """The reward model fitted after an import: its files as bytes, and its CV quality."""

    __tablename__ = "reward_model"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    measurements: Mapped[int] = mapped_column(Integer)
    weights: Mapped[bytes] = mapped_column(LargeBinary)
    metadata_json: Mapped[str] = mapped_column(Text)
    metrics_json: Mapped[str] = mapped_column(Text)


class AgentSnapshot(Base):
    """The agent a propose ended with (``carry_agent``): its weights as safetensors bytes and its
    replay memory's SMILES; only the newest is kept. A table of its own: older databases gain it."""

    __tablename__ = "agent_snapshot"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    round_number: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    weights: Mapped[bytes] = mapped_column(LargeBinary)
    memory_json: Mapped[str] = mapped_column(Text)


# --- people: named users, who did what, notes, archived campaigns -------------------------------
# Tables of their own (databases made before them gain them without a migration).

USER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MAX_NOTE_LENGTH = 2000  # characters of one note: a remark, not a report


class User(Base):
    """A named user of the web app and the HTTP API: a name and the SHA-256 of the user's key."""

    __tablename__ = "chemloop_user"  # "user" is a reserved word in PostgreSQL
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Attribution(Base):
    """Who stored a row of feedback: ``kind`` names the table (``preference``, ``rating``, ``file``
    for an uploaded or imported results file, a campaign's seed file included, ``overrule`` for a
    judged preference a user reversed) and ``row_id`` the row. The command line stores as
    ``cli:<login name>``. A row without one was stored before users had names."""

    __tablename__ = "attribution"
    __table_args__ = (UniqueConstraint("kind", "row_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    row_id: Mapped[int] = mapped_column(Integer)
    user: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Note(Base):
    """A chemist's short note on one molecule of a campaign."""

    __tablename__ = "note"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    smiles: Mapped[str] = mapped_column(Text)  # canonical
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class CampaignArchive(Base):
    """An archived campaign: hidden from the campaign list by default, no more propose or import."""

    __tablename__ = "campaign_archive"
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    user: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


def connect(url: str = DEFAULT_DB) -> sessionmaker[Session]:
    """A session factory for ``url``; creates the tables on first use."""
    try:
        engine: Engine = create_engine(url)
        Base.metadata.create_all(engine)
    except (ArgumentError, OperationalError) as err:
        raise ChemloopError(
            f"cannot open campaign database {url!r}: {err.__class__.__name__}: {err}"
        ) from None
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: committed if the block finishes, rolled back if it raises."""
    with factory() as session, session.begin():
        yield session


def lock_campaign(session: Session, campaign_id: int) -> None:
    """Hold campaign ``campaign_id`` for writing until the transaction ends (its row in PostgreSQL,
    the database in SQLite, by a write that changes nothing): a second import waits here, then
    reads what the first stored, so the two cannot both store a row each found missing."""
    session.execute(update(Campaign).where(Campaign.id == campaign_id).values(name=Campaign.name))


class UnknownCampaignError(ChemloopError):
    """A campaign name the database does not hold (the HTTP API answers 404)."""


def get_campaign(session: Session, name: str) -> Campaign:
    # A name no row can hold (too long, a NUL that PostgreSQL refuses) is simply not there.
    fits = len(name) <= MAX_NAME_LENGTH and "\x00" not in name
    campaign = session.scalar(select(Campaign).where(Campaign.name == name)) if fits else None
    if campaign is None:
        known = session.scalars(select(Campaign.name).order_by(Campaign.name)).all()
        raise UnknownCampaignError(f"no campaign named {name!r}; known: {', '.join(known) or 'none'}")
    return campaign
