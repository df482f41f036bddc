"""The hub's own table definitions (SQLAlchemy Core). Times are stored as epoch seconds (float).

Components define their own tables on this ``metadata`` in their ``tables.py`` (one schema, one
Alembic history: the hub's revisions in ``hub/db/migrations/versions``, a component's in its own
``migrations`` folder, all listed in ``[tool.alembic]`` of pyproject.toml), e.g. a channel's
messages and outbound records."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users", metadata,
    Column("id", String(32), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(128), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("skills", JSON, nullable=False),
    Column("capacity", JSON, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
    # the language of the user's web UI (zh-CN, en); None: the browser's language
    Column("language", String(16)),
)

sessions = Table(
    "sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("ip", String(64)),  # where it was opened (login request), for the sessions list
    Column("user_agent", String(200)),
)

skills = Table(
    "skills", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("label", String(128), nullable=False),
)

calendars = Table(
    "calendars", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("tz", String(64), nullable=False),
    Column("weekly", JSON, nullable=False),
    Column("holidays", JSON, nullable=False),
)

queues = Table(
    "queues", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("config", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
)

agent_states = Table(
    "agent_states", metadata,
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("reason", String(64)),
    Column("since", Float, nullable=False),
)

custom_fields = Table(
    "custom_fields", metadata,
    Column("key", String(64), primary_key=True),
    Column("label", String(128), nullable=False),
    Column("type", String(16), nullable=False),
    Column("choices", JSON),
)

contacts = Table(
    "contacts", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(254)),
    Column("phone", String(32)),
    Column("company", String(200)),
    Column("tags", JSON, nullable=False),
    Column("vip", Boolean, nullable=False, default=False),
    Column("owner_agent_id", String(32), ForeignKey("users.id", ondelete="SET NULL")),
    Column("custom", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("merged_into", String(32)),
    # erased (hub/services/privacy.py): a tombstone without personal data that reports still count
    Column("erased_at", Float),
    # the customer's preferred language (zh-CN, en; None: not known): notices with no conversation
    Column("language", String(16)),
    Index("ix_contacts_email", "email"),
    Index("ix_contacts_phone", "phone"),
)

conversations = Table(
    "conversations", metadata,
    Column("id", String(32), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("direction", String(8), nullable=False, default="in"),
    Column("status", String(16), nullable=False),
    Column("contact_id", String(32), ForeignKey("contacts.id", ondelete="SET NULL")),
    Column("queue_id", String(32), ForeignKey("queues.id", ondelete="SET NULL")),
    Column("assignee_id", String(32), ForeignKey("users.id", ondelete="SET NULL")),
    Column("last_agent_id", String(32)),
    Column("priority", Integer, nullable=False, default=0),
    Column("subject", String(300)),
    Column("widget_token_hash", String(64), unique=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("enqueued_at", Float),
    Column("assigned_at", Float),
    Column("closed_at", Float),
    Column("disposition", String(64)),
    Column("csat_rating", Integer),
    Column("csat_comment", Text),
    Column("meta", JSON, nullable=False),
    # the language every automatic text of the conversation uses (zh-CN, en): set by the widget or
    # the IVR entry, else guessed from the customer's first words (None: not known yet)
    Column("language", String(16)),
    # the existing contact a web chat customer said they are (pre-chat email or phone), until they
    # prove it (a one-time code) or an agent confirms it: only then does it become ``contact_id``
    Column("claimed_contact_id", String(32), ForeignKey("contacts.id", ondelete="SET NULL")),
    Index("ix_conversations_status", "status"),
    Index("ix_conversations_contact", "contact_id"),
    Index("ix_conversations_claimed_contact", "claimed_contact_id"),
    Index("ix_conversations_assignee", "assignee_id"),
)

#: one-time codes proving a chat customer's claimed identity (hub/services/identity.py): only an
#: HMAC of the code is kept; ``attempts`` counts wrong entries
identity_codes = Table(
    "identity_codes", metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           nullable=False),
    Column("contact_id", String(32), ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("method", String(8), nullable=False),  # email | sms
    Column("code_hash", String(100), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("used_at", Float),
    Index("ix_identity_codes_conversation", "conversation_id"),
)

messages = Table(
    "messages", metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           nullable=False),
    Column("kind", String(8), nullable=False),
    Column("sender", String(8), nullable=False),
    Column("sender_user_id", String(32)),
    Column("sender_name", String(200)),
    Column("body", Text, nullable=False),
    Column("client_id", String(64)),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("conversation_id", "client_id", name="uq_messages_client"),
    Index("ix_messages_conversation", "conversation_id", "created_at"),
)

attachments = Table(
    "attachments", metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE")),
    Column("message_id", String(32), ForeignKey("messages.id", ondelete="SET NULL")),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(128), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("uploaded_by", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    # the path of a restricted attachment's own route (a call recording's), which checks its own
    # permission and audits each download; NULL: GET /api/attachments/{id} (migration 0011)
    Column("route", String(200)),
)

events = Table(
    "events", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("type", String(48), nullable=False),
    Column("conversation_id", String(32)),
    Column("user_id", String(32)),
    Column("queue_id", String(32)),
    Column("data", JSON, nullable=False),
    Column("cause", JSON),  # what caused it (e.g. a rule chain), kept for replays
    Index("ix_events_at", "at"),
    Index("ix_events_type_at", "type", "at"),
    Index("ix_events_conversation", "conversation_id"),
)

# Durable event consumers (hub/events.py): the last event each one has handled.
event_consumers = Table(
    "event_consumers", metadata,
    Column("name", String(96), primary_key=True),
    Column("last_id", BigInteger, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Effects a consumer has made, by idempotency key, written with the effect: a replayed event whose
# effect is here is not acted on again.
event_effects = Table(
    "event_effects", metadata,
    Column("consumer", String(96), primary_key=True),
    Column("key", String(160), primary_key=True),
    Column("at", Float, nullable=False),
)

settings_kv = Table(
    "settings_kv", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
)


#: administrators' versions of the customer-facing texts (hub/services/texts.py); a text without a
#: row here is the shipped default of its language
text_templates = Table(
    "text_templates", metadata,
    Column("key", String(100), primary_key=True),
    Column("language", String(16), primary_key=True),
    Column("body", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(32)),
)
