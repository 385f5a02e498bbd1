"""SQLModel tables of the image index and the generation jobs, and their indexes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

__all__ = [
    "LEGACY_OWNER",
    "ApiToken",
    "Board",
    "BoardImage",
    "Favourite",
    "GenerationJob",
    "Image",
    "ImageKind",
    "JobStatus",
    "JobStatusType",
    "ShareLink",
    "StylePreset",
    "UTCDateTime",
    "Usage",
    "UserSession",
    "Visibility",
    "Webhook",
    "WebhookDelivery",
]

# The owner of images made before images had owners (and of those nobody can be traced to).
LEGACY_OWNER = "legacy"


class Visibility(StrEnum):
    """Who may see an image: its owner only, or everyone who may use the app."""

    PRIVATE = "private"
    SHARED = "shared"


class ImageKind(StrEnum):
    """How an image came to be; all but a generated one have source images."""

    GENERATED = "generated"
    EDITED = "edited"
    VARIATION = "variation"
    UPLOAD = "upload"


def planned_image_id(job_id: uuid.UUID, index: int) -> uuid.UUID:
    """The id the `index`th image of a job gets."""
    return uuid.uuid5(job_id, f"image {index}")


def join_ids(ids: list[uuid.UUID] | tuple[uuid.UUID, ...]) -> str:
    """Image ids as one column's text (space-separated hex, in order)."""
    return " ".join(image_id.hex for image_id in ids)


def split_ids(text: str | None) -> list[uuid.UUID]:
    """Space-separated ids (hex from join_ids, dashed in job rows); malformed ones skipped."""
    ids = []
    for part in (text or "").split():
        try:
            ids.append(uuid.UUID(hex=part))
        except ValueError:
            continue
    return ids


class UTCDateTime(sa.TypeDecorator):
    """A timezone-aware UTC datetime on every database (SQLite hands back naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        """Refuse naive values; store UTC."""
        if value is not None and value.tzinfo is None:
            msg = "naive datetimes are ambiguous; store UTC-aware values"
            raise ValueError(msg)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        """Mark values read back as UTC."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Image(SQLModel, table=True):
    """One stored image: where its blob is and what produced it."""

    __tablename__ = "image"
    # Serves "newest first" keyset pagination: ORDER BY created_at DESC, id DESC.
    __table_args__ = (
        sa.Index("ix_image_created_at_id", "created_at", "id"),
        # One owner's shared or private images (their private ones in "Everyone", all of
        # them in "Mine"), with the same keyset order.
        sa.Index(
            "ix_image_owner_visibility_created_at_id", "owner", "visibility", "created_at", "id"
        ),
        # "Everyone": the shared images, newest first.
        sa.Index("ix_image_visibility_created_at_id", "visibility", "created_at", "id"),
        # "Edits of this image": the images made from it.
        sa.Index("ix_image_source_id", "source_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    blob_name: str = Field(sa_column=sa.Column(sa.String(255), nullable=False, unique=True))
    prompt: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    provider: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    model: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    width: int
    height: int
    content_type: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    byte_size: int
    revised_prompt: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    thumbnail_blob_name: str | None = Field(
        default=None, sa_column=sa.Column(sa.String(255), nullable=True)
    )
    thumbnail_width: int | None = None
    thumbnail_height: int | None = None
    quality: str | None = Field(default=None, sa_column=sa.Column(sa.String(32), nullable=True))
    style: str | None = Field(default=None, sa_column=sa.Column(sa.String(32), nullable=True))
    # Who made it (`user:<name>`, `visitor:<id>`, LEGACY_OWNER), and who may see it.
    owner: str = Field(default=LEGACY_OWNER, sa_column=sa.Column(sa.String(128), nullable=False))
    visibility: str = Field(
        default=Visibility.SHARED.value, sa_column=sa.Column(sa.String(16), nullable=False)
    )
    kind: str = Field(
        default=ImageKind.GENERATED.value,
        sa_column=sa.Column(sa.String(16), nullable=False, server_default="generated"),
    )
    # Lineage: the image it was made from (edited, variation), and any further reference
    # images of an edit (`join_ids`). Not foreign keys: a source may be deleted later and its
    # descendants stay, saying so.
    source_id: uuid.UUID | None = Field(default=None, sa_column=sa.Column(sa.Uuid(), nullable=True))
    reference_ids: str = Field(
        default="", sa_column=sa.Column(sa.Text, nullable=False, server_default="")
    )
    # What the image's content credentials (C2PA) said, as ContentCredentials JSON; None: none.
    credentials: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    # The style preset it was made with (its name), whose words went to the provider.
    preset: str | None = Field(default=None, sa_column=sa.Column(sa.String(80), nullable=True))

    @property
    def sources(self) -> list[uuid.UUID]:
        """Every image it was made from, the main one first."""
        main = [self.source_id] if self.source_id is not None else []
        return main + split_ids(self.reference_ids)


class ImageRecord(NamedTuple("_ImageColumns", [(c.key, object) for c in Image.__table__.columns])):
    """An image as a page reads it: every column of `Image` as a read-only attribute.

    Built straight from a row (a page of ORM objects cost several times the query itself).
    """

    __slots__ = ()

    sources = Image.sources

    def as_dict(self) -> dict:
        """Column name to value."""
        return self._asdict()


class Favourite(SQLModel, table=True):
    """One user's star on one image: favourites are per user."""

    __tablename__ = "favourite"

    owner: str = Field(sa_column=sa.Column(sa.String(128), primary_key=True))
    image_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("image.id", ondelete="CASCADE"), primary_key=True
        )
    )
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class Board(SQLModel, table=True):
    """A named collection of images, with an owner and the images' private/shared rule."""

    __tablename__ = "board"
    __table_args__ = (
        sa.Index("ix_board_owner", "owner"),
        sa.Index("ix_board_visibility", "visibility"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    owner: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    visibility: str = Field(
        default=Visibility.PRIVATE.value, sa_column=sa.Column(sa.String(16), nullable=False)
    )
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class BoardImage(SQLModel, table=True):
    """One image in one board (an image may be in several; a board never owns its images)."""

    __tablename__ = "board_image"
    __table_args__ = (sa.Index("ix_board_image_image_id", "image_id"),)

    board_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("board.id", ondelete="CASCADE"), primary_key=True
        )
    )
    image_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("image.id", ondelete="CASCADE"), primary_key=True
        )
    )
    added_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class ShareLink(SQLModel, table=True):
    """A link that shows one image or one board to anyone holding it, until it ends.

    Only the SHA-256 of its token is kept: the link itself is shown once, to its maker.
    """

    __tablename__ = "share_link"
    __table_args__ = (sa.Index("ix_share_link_owner_created_at", "owner", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    digest: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    owner: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    # Exactly one of the two: what the link shows (the viewer it shows it as is `owner`).
    image_id: uuid.UUID | None = Field(
        default=None,
        sa_column=sa.Column(sa.Uuid(), sa.ForeignKey("image.id", ondelete="CASCADE")),
    )
    board_id: uuid.UUID | None = Field(
        default=None,
        sa_column=sa.Column(sa.Uuid(), sa.ForeignKey("board.id", ondelete="CASCADE")),
    )
    show_prompt: bool = Field(default=True, sa_column=sa.Column(sa.Boolean, nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    expires_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    revoked_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))


class StylePreset(SQLModel, table=True):
    """A user's own style: words added to the prompt sent to the provider, under a name."""

    __tablename__ = "style_preset"
    __table_args__ = (sa.UniqueConstraint("owner", "name", name="uq_style_preset_owner_name"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    name: str = Field(sa_column=sa.Column(sa.String(80), nullable=False))
    words: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class Usage(SQLModel, table=True):
    """One use of a metered action other than generating (a prompt suggestion: a paid call)."""

    __tablename__ = "usage"
    __table_args__ = (sa.Index("ix_usage_kind_owner_created_at", "kind", "owner", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    owner: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class JobMask(SQLModel, table=True):
    """An edit's mask (PNG), kept until its job ends, so that any worker can run the job."""

    __tablename__ = "job_mask"

    job_id: uuid.UUID = Field(primary_key=True)
    data: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))


class TeamMember(SQLModel, table=True):
    """A user's team, as single sign-on's groups claim said at their last sign-in."""

    __tablename__ = "team_member"
    __table_args__ = (sa.Index("ix_team_member_team", "team"),)

    user: str = Field(sa_column=sa.Column(sa.String(128), primary_key=True))  # the name
    team: str = Field(sa_column=sa.Column(sa.String(128), primary_key=True))
    updated_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class ApiToken(SQLModel, table=True):
    """A personal API token: only its SHA-256 is kept; it acts as its owner, within its scopes."""

    __tablename__ = "api_token"
    __table_args__ = (sa.Index("ix_api_token_owner_created_at", "owner", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    name: str = Field(sa_column=sa.Column(sa.String(100), nullable=False))
    digest: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    scopes: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))  # space-separated
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    last_used_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )


class JobStatus(StrEnum):
    """Where a generation job is in its life; the last three are final."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobStatusType(sa.TypeDecorator):
    """`JobStatus` in a short string column: plain text in the database, the enum in Python."""

    impl = sa.String(16)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        """Refuse anything that is not a status."""
        return None if value is None else JobStatus(value).value

    def process_result_value(self, value: str | None, dialect) -> JobStatus | None:
        """Read back as the enum."""
        return None if value is None else JobStatus(value)


class GenerationJob(SQLModel, table=True):
    """One submission of a prompt: queued, run under the caps, and its outcome kept.

    `images` is what the job counts against the cost limits: the images requested. A job that
    ends before its provider call started (cancelled or abandoned while queued) counts 0; once
    the call started, the images were paid for, so they count whatever happens after.
    `image_ids` are the images it kept. `heartbeat_at` is written by the database's clock.
    """

    __tablename__ = "generation_job"
    __table_args__ = (
        # The queue: what is waiting or running, in start order (see `turn`).
        sa.Index("ix_generation_job_status_turn_created_at", "status", "turn", "created_at"),
        # One user's jobs and their images in a time window.
        sa.Index("ix_generation_job_owner_created_at", "owner", "created_at"),
        # The whole app's images in a time window.
        sa.Index("ix_generation_job_created_at", "created_at"),
        # Visitors' images from one address in a time window.
        sa.Index("ix_generation_job_client_created_at", "client", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    prompt: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    size: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    quality: str | None = Field(default=None, sa_column=sa.Column(sa.String(32), nullable=True))
    style: str | None = Field(default=None, sa_column=sa.Column(sa.String(32), nullable=True))
    n: int = 1
    # What the job makes (an ImageKind other than upload) and from which images (`join_ids`,
    # the main source first). An edit's mask waits in `JobMask` for whichever worker runs it.
    kind: str = Field(
        default=ImageKind.GENERATED.value,
        sa_column=sa.Column(sa.String(16), nullable=False, server_default="generated"),
    )
    source_ids: str = Field(
        default="", sa_column=sa.Column(sa.Text, nullable=False, server_default="")
    )
    background: str | None = Field(default=None, sa_column=sa.Column(sa.String(16), nullable=True))
    complexity: str | None = Field(default=None, sa_column=sa.Column(sa.String(16), nullable=True))
    status: JobStatus = Field(sa_column=sa.Column(JobStatusType(), nullable=False))
    # Round-robin start order: how many jobs its owner already had waiting or running when it
    # was submitted. Jobs start by (turn, created_at): everyone's first job before anyone's
    # second, so one person's burst does not hold up the others.
    turn: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )
    images: int = 0
    image_ids: str = Field(
        default="", sa_column=sa.Column(sa.Text, nullable=False, server_default="")
    )
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    started_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    finished_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    heartbeat_at: datetime | None = Field(
        default=None, sa_column=sa.Column(UTCDateTime(), nullable=True)
    )
    provider_ms: int | None = None  # the provider's own share of the running time
    # The model menu's key ("provider/model") the job runs on; None: the studio's default.
    model: str | None = Field(default=None, sa_column=sa.Column(sa.String(200), nullable=True))
    # What the provider said the call used (tokens, images, seconds), as JSON: the price of
    # the call is worked out from it.
    usage: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    # Money, in micro-dollars: the estimate reserved at submission, and what the job cost once
    # it ended (None while it runs). A job that ended before its provider call cost nothing.
    estimated_micros: int = Field(
        default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="0")
    )
    cost_micros: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    worker: str | None = Field(default=None, sa_column=sa.Column(sa.String(128), nullable=True))
    # Times the job went back to the queue after its worker vanished mid-call (at most one,
    # see `JobQueue.recover_lost`), and what those lost calls cost: counted with the job's
    # spend, since a call that started is paid for whatever became of it.
    retries: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )
    lost_micros: int = Field(
        default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="0")
    )
    seen: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )
    # The address a visitor without an account submitted from: visitors are limited per
    # address as well as per cookie (a new cookie is a new visitor, a new address is not).
    client: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    # The style preset chosen (its name) and the words it added to the provider's prompt.
    preset: str | None = Field(default=None, sa_column=sa.Column(sa.String(80), nullable=True))
    preset_words: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    # The board its images join (chosen in the gallery when it was submitted), if any.
    board_id: uuid.UUID | None = Field(default=None, sa_column=sa.Column(sa.Uuid(), nullable=True))


class Webhook(SQLModel, table=True):
    """A URL told of every end of its owner's jobs (POSTs signed with a key of its own).

    The signing secret is not stored: it is derived from the app's session key and the id
    (`services/webhooks`), so a copy of the database signs nothing.
    """

    __tablename__ = "webhook"
    __table_args__ = (sa.Index("ix_webhook_owner_created_at", "owner", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    url: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


class WebhookDelivery(SQLModel, table=True):
    """One job end told to one webhook: the body sent, each attempt's outcome, the next try.

    Rows are written in the transaction that ends the job, so no end goes untold; a worker
    takes a due delivery by moving its `next_attempt_at` on (a lease), then sends it.
    """

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        sa.Index("ix_webhook_delivery_webhook_created_at", "webhook_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    webhook_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("webhook.id", ondelete="CASCADE"), nullable=False
        )
    )
    job_id: uuid.UUID = Field(sa_column=sa.Column(sa.Uuid(), nullable=False))
    event: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    status: str = Field(
        sa_column=sa.Column(sa.String(16), nullable=False)
    )  # pending/delivered/failed
    attempts: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False))
    response_status: int | None = Field(default=None, sa_column=sa.Column(sa.Integer))
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    next_attempt_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    last_attempt_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))


class UserSession(SQLModel, table=True):
    """A signed-in browser: its token names this row, and ending the row ends the session.

    The token itself (signed, see services/access/sessions.py) is never stored; `id` is the
    random session id inside it, which opens nothing without the signature.
    """

    __tablename__ = "user_session"
    __table_args__ = (sa.Index("ix_user_session_principal", "principal"),)

    id: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    principal: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    client: str | None = Field(default=None, sa_column=sa.Column(sa.String(64)))
