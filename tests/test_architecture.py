"""The house rules that keep the rooms apart, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def test_a_room_uses_another_only_through_its_exported_names() -> None:
    """`services/<room>/` imports another room as `services.<other>`, never `services.<other>.<module>`:
    what a room keeps inside can be rearranged without touching its neighbours."""
    borrowed = []
    for path in sorted((ROOT / "services").rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        own = parts[1] if len(parts) > 2 else None
        for line, module in _imports(path):
            pieces = module.split(".")
            if pieces[0] == "services" and len(pieces) > 2 and pieces[1] != own:
                borrowed.append(f"{path.relative_to(ROOT)}:{line}: {module}")
    assert borrowed == []


def test_the_pure_rooms_never_import_services() -> None:
    offending = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for room in ("events", "projections")
        for path in sorted((ROOT / room).rglob("*.py"))
        for line, module in _imports(path)
        if module.split(".")[0] == "services"
    ]
    assert offending == []
