"""Plan files (`plans/*.yaml`): YAML in, a validated `Plan` out, errors with line numbers."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml
from pydantic import ValidationError

from events.bounds import percent_target_problems, plan_rule_problems
from events.errors import FieldError, field_errors, field_path
from events.plan import Plan

TEXT_ENCODINGS = ("utf-8-sig", "gb18030")  # UTF-8, with or without a BOM; else GBK, as Chinese Windows saves


def decode_text(content: bytes) -> str | None:
    """A text file people made, as text: UTF-8 (a BOM allowed), else GB18030 — what Notepad and
    Excel on Chinese Windows write by default (plan files, CSV sheets). None: neither."""
    for encoding in TEXT_ENCODINGS:
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


class PlanFileError(ValueError):
    """A plan file that cannot be used; `problems` lists `file:line: field: reason` lines."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source} is not a valid plan:\n" + "\n".join(f"  {p}" for p in problems))
        self.source, self.problems = source, problems


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that notes every mapping key given twice (plain YAML keeps the last one)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.repeated: list[tuple[int, str, int]] = []  # (line, key, line of its first use)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        if isinstance(node, yaml.MappingNode):
            first: dict[object, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *base` keys may be overridden: that is what a merge is for
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    if key in first:
                        self.repeated.append((line, str(key), first[key]))
                    else:
                        first[key] = line
                except TypeError:
                    continue  # an unhashable key: SafeLoader's own error says so below
        return super().construct_mapping(node, deep=deep)


def parse_plan(text: str, source: str = "<plan>") -> Plan:
    loader = _UniqueKeyLoader(text)
    try:
        root = loader.get_single_node()  # one parse: the nodes give line numbers, the data is built from them
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise PlanFileError(source, [f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    except RecursionError:  # [[[[… a hundred thousand deep: no plan nests more than a few levels
        raise PlanFileError(source, [f"{source}: not valid YAML: nested too deeply"]) from None
    finally:
        loader.dispose()
    if loader.repeated:
        raise PlanFileError(
            source, [f"{source}:{n}: key {key!r} given twice (first on line {m})" for n, key, m in loader.repeated]
        )
    if not isinstance(data, dict):
        raise PlanFileError(source, [f"{source}:1: the file must be a mapping with id, name, year, departments, …"])
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanFileError(source, [_locate(source, root, err) for err in field_errors(exc)]) from None
    rules = plan_rule_problems(plan) + percent_target_problems(plan)
    broken = [FieldError(field_path(path), reason, "不符合计划规则") for path, reason in rules]
    if broken:  # what publishing it would refuse, said now with the lines
        raise PlanFileError(source, [_locate(source, root, error) for error in broken])
    return plan


def _locate(source: str, root: yaml.Node | None, error: FieldError) -> str:
    """Prefix an error with the line of the deepest YAML node on its field path."""
    node, line = root, 1
    for part in _split(error.field):
        if node is None:
            break
        line = node.start_mark.line + 1
        node = _child(node, part)
    if node is not None:
        line = node.start_mark.line + 1
    return f"{source}:{line}: {error}"


def _split(field: str) -> list[str | int]:
    parts: list[str | int] = []
    for chunk in field.replace("[", ".[").split("."):
        if chunk.startswith("[") and chunk.endswith("]"):
            parts.append(int(chunk[1:-1]))
        elif chunk and chunk != "(body)":
            parts.append(chunk)
    return parts


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        return next((value for key, value in node.value if key.value == part), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        child: yaml.Node = node.value[part]
        return child
    return None
