"""A validation failure that knows where each problem is.

Raised from model validators that check a whole plan; `events.errors.field_errors` expands
it into one error per problem, each with its own field path (and so its own YAML line)."""

from __future__ import annotations


class LocatedProblems(ValueError):
    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems
