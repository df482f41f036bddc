"""The customer-facing texts (issue #17): one registry of per-language templates.

Every automatic line a customer reads (the widget bot's greeting and answers, the chat's status
lines, the offline form's and the rating's texts, SMS keyword answers, work-order notices, …) is a
**key** (``bot.greeting``) with a body per language (``zh-CN``, ``en``) that may name placeholders
(``{agent_name}``). Each component ships its keys in a :class:`TextCatalogue`: the keys with the
placeholders each may use, declared in Python, and the default bodies in one JSON file per language
next to it (``assist/texts/zh-CN.json``); it registers the catalogue with ``services.texts`` when it
starts. Administrators replace a body per language (``PUT /api/texts/{key}/{language}``, table
``text_templates``) or go back to the default; a body may only name the key's placeholders.

Reading is :meth:`TextService.render`: the administrator's version when there is one, else the
default. The versions are cached in memory and dropped on every change: this process's own, and
another process's through its ``admin.changed`` event (``entity: "text_template"``), which the
event bus delivers to every process (docs/SCALING.md), so an edit is used by the next text sent,
without a restart."""

from __future__ import annotations

import json
import logging
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from hub.clock import Clock
from hub.db import tables as t
from hub.db.uow import Database
from hub.errors import NotFound, ValidationFailed
from hub.events import Event, EventType
from hub.services.language import LANGUAGES, normalise_language

log = logging.getLogger(__name__)

MAX_BODY = 2000
AUDIT_ENTITY = "text_template"


@dataclass(frozen=True, slots=True)
class TextKey:
    """A text's key and the placeholders its bodies may name."""

    key: str
    placeholders: tuple[str, ...] = ()


def placeholders_of(body: str) -> list[str]:
    """The placeholder names a body uses, in order (each once). A body that is not a template
    (an unmatched brace, ``{0}``, ``{a.b}``, ``{x!r}``, ``{x:>5}``) is a ``ValidationFailed`` with
    code ``invalid_template``; a literal brace is written twice (``{{``)."""
    def invalid(detail: str) -> ValidationFailed:
        return ValidationFailed(detail, code="invalid_template")

    try:
        parsed = list(string.Formatter().parse(body))
    except ValueError as err:
        raise invalid(f"the text is not a valid template: {err} (write a literal brace as {{{{ or }}}})") from err
    names: list[str] = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise invalid(f"the placeholder {{{name}{'!' + conversion if conversion else ''}"
                          f"{':' + spec if spec else ''}}} is not a plain name such as {{agent_name}}")
        if name not in names:
            names.append(name)
    return names


def check_body(key: TextKey, body: str) -> None:
    """A body for ``key``: not empty, not too long, naming only the key's placeholders (else a
    ``ValidationFailed``: ``unknown_placeholder`` with the name and the allowed ones)."""
    if not body.strip():
        raise ValidationFailed("the text must not be empty", code="empty_text")
    if len(body) > MAX_BODY:
        raise ValidationFailed(f"the text is longer than {MAX_BODY} characters", code="text_too_long")
    for name in placeholders_of(body):
        if name not in key.placeholders:
            allowed = ", ".join("{" + p + "}" for p in key.placeholders) or "none"
            raise ValidationFailed(f"the placeholder {{{name}}} is not one of {key.key}'s (allowed: {allowed})",
                                   code="unknown_placeholder",
                                   details={"placeholder": name, "allowed": list(key.placeholders)})


def _fill(body: str, values: Mapping[str, Any]) -> str:
    """A checked body with its placeholders replaced (a value not given is left empty). Only plain
    names are looked up, never evaluated."""
    out = []
    for literal, name, _, _ in string.Formatter().parse(body):
        out.append(literal)
        if name is not None:
            value = values.get(name)
            out.append("" if value is None else str(value))
    return "".join(out)


@dataclass(frozen=True)
class TextCatalogue:
    """A component's texts: its keys and, per language, the shipped default of each, read from
    ``folder/<language>.json`` (an object of key → body). Every language must have every key, and
    every default must pass :func:`check_body` (a ``ValueError`` at start otherwise)."""

    owner: str
    keys: tuple[TextKey, ...]
    defaults: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # language -> key -> body

    @classmethod
    def load(cls, owner: str, folder: Path, keys: Sequence[TextKey]) -> TextCatalogue:
        defaults: dict[str, dict[str, str]] = {}
        declared = {k.key: k for k in keys}
        for lang in LANGUAGES:
            path = folder / f"{lang}.json"
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise ValueError(f"{owner}: cannot read the {lang} texts {path}: {err}") from err
            missing = sorted(set(declared) - set(data))
            unknown = sorted(set(data) - set(declared))
            if missing or unknown:
                raise ValueError(f"{path}: missing keys {missing}, undeclared keys {unknown}")
            for name, body in data.items():
                try:
                    check_body(declared[name], body)
                except ValidationFailed as err:
                    raise ValueError(f"{path}: {name}: {err.detail}") from err
            defaults[lang] = dict(data)
        return cls(owner, tuple(keys), defaults)


class TextService:
    """``services.texts``: the registry of customer-facing texts (see the module doc)."""

    def __init__(self, db: Database, clock: Clock, default_language: str) -> None:
        self.db = db
        self.clock = clock
        self.default_language = default_language
        self._keys: dict[str, TextKey] = {}
        self._owner: dict[str, str] = {}
        self._defaults: dict[tuple[str, str], str] = {}
        #: (key, language) -> the administrator's body; None: to be read again
        self._custom: dict[tuple[str, str], dict[str, Any]] | None = None
        self._generation = 0  # bumped by every change: a read that overlapped one is not kept
        db.bus.subscribe(self._on_event, types=(EventType.ADMIN_CHANGED,), name="texts.cache")

    # --- the components' catalogues -------------------------------------------------------
    def register(self, catalogue: TextCatalogue) -> None:
        """Add a component's texts (again after a restart of the component: replaced). A key
        another component registered is an error."""
        for k in catalogue.keys:
            owner = self._owner.get(k.key)
            if owner is not None and owner != catalogue.owner:
                raise ValueError(f"text key {k.key!r} of {catalogue.owner} is already {owner}'s")
        for k in catalogue.keys:
            self._keys[k.key] = k
            self._owner[k.key] = catalogue.owner
            for lang in LANGUAGES:
                self._defaults[(k.key, lang)] = catalogue.defaults[lang][k.key]

    def key(self, key: str) -> TextKey:
        found = self._keys.get(key)
        if found is None:
            raise NotFound(f"there is no text {key!r}", code="unknown_text")
        return found

    # --- languages --------------------------------------------------------------------------
    def language(self, *candidates: str | None) -> str:
        """The first of ``candidates`` that is a supported language (``zh``, ``en-US`` …
        normalised), else the hub's ``default_language``."""
        for c in candidates:
            found = normalise_language(c)
            if found is not None:
                return found
        return self.default_language

    # --- reading ------------------------------------------------------------------------------
    async def _versions(self) -> dict[tuple[str, str], dict[str, Any]]:
        custom = self._custom
        if custom is None:
            generation = self._generation
            async with self.db.read() as conn:
                rows = (await conn.execute(select(t.text_templates))).all()
            custom = {(r.key, r.language): {"body": r.body, "updated_at": r.updated_at,
                                            "updated_by": r.updated_by} for r in rows}
            if generation == self._generation:
                self._custom = custom
        return custom

    def invalidate(self) -> None:
        """Forget the cached versions: the next text is read from the database."""
        self._generation += 1
        self._custom = None

    async def body(self, key: str, language: str | None) -> str:
        """The template ``key`` in ``language`` (None or unsupported: the default language) as
        written, placeholders unfilled: the administrator's version, else the default."""
        lang = self.language(language)
        self.key(key)
        found = (await self._versions()).get((key, lang))
        return found["body"] if found else self._defaults[(key, lang)]

    async def render(self, key: str, language: str | None, /, **values: Any) -> str:
        """The text ``key`` in ``language`` with its placeholders filled from ``values``."""
        return _fill(await self.body(key, language), values)

    async def listing(self, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Every key (or those named) with, per language, the text in use, its default and who
        changed it when."""
        custom = await self._versions()
        out = []
        for name in sorted(keys if keys is not None else self._keys):
            k = self.key(name)
            texts = {}
            for lang in LANGUAGES:
                mine = custom.get((name, lang))
                texts[lang] = {"body": mine["body"] if mine else self._defaults[(name, lang)],
                               "default": self._defaults[(name, lang)], "customised": mine is not None,
                               "updated_at": mine["updated_at"] if mine else None,
                               "updated_by": mine["updated_by"] if mine else None}
            out.append({"key": name, "owner": self._owner[name], "placeholders": list(k.placeholders),
                        "texts": texts})
        return out

    # --- administrators' changes ------------------------------------------------------------
    def _language_of_path(self, language: str) -> str:
        if language not in LANGUAGES:
            raise ValidationFailed(f"language must be one of {', '.join(LANGUAGES)}",
                                   code="unknown_language", details={"allowed": list(LANGUAGES)})
        return language

    def _audit(self, actor_id: str | None, key: str, lang: str, action: str) -> Event:
        return Event(EventType.ADMIN_CHANGED, self.clock.now(), user_id=actor_id,
                     data={"entity": AUDIT_ENTITY, "id": f"{key}/{lang}", "key": key,
                           "language": lang, "action": action})

    async def update(self, key: str, language: str, body: str, actor_id: str | None) -> dict[str, Any]:
        """Replace the text's body in one language (checked; audited as ``admin.changed``)."""
        k = self.key(key)
        lang = self._language_of_path(language)
        check_body(k, body)
        now = self.clock.now()
        try:
            async with self.db.tx() as tx:
                await tx.conn.execute(delete(t.text_templates).where(
                    t.text_templates.c.key == key, t.text_templates.c.language == lang))
                await tx.conn.execute(t.text_templates.insert().values(
                    key=key, language=lang, body=body, updated_at=now, updated_by=actor_id))
                tx.emit(self._audit(actor_id, key, lang, "update"))
        finally:
            self.invalidate()
        return (await self.listing([key]))[0]

    async def reset(self, key: str, language: str, actor_id: str | None) -> dict[str, Any]:
        """Go back to the shipped default in one language (audited when there was a change)."""
        self.key(key)
        lang = self._language_of_path(language)
        try:
            async with self.db.tx() as tx:
                gone = (await tx.conn.execute(delete(t.text_templates).where(
                    t.text_templates.c.key == key, t.text_templates.c.language == lang))).rowcount
                if gone:
                    tx.emit(self._audit(actor_id, key, lang, "reset"))
        finally:
            self.invalidate()
        return (await self.listing([key]))[0]

    async def _on_event(self, ev: Event) -> None:
        if ev.data.get("entity") == AUDIT_ENTITY:
            self.invalidate()  # another process's change (or ours, again): read at next use
