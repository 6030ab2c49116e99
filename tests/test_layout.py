"""The layout rules the codebase keeps: short functions, layers that import only downwards, one place for
the township scope and the tick, and tests that share code through ``tests/support`` only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPLICATION = ("core", "domain", "models", "tasks", "flows", "api", "cli", "notifications", "simulation")
MAX_FUNCTION_LINES = 60


def _modules(*packages: str) -> list[Path]:
    files: list[Path] = []
    for package in packages:
        files += [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    return sorted(files)


def _functions(path: Path) -> list[tuple[str, int, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            out.append((node.name, node.lineno, (node.end_lineno or node.lineno) - start + 1))
    return out


def test_no_application_function_is_longer_than_sixty_lines() -> None:
    long = [f"{path.relative_to(ROOT)}:{line} {name} ({length} lines)"
            for path in _modules(*APPLICATION) for name, line, length in _functions(path) if length > MAX_FUNCTION_LINES]
    assert not long, "split these by meaning:\n" + "\n".join(long)


LAYERS = ["core", "domain", "models", "notifications", "tasks", "flows", "api", "cli"]
ALLOWED = {
    "core": {"core"},
    "domain": {"core", "domain"},
    "models": {"core", "domain", "models"},
    "notifications": {"core", "domain", "models", "notifications"},
    "tasks": {"core", "domain", "models", "notifications", "tasks"},
    "flows": {"core", "domain", "models", "notifications", "tasks", "flows"},
    "api": {"core", "domain", "models", "notifications", "tasks", "flows", "api"},
    "cli": {"core", "domain", "models", "notifications", "tasks", "flows", "api", "cli", "simulation"},
}


@pytest.mark.parametrize("layer", LAYERS)
def test_layers_import_only_downwards(layer: str) -> None:
    wrong = []
    for path in _modules(layer):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            for name in names:
                top = name.split(".")[0]
                if top in ALLOWED and top not in ALLOWED[layer]:
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not wrong, "\n".join(wrong)


def _grep(pattern: str, *packages: str) -> list[str]:
    rx = re.compile(pattern)
    return [f"{path.relative_to(ROOT)}:{n}" for path in _modules(*packages)
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if rx.search(line)]


def test_the_township_restriction_is_written_once() -> None:
    """Only ``tasks/scope.py`` filters by the caller's townships; everything else calls it."""
    hits = _grep(r"in_\(principal\.townships\)|principal\.can_see\(", *APPLICATION)
    assert hits and all(hit.startswith("tasks/scope.py:") for hit in hits), hits


def test_the_tick_steps_are_listed_once() -> None:
    """Only ``tasks.tick.TICK`` lists the tick's steps in order; everything else runs it."""
    hits = _grep(r"close_notice_periods\(", *APPLICATION, "bench", "tests")
    callers = [h for h in hits if not h.startswith(("tasks/review.py", "tasks/tick.py"))]
    assert not callers, callers


def test_no_test_imports_another_test_module() -> None:
    wrong = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if module and module.startswith("tests.") and not module.startswith("tests.support"):
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} from {node.module}")
    assert not wrong, "\n".join(wrong)
