"""The data model (SQLAlchemy 2). Alembic migrations in migrations/ create it.

Times are stored as naive UTC and come back timezone-aware (UTC); see `UTCDateTime`.
Phones are E.164 strings (`gateway.phone.normalize`).
"""
import datetime as dt

from sqlalchemy import (
    JSON, BigInteger, Boolean, Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text,
    TypeDecorator, UniqueConstraint, false, select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from gateway import categories


def utcnow():
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """Naive UTC in the database on every backend, aware UTC in Python."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=dt.timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime}
    # Named constraints, so migrations can drop and alter them on every backend.
    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


class Timestamped:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# Levels of the area tree (province → commune/ward → neighbourhood or village → team, the
# two-tier local government since 1 July 2025); `kind` is the local word shown to people.
AREA_LEVELS = ("province", "commune", "neighbourhood", "team")
AREA_KINDS = {
    "province": ("tinh", "thanh_pho"),
    "commune": ("xa", "phuong", "dac_khu", "thi_tran"),
    "neighbourhood": ("khu_pho", "thon", "ban", "ap", "xom", "to_dan_pho"),
    "team": ("to",),
}
KIND_LABELS = {
    "tinh": "Tỉnh", "thanh_pho": "Thành phố", "xa": "Xã", "phuong": "Phường", "dac_khu": "Đặc khu",
    "thi_tran": "Thị trấn", "khu_pho": "Khu phố", "thon": "Thôn", "ban": "Bản", "ap": "Ấp",
    "xom": "Xóm", "to_dan_pho": "Tổ dân phố", "to": "Tổ",
}


class Area(Timestamped, Base):
    """A commune or ward, a neighbourhood in it, or a team in a neighbourhood."""

    __tablename__ = "areas"
    __table_args__ = (UniqueConstraint("parent_id", "code", name="uq_areas_parent_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    level: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    # Short code people text ("KP5", "TANLOI"); unique among siblings.
    code: Mapped[str] = mapped_column(String(30))
    # Where reports and announcements are mirrored: a name from the mirror registry and
    # the chat id there. Empty: inherit from the parent.
    group_target: Mapped[str | None] = mapped_column(String(30))
    group_chat_id: Mapped[str | None] = mapped_column(String(120))
    hotline_number: Mapped[str | None] = mapped_column(String(20))
    duty_officer_phone: Mapped[str | None] = mapped_column(String(20))
    # Further settings (quiet hours, timezone, callback policy); children inherit.
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    # A retired area drops out of pickers, targeting and lists; its old rows stay readable.
    # A merged one is retired too and points at the area that took its households.
    retired_at: Mapped[dt.datetime | None]
    merged_at: Mapped[dt.datetime | None]
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"))

    parent: Mapped["Area | None"] = relationship(remote_side=[id], back_populates="children",
                                                 foreign_keys=[parent_id])
    children: Mapped[list["Area"]] = relationship(back_populates="parent", order_by="Area.id",
                                                  foreign_keys=[parent_id])
    merged_into: Mapped["Area | None"] = relationship(remote_side=[id], foreign_keys=[merged_into_id])
    aliases: Mapped[list["AreaAlias"]] = relationship(back_populates="area", order_by="AreaAlias.id",
                                                      cascade="all, delete-orphan")

    @property
    def active(self):
        """False once the area is retired or merged into another."""
        return self.retired_at is None

    @property
    def label(self):
        """The name people use, e.g. "Khu phố 5"."""
        return self.name

    def ancestors(self):
        """This area, its parent, and so on up to the root (the province, when there is one)."""
        node = self
        while node is not None:
            yield node
            node = node.parent

    def commune(self):
        """The commune or ward this area belongs to (itself for a commune); None for a province."""
        for node in self.ancestors():
            if node.level == "commune":
                return node
        return None

    def province(self):
        """The province above this area, or None on an install without one."""
        for node in self.ancestors():
            if node.level == "province":
                return node
        return None

    def inherited(self, attr, default=None):
        """A column (e.g. `hotline_number`) or a `settings` key from the nearest ancestor that sets it."""
        for node in self.ancestors():
            value = getattr(node, attr) if attr in Area.__table__.columns else (node.settings or {}).get(attr)
            if value not in (None, ""):
                return value
        return default

    def descendant_ids(self, session):
        """Ids of this area and everything below it."""
        ids, frontier = [self.id], [self.id]
        while frontier:
            frontier = list(session.scalars(select(Area.id).where(Area.parent_id.in_(frontier))))
            ids.extend(frontier)
        return ids


class AreaAlias(Base):
    """An old name or code an area is still known by (after a merge or a rename)."""

    __tablename__ = "area_aliases"
    __table_args__ = (UniqueConstraint("area_id", "key", name="uq_area_aliases_area_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), index=True)
    # As people wrote it ("Khu phố 6", "KP6"), and its matching key (gateway.areas.area_key).
    name: Mapped[str] = mapped_column(String(120))
    key: Mapped[str] = mapped_column(String(120), index=True)
    # "name" (said on the hotline: "Khu phố 5, gồm cả Khu phố 6 cũ") or "code" (texted: DK KP6).
    kind: Mapped[str] = mapped_column(String(10), default="name")
    # merge, rename, import
    source: Mapped[str] = mapped_column(String(20), default="rename")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    area: Mapped[Area] = relationship(back_populates="aliases")


class Resident(Timestamped, Base):
    """A household's phone: one row per E.164 number."""

    __tablename__ = "residents"
    # The console lists households by name, a page at a time: at province size (300 000) the
    # index gives the first page without sorting them all.
    __table_args__ = (Index("ix_residents_name_id", "name", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    household_code: Mapped[str | None] = mapped_column(String(40))
    is_elderly: Mapped[bool] = mapped_column(Boolean, default=False)
    is_poor: Mapped[bool] = mapped_column(Boolean, default=False)
    no_smartphone: Mapped[bool] = mapped_column(Boolean, default=False)
    prefers_sms: Mapped[bool] = mapped_column(Boolean, default=True)
    prefers_voice: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[dt.datetime | None]
    # How we got the right to contact them: "import:<file>", "sms", "ivr", "console".
    consent_source: Mapped[str] = mapped_column(String(120), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    # The language the household listens in (gateway.languages: "vi", or one its commune added).
    language: Mapped[str] = mapped_column(String(8), default="vi", server_default="vi")

    area: Mapped[Area | None] = relationship()
    subscriptions: Mapped[list["Subscription"]] = relationship(back_populates="resident", cascade="all, delete-orphan")

    @property
    def opted_out(self):
        return self.opted_out_at is not None


class Subscription(Base):
    """An extra area a resident follows (texted `DK KP5`), beside their own."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("resident_id", "area_id", name="uq_subscriptions_resident_area"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(20), default="sms")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    resident: Mapped[Resident] = relationship(back_populates="subscriptions")
    area: Mapped[Area] = relationship()


official_areas = Table(
    "official_areas",
    Base.metadata,
    Column("official_id", ForeignKey("officials.id", ondelete="CASCADE"), primary_key=True),
    Column("area_id", ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True),
)

# province: every commune of its province; admin: its commune; leader: its areas; operator: loudspeakers.
OFFICIAL_ROLES = ("province", "admin", "leader", "operator")


class Official(Timestamped, Base):
    """Someone who logs in: a commune admin, an area leader or a loudspeaker operator."""

    __tablename__ = "officials"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    role: Mapped[str] = mapped_column(String(20), default="leader")
    phone: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    # sha256 of the API token; the token itself is shown once.
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    areas: Mapped[list[Area]] = relationship(secondary=official_areas)
    # Their accounts in the group chats: replies from these are relayed to residents.
    accounts: Mapped[list["OfficialAccount"]] = relationship(back_populates="official", cascade="all, delete-orphan")

    def link_account(self, platform, user_id):
        """Make `user_id` this official's account on `platform` (replacing any earlier one)."""
        for account in self.accounts:
            if account.platform == platform:
                account.user_id = user_id
                return account
        account = OfficialAccount(platform=platform, user_id=user_id)
        self.accounts.append(account)
        return account


class OfficialAccount(Base):
    """An official's user id on a group platform (a mirror target name: telegram, zalo)."""

    __tablename__ = "official_accounts"
    __table_args__ = (UniqueConstraint("platform", "user_id", name="uq_official_accounts_platform_user"),
                      UniqueConstraint("official_id", "platform", name="uq_official_accounts_official_platform"))

    id: Mapped[int] = mapped_column(primary_key=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(80))

    official: Mapped[Official] = relationship(back_populates="accounts")


announcement_areas = Table(
    "announcement_areas",
    Base.metadata,
    Column("announcement_id", ForeignKey("announcements.id", ondelete="CASCADE"), primary_key=True),
    Column("area_id", ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True),
)

PRIORITIES = ("normal", "urgent", "emergency")
AUDIENCES = ("everyone", "elderly", "poor", "no_smartphone")
CHANNELS = ("sms", "voice", "hotline", "loudspeaker", "group")


class Announcement(Timestamped, Base):
    """What an official says once, for every channel to carry."""

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(40), default="general")
    priority: Mapped[str] = mapped_column(String(20), default="normal")
    audiences: Mapped[list] = mapped_column(JSON, default=lambda: ["everyone"])
    channels: Mapped[list] = mapped_column(JSON, default=lambda: ["sms", "hotline"])
    send_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]
    # draft, scheduled, sending, sent, cancelled, failed
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    sms_text: Mapped[str | None] = mapped_column(Text)
    # When the start job recorded its fan-out plan (the BroadcastChunk rows); None until then.
    planned_at: Mapped[dt.datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("officials.id", ondelete="SET NULL"))
    # The official's own recording, when there is one; it comes before synthesis.
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("audio_assets.id", ondelete="SET NULL"))
    # The rendition every channel plays (rendered from the recording or the text).
    audio_id: Mapped[int | None] = mapped_column(ForeignKey("audio_assets.id", ondelete="SET NULL"))

    areas: Mapped[list[Area]] = relationship(secondary=announcement_areas)
    created_by: Mapped[Official | None] = relationship()
    recording: Mapped["AudioAsset | None"] = relationship(foreign_keys=[recording_id])
    audio: Mapped["AudioAsset | None"] = relationship(foreign_keys=[audio_id])


class BroadcastChunk(Timestamped, Base):
    """One step of an announcement's sending, recorded so a lost job can be found and redone:
    a fan-out chunk (kind "fanout", residents first_id..last_id) or its group posts ("groups")."""

    __tablename__ = "broadcast_chunks"
    __table_args__ = (UniqueConstraint("announcement_id", "kind", "first_id", name="uq_broadcast_chunks_step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10), default="fanout")
    first_id: Mapped[int] = mapped_column(Integer, default=0)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    # pending, done, failed
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    # Times the reconciler enqueued it again after its job was lost.
    requeued: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[dt.datetime | None]


class AudioAsset(Base):
    """A sound file we serve: an upload, a synthesized rendition, a prompt, a bulletin."""

    __tablename__ = "audio_assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    # recording, announcement, prompt, bulletin
    kind: Mapped[str] = mapped_column(String(20))
    # Hash of what it was made from (text or recording, engine, voice, options): the cache key.
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str | None] = mapped_column(Text)
    engine: Mapped[str | None] = mapped_column(String(20))
    voice: Mapped[str | None] = mapped_column(String(40))
    # pending, ready, failed
    status: Mapped[str] = mapped_column(String(20), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    fallback_used: Mapped[bool] = mapped_column(Boolean, default=False)
    # Paths relative to AUDIO_DIR.
    mp3_path: Mapped[str | None] = mapped_column(String(255))
    phone_path: Mapped[str | None] = mapped_column(String(255))
    original_path: Mapped[str | None] = mapped_column(String(255))
    duration_ms: Mapped[int | None]
    loudness_lufs: Mapped[float | None]
    true_peak_dbtp: Mapped[float | None]
    mp3_bytes: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # How it is rendered: {"layout": {...}, "engine_options": {...}} (audio.spec), so a job can
    # render it again from this row alone.
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    # The uploaded recording a rendition is made from (an announcement read in the official's voice).
    source_id: Mapped[int | None] = mapped_column(ForeignKey("audio_assets.id", ondelete="SET NULL"))
    # The file name the official uploaded.
    original_name: Mapped[str | None] = mapped_column(String(255))
    phone_bytes: Mapped[int | None]
    phone_loudness_lufs: Mapped[float | None]
    phone_true_peak_dbtp: Mapped[float | None]
    rendered_at: Mapped[dt.datetime | None]

    source: Mapped["AudioAsset | None"] = relationship(remote_side=[id])


SENDER_HEALTH = ("ok", "failing", "down")


class Sender(Timestamped, Base):
    """One way a commune sends SMS: an Android phone or one of its SIMs, a Kannel SMSC, an account."""

    __tablename__ = "senders"

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    # A name from the SMS provider registry (android, kannel, twilio, esms, outbox).
    provider: Mapped[str] = mapped_column(String(30))
    # The number residents see and text back (E.164, or a short code / brandname).
    number: Mapped[str | None] = mapped_column(String(20), index=True)
    sim_number: Mapped[int | None] = mapped_column(Integer)  # Android: which SIM slot (1-3)
    smsc_id: Mapped[str | None] = mapped_column(String(60))  # Kannel: the smsc-id to route through
    # The provider's settings for this sender only (e.g. SMS_ANDROID_URL of this phone).
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    per_minute: Mapped[int | None] = mapped_column(Integer)
    per_hour: Mapped[int | None] = mapped_column(Integer)
    per_day: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # ok; failing (repeated errors); down (its health check failed). Only "ok" senders send.
    health: Mapped[str] = mapped_column(String(20), default="ok")
    health_reason: Mapped[str | None] = mapped_column(String(300))
    health_checked_at: Mapped[dt.datetime | None]
    errors_in_a_row: Mapped[int] = mapped_column(Integer, default=0)

    commune: Mapped[Area] = relationship()


# The areas an asset was uploaded or made for (an official's recording, a preview): who may
# hear it besides the areas of the reports and announcements that use it.
audio_asset_areas = Table(
    "audio_asset_areas",
    Base.metadata,
    Column("asset_id", ForeignKey("audio_assets.id", ondelete="CASCADE"), primary_key=True),
    Column("area_id", ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True, index=True),
)


DELIVERY_STATUSES = (
    "pending", "sending", "queued", "sent", "delivered", "answered", "confirmed",
    "undelivered", "no_answer", "busy", "failed", "cancelled", "skipped",
)


class Delivery(Timestamped, Base):
    """One announcement (or notice) to one recipient on one channel."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    # e.g. "ann:12:res:345:sms"; a retried or duplicated job finds the row and does not resend.
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    announcement_id: Mapped[int | None] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"), index=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    body: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(String(30))
    provider_id: Mapped[str | None] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(40))
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]
    confirmed_at: Mapped[dt.datetime | None]
    # The commune's sender (phone, SIM, SMSC) an SMS went out through; None: the configured provider.
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("senders.id", ondelete="SET NULL"), index=True)

    announcement: Mapped[Announcement | None] = relationship()
    resident: Mapped[Resident | None] = relationship()


REPORT_STATUSES = ("new", "acknowledged", "in_progress", "resolved", "rejected")
# What officials and the group read.
STATUS_LABELS = {"new": "Mới", "acknowledged": "Đã tiếp nhận", "in_progress": "Đang xử lý",
                 "resolved": "Đã giải quyết", "rejected": "Không xử lý"}


class Report(Timestamped, Base):
    """What a resident sent: a case with a number they can quote."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("commune_id", "number", name="uq_reports_commune_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    number: Mapped[int] = mapped_column(Integer)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"), index=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    # sms, voice, web, open311
    channel: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(30), default=categories.DEFAULT)  # a code of gateway.categories
    # Exactly as received (NFC).
    text: Mapped[str] = mapped_column(Text, default="")
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("audio_assets.id", ondelete="SET NULL"))
    # The provider's URL of a voice report's recording, until it is fetched into our storage.
    recording_url: Mapped[str | None] = mapped_column(Text)
    transcript: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    # Where, when a report came with a place (Open311 clients).
    address: Mapped[str | None] = mapped_column(String(255))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    last_message_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # True when something received could not be stored as it was (NUL, a lone surrogate, too long).
    sanitized: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    area: Mapped[Area | None] = relationship(foreign_keys=[area_id])
    resident: Mapped[Resident | None] = relationship()
    recording: Mapped[AudioAsset | None] = relationship()
    events: Mapped[list["ReportEvent"]] = relationship(
        back_populates="report", order_by="ReportEvent.id", cascade="all, delete-orphan"
    )


class ReportEvent(Base):
    """The thread of a report: messages in and out, and every status change."""

    __tablename__ = "report_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    # status, message_in, message_out, note
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str | None] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text, default="")
    official_id: Mapped[int | None] = mapped_column(ForeignKey("officials.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    report: Mapped[Report] = relationship(back_populates="events")
    official: Mapped[Official | None] = relationship()


class InboundMessage(Base):
    """Every SMS received, as received (NFC), whatever became of it."""

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("provider", "provider_message_id", name="uq_inbound_provider_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(30))
    provider_message_id: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    to_number: Mapped[str | None] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text, default="")
    intent: Mapped[str | None] = mapped_column(String(20))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="SET NULL"))
    # The answer given, so a provider's redelivery of the same webhook gets it again (and the report's
    # thread shows it).
    reply: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    # True when something received could not be stored as it was (NUL, a lone surrogate, too long).
    sanitized: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Counter(Base):
    """Per-commune sequences, e.g. report numbers residents can quote."""

    __tablename__ = "counters"

    commune_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(30), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class PolicyVersion(Base):
    """A number raised by every transaction that changes what a webhook may answer from a cache
    (announcements, their areas and audio, the areas): see gateway.announcements.cache."""

    __tablename__ = "policy_versions"

    name: Mapped[str] = mapped_column(String(30), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class OutboxMessage(Base):
    """What the outbox providers "sent": SMS, calls and group posts kept for the web UI."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    # sms, voice, group
    channel: Mapped[str] = mapped_column(String(20), index=True)
    # A phone (E.164) or a group chat id.
    recipient: Mapped[str] = mapped_column(String(120), index=True)
    body: Mapped[str] = mapped_column(Text, default="")
    media_url: Mapped[str | None] = mapped_column(String(500))
    status_callback: Mapped[str | None] = mapped_column(String(500))
    meta: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class GroupPost(Timestamped, Base):
    """One message into a group chat: a mirrored report, a status change, an announcement."""

    __tablename__ = "group_posts"
    __table_args__ = (Index("ix_group_posts_message", "target", "chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # e.g. "report:12:event:40"; posting twice is refused by the database.
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    announcement_id: Mapped[int | None] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"))
    target: Mapped[str] = mapped_column(String(30))
    chat_id: Mapped[str] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text)
    # The platform message this one answers (a status change replies to the report's post).
    reply_to: Mapped[str | None] = mapped_column(String(100))
    message_id: Mapped[str | None] = mapped_column(String(100))
    # pending, posting, posted, failed
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime | None]
    posted_at: Mapped[dt.datetime | None]

    report: Mapped["Report | None"] = relationship()


class OperatorLink(Timestamped, Base):
    """A loudspeaker operator's private link to one area's audio: page, feed and downloads.

    The token is shown once and stored hashed; revoking the link closes all three."""

    __tablename__ = "operator_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), index=True)
    # Who holds it, e.g. "Ông Ba – loa khu phố 5"; an operator's login when they have one.
    label: Mapped[str] = mapped_column(String(120))
    official_id: Mapped[int | None] = mapped_column(ForeignKey("officials.id", ondelete="SET NULL"))
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]

    area: Mapped[Area] = relationship()


class Bulletin(Timestamped, Base):
    """An area's daily bulletin: the day's announcements joined with chimes, as one MP3."""

    __tablename__ = "bulletins"
    __table_args__ = (UniqueConstraint("area_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    day: Mapped[dt.date]
    # The announcements it joins, in order: a changed list means the bulletin is out of date.
    announcement_ids: Mapped[list] = mapped_column(JSON, default=list)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("audio_assets.id", ondelete="SET NULL"))
    # pending, ready, empty (no announcements that day), failed
    status: Mapped[str] = mapped_column(String(20), default="pending")
    error: Mapped[str | None] = mapped_column(Text)

    asset: Mapped["AudioAsset | None"] = relationship()


# --- Polls (issue 21): a question residents answer with a key on a call or by SMS -----------

poll_areas = Table(
    "poll_areas",
    Base.metadata,
    Column("poll_id", ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True),
    Column("area_id", ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True, index=True),
)

# Where an answer came from: a key on a call we placed, a key on the hotline, an SMS.
POLL_ANSWER_CHANNELS = ("call", "hotline", "sms")


class Poll(Timestamped, Base):
    """A question for households, with 2–9 options, carried by an announcement (its own, or one
    the official wrote with it) to SMS, calls and the hotline until its deadline."""

    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Exactly as the official wrote it (NFC).
    question: Mapped[str] = mapped_column(Text)
    # [{"label": "Có cần", "words": ["co", "can"]}, …]: key 1 is the first.
    options: Mapped[list] = mapped_column(JSON, default=list)
    audiences: Mapped[list] = mapped_column(JSON, default=lambda: ["everyone"])
    opens_at: Mapped[dt.datetime]
    closes_at: Mapped[dt.datetime] = mapped_column(index=True)
    # open, cancelled (closed is open past its deadline)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    # The announcement that carries it (its SMS, calls, hotline news and audio).
    announcement_id: Mapped[int | None] = mapped_column(ForeignKey("announcements.id", ondelete="SET NULL"),
                                                        index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("officials.id", ondelete="SET NULL"))
    # When the deadline's summary went to the areas' groups; None until then.
    summary_posted_at: Mapped[dt.datetime | None]

    areas: Mapped[list[Area]] = relationship(secondary=poll_areas)
    announcement: Mapped[Announcement | None] = relationship()
    created_by: Mapped[Official | None] = relationship()


class PollAnswer(Timestamped, Base):
    """A household's current answer to a poll (the latest counts)."""

    __tablename__ = "poll_answers"
    __table_args__ = (UniqueConstraint("poll_id", "resident_id", name="uq_poll_answers_poll_resident"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    # The household's area when it answered (results per area and the scope rule use it).
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    choice: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(10))
    # Times the household changed its answer.
    changes: Mapped[int] = mapped_column(Integer, default=0)

    resident: Mapped[Resident] = relationship()


class PollAnswerEvent(Base):
    """Every answer received, counted or not (a change, a repeat, one after the deadline)."""

    __tablename__ = "poll_answer_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"), index=True)
    choice: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(10))
    # new, changed, same, late (after the deadline: not counted)
    outcome: Mapped[str] = mapped_column(String(10))
    # The SMS as received (NFC); None for a key.
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
# --- Languages (issue 20 point 5): an announcement's recording in each extra language ------------

class AnnouncementLanguage(Base):
    """An official's recording of an announcement in one of the commune's extra languages, and its rendition.

    Vietnamese stays on Announcement (recording_id, audio_id): these languages have no speech synthesis."""

    __tablename__ = "announcement_languages"
    __table_args__ = (UniqueConstraint("announcement_id", "language", name="uq_announcement_languages_language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("audio_assets.id", ondelete="SET NULL"))
    audio_id: Mapped[int | None] = mapped_column(ForeignKey("audio_assets.id", ondelete="SET NULL"))

    recording: Mapped["AudioAsset | None"] = relationship(foreign_keys=[recording_id])
    audio: Mapped["AudioAsset | None"] = relationship(foreign_keys=[audio_id])
