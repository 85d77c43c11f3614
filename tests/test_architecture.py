"""The rooms of the code base, checked from its imports (ast), not by review:

    web -> chat -> domain -> infra        workers -> domain, infra        devtools -> anything
    handlers/ -> the conversation engine's types and bot.domain.vocab, nothing else of ours

No import cycles between modules (imports inside functions count too: a deferred import that
closes a loop is still a loop); the engine imports nothing from handlers/; bot/domain knows no
Flask; the console calls domain functions, never the API's views; no module over 350 lines.
"""
from __future__ import annotations

import ast
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("bot", "workers", "handlers", "bench")
MAX_LINES = 350


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=1)
def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_name(path)] = path
    return found


def resolve(importer: str, node) -> list[str]:
    """The modules of ours an import statement names (a `from pkg import name` names pkg.name when
    that is a module, else pkg)."""
    known = modules()
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] in PACKAGES]
    base = node.module or ""
    if node.level:
        package = importer.split(".")
        if not modules()[importer].name == "__init__.py":
            package = package[:-1]
        package = package[:len(package) - node.level + 1]
        base = ".".join(package + ([node.module] if node.module else []))
    if base.split(".")[0] not in PACKAGES:
        return []
    out = []
    for alias in node.names:
        full = f"{base}.{alias.name}"
        out.append(full if full in known else base)
    return out


@lru_cache(maxsize=1)
def graph() -> dict[str, set[str]]:
    edges = {}
    for name, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets.update(t for t in resolve(name, node) if t != name)
        edges[name] = {t for t in targets if t in modules() or any(m.startswith(t + ".") for m in modules())}
    return edges


def third_party(name: str) -> set[str]:
    tree = ast.parse(modules()[name].read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
    return {m for m in out if m not in PACKAGES and m not in sys.stdlib_module_names and m != "__future__"}


def room(name: str) -> str:
    parts = name.split(".")
    if parts[0] == "bot" and len(parts) > 1 and parts[1] in ("web", "chat", "domain", "infra", "devtools", "cli"):
        return parts[1]
    return parts[0] if parts[0] != "bot" else "top"


# what each room may import of ours (its own room always)
ALLOWED = {
    "infra": {"infra"},
    "domain": {"domain", "infra"},
    "chat": {"chat", "domain", "infra", "handlers"},
    "web": {"web", "chat", "domain", "infra"},
    "workers": {"workers", "domain", "infra", "top"},
    "devtools": {"devtools", "web", "chat", "domain", "infra", "top", "handlers", "workers"},
    "cli": {"cli", "web", "chat", "domain", "infra", "top", "workers", "devtools"},
    "top": {"top", "web", "chat", "domain", "infra", "cli", "devtools"},
    "bench": set(PACKAGES) | {"top", "web", "chat", "domain", "infra", "devtools", "cli"},
}


def upward(edges: dict[str, set[str]]) -> list[str]:
    wrong = []
    for name, targets in edges.items():
        here = room(name)
        if here == "handlers":
            continue  # its own, stricter rule below
        for t in targets:
            if room(t) not in ALLOWED[here]:
                wrong.append(f"{name} ({here}) imports {t} ({room(t)})")
    return wrong


def find_cycles(edges: dict[str, set[str]]) -> list[str]:
    cycles, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return cycles


def test_rooms_import_only_downwards():
    assert upward(graph()) == []


def test_no_import_cycles():
    assert find_cycles(graph()) == []


def test_handlers_see_only_the_engine_types_and_the_vocabulary():
    allowed = ("bot.chat.conversation", "bot.domain.vocab", "handlers")
    for name, targets in graph().items():
        if room(name) != "handlers":
            continue
        bad = [t for t in targets if not any(t == a or t.startswith(a + ".") for a in allowed)]
        assert bad == [], f"{name} imports {bad}"
        assert third_party(name) == set(), f"{name} imports {third_party(name)}"


def test_the_engine_imports_nothing_from_handlers():
    for name, targets in graph().items():
        if name.startswith("bot.chat.conversation"):
            assert not [t for t in targets if room(t) == "handlers"], name


def test_the_domain_knows_no_flask_and_the_console_no_api_views():
    for name in modules():
        if room(name) == "domain":
            assert not third_party(name) & {"flask", "werkzeug", "wechatpy", "alipay"}, name
        if room(name) == "infra":
            assert not third_party(name) & {"flask", "werkzeug"}, name
        if name.startswith("bot.web.console"):
            assert not [t for t in graph()[name] if t.startswith("bot.web.api")], name


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_over_350_lines(name):
    lines = len(modules()[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name}: {lines} lines"


def test_the_checker_sees_a_cycle_and_a_wrong_import():
    """The checks can fail: a made-up graph with a loop and an upward import is caught."""
    edges = {"bot.infra.a": {"bot.domain.b"}, "bot.domain.b": {"bot.infra.a"}, "bot.web.c": {"bot.domain.b"}}
    assert find_cycles(edges) == ["bot.domain.b -> bot.infra.a -> bot.domain.b"]
    assert upward(edges) == ["bot.infra.a (infra) imports bot.domain.b (domain)"]
