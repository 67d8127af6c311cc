"""The shape of the code: imports only point one way, and the CLI loads the chat only to serve it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

from .conftest import ROOT

PACKAGES = ("rag", "ui")


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports anywhere in it (inside functions too: a lazy import still ties)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            base = f"{base}.{node.module}" if node.level and node.module else (base if node.level else node.module)
            # ``from pkg import mod`` imports the module pkg.mod; ``from mod import name`` imports mod.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in known and t != name}
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other, directly or round a loop."""
    digraph = nx.DiGraph([(a, b) for a, targets in graph.items() for b in targets])
    return sorted(sorted(part) for part in nx.strongly_connected_components(digraph) if len(part) > 1)


def test_no_import_cycles() -> None:
    known = _modules()
    graph = {name: _imports(name, path, known) for name, path in known.items()}
    # A package's __init__ hands its submodules' names on; a submodule importing its own
    # package's __init__ back would be a loop, and is counted like any other.
    assert graph["rag.engine"] >= {"rag.index", "rag.turn"}, "the walk sees imports at all"
    assert graph["rag.llm.generative"] >= {"rag.llm.prompt", "rag.llm.base"}
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_cli_loads_the_ui_only_to_serve() -> None:
    code = (
        "import sys, rag.cli\n"
        "from typer.testing import CliRunner\n"
        "CliRunner().invoke(rag.cli.app, ['docs', '--help'])\n"
        "print(sorted(m for m in sys.modules if m == 'gradio' or m == 'ui' or m.startswith('ui.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
