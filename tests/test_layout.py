"""The package's shape: layers that import only downwards, no import circle, a numerical
core that never imports a user interface, and help that needs no numpy."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import gabordiag

PACKAGE = Path(gabordiag.__file__).parent
# lowest first; a module may import from its own layer or a lower one
LAYERS = ["errors", "io", "config", "core", "engines", "descent", "analysis", "viz", "cli",
          "__main__"]
NUMERICAL = ("config", "core", "engines", "descent", "analysis")
INTERFACES = ("typer", "rich", "matplotlib", "torch", "click")
# the one package that may import torch: `gabordiag layer` diagnoses a user's torch module
TORCH_PACKAGE = "gabordiag.analysis.layer"


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(("gabordiag", *parts[:-1], *([] if parts[-1] == "__init__" else
                                                     [parts[-1]])))
        out[name] = path
    return out


def imports(name: str, path: Path) -> set[str]:
    """Absolute names of the modules ``name`` imports, at any depth of its code."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[:len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def layer(name: str) -> int:
    parts = name.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 else -1


def internal_edges() -> dict[str, set[str]]:
    mods = modules()
    return {name: {m for m in imports(name, path) if m in mods and m != name}
            for name, path in mods.items()}


def test_imports_run_only_downwards() -> None:
    upward = [(a, b) for a, targets in internal_edges().items() for b in targets
              if a != "gabordiag" and layer(b) > layer(a)]
    assert upward == []


def test_no_import_circle() -> None:
    edges = internal_edges()
    edges.pop("gabordiag", None)  # the package face resolves its names lazily
    seen: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in edges.get(node, ()):
            if nxt.startswith("gabordiag.") and nxt.count(".") == 1 and nxt in (
                    "gabordiag.config", "gabordiag.core", "gabordiag.engines",
                    "gabordiag.descent", "gabordiag.analysis", "gabordiag.viz"):
                continue  # a subpackage's __init__ only hands names on
            assert seen.get(nxt) != 1, " -> ".join([*path, nxt])
            if nxt not in seen:
                visit(nxt, [*path, nxt])
        seen[node] = 2

    for node in list(edges):
        if node not in seen:
            visit(node, [node])


@pytest.mark.parametrize("name", [n for n in modules() if layer(n) >= 0
                                  and LAYERS[layer(n)] in NUMERICAL])
def test_numerical_core_imports_no_interface(name: str) -> None:
    used = {m.split(".")[0] for m in imports(name, modules()[name])}
    allowed = {"torch"} if name.startswith(TORCH_PACKAGE + ".") else set()
    assert not used & (set(INTERFACES) - allowed), name


def test_only_the_layer_analysis_imports_torch() -> None:
    importing = sorted(name for name, path in modules().items()
                       if "torch" in {m.split(".")[0] for m in imports(name, path)})
    assert importing, "the layer analysis imports torch somewhere"
    assert all(name.startswith(TORCH_PACKAGE + ".") for name in importing), importing
    # the package face hands names on without importing torch
    assert "torch" not in {m.split(".")[0] for m in
                           imports(TORCH_PACKAGE, modules()[TORCH_PACKAGE])}


def imported_after(runs: list[list[str]], names: tuple[str, ...],
                   cwd: Path | None = None) -> list[str]:
    """Which of the modules ``names`` a fresh interpreter holds after ``gabordiag``
    has run with each argv of ``runs`` in it (each must exit 0)."""
    code = ("import json, sys; from gabordiag.cli import main\n"
            f"for argv in {runs!r}:\n"
            "    assert main(argv) == 0, argv\n"
            f"held = sorted(m for m in {names!r} if m in sys.modules)\n"
            "sys.stderr.write('IMPORTED:' + json.dumps(held) + '\\n')")
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=cwd).stderr
    last = [line for line in err.splitlines() if line.startswith("IMPORTED:")][-1]
    return list(json.loads(last[len("IMPORTED:"):]))


def test_commands_other_than_layer_import_no_torch(tmp_path: Path) -> None:
    """--help of every command (layer's too) and real runs of the others leave torch
    unimported."""
    runs = [["--help"], ["layer", "--help"], ["recover", "--help"],
            ["recover", "--size", "32", "--ksize", "9", "--steps", "5", "--json"],
            ["landscape", "--size", "32", "--ksize", "9", "--points", "16", "--json"],
            ["gradcheck", "--size", "32", "--ksize", "9", "--random", "0", "--json"],
            ["kernel", "--ksize", "9", "--json"], ["config", "show"]]
    assert imported_after(runs, ("torch",), tmp_path) == []


def test_config_layer_needs_no_numpy() -> None:
    for name, path in modules().items():
        if name.startswith("gabordiag.config"):
            top = {m.split(".")[0] for m in imports(name, path)}
            assert "numpy" not in top or name == "gabordiag.config.values", name


def test_help_imports_no_numpy() -> None:
    runs = [["--help"], ["recover", "--help"], ["landscape", "--help"]]
    assert imported_after(runs, ("numpy", "scipy", "matplotlib")) == []


def test_a_computing_command_imports_only_what_it_uses() -> None:
    """A landscape or a recovery without --plot needs neither matplotlib nor scipy, and
    the CLI layer must not pull in pydantic (typer 0.29 does, for ~0.1 s a command)."""
    runs = [["landscape", "--size", "32", "--ksize", "9", "--points", "16", "--json"],
            ["recover", "--size", "32", "--ksize", "9", "--steps", "5", "--json"]]
    assert imported_after(runs, ("pydantic", "scipy", "matplotlib")) == []


def test_command_modules_are_thin() -> None:
    for path in (PACKAGE / "cli" / "commands").glob("*_cmd.py"):
        assert len(path.read_text().splitlines()) <= 120, path.name
