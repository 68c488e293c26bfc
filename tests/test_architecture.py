"""The import contract: service → matcher → embeddings, models; never the other way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ["service", "matcher", "embeddings", "models"]
# Which of our packages each package may import.
ALLOWED = {
    "service": {"service", "matcher", "embeddings", "models"},
    "matcher": {"matcher", "embeddings", "models"},
    "embeddings": {"embeddings"},
    "models": {"models"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_one_way(package: str) -> None:
    files = sorted((REPO / package).rglob("*.py"))
    assert files, f"package {package} has no modules"
    wrong = {
        str(f.relative_to(REPO)): sorted(_imports(f) - ALLOWED[package])
        for f in files
        if _imports(f) - ALLOWED[package]
    }
    assert not wrong, f"imports against the contract: {wrong}"


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from matcher.app.matcher import Matcher\nimport service.app\n")
    assert _imports(bad) == {"matcher", "service"}


SERVING = ["matcher/app", "matcher/ranking", "matcher/graph", "matcher/store", "matcher/domain"]


def _matcher_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name.startswith("matcher.")}


def test_the_serving_path_never_imports_the_lab_or_the_cli() -> None:
    wrong = {
        str(f.relative_to(REPO)): sorted(
            n for n in _matcher_imports(f) if n.startswith(("matcher.lab", "matcher.cli"))
        )
        for folder in SERVING
        for f in sorted((REPO / folder).rglob("*.py"))
    }
    assert not {k: v for k, v in wrong.items() if v}


def test_modules_stay_small_and_the_facade_thin() -> None:
    sizes = {
        str(f.relative_to(REPO)): len(f.read_text().splitlines())
        for package in PACKAGES
        for f in (REPO / package).rglob("*.py")
    }
    assert sizes["matcher/app/matcher.py"] <= 300
    assert {name: n for name, n in sizes.items() if n > 600} == {}
