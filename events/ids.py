"""Identifier types shared by events, plans and keys.

Ids end up inside Redis keys (`pw:{plan}:…`), so they exclude `{`, `}`, `:` and spaces.
"""

from typing import Annotated

from pydantic import StringConstraints

PLAN_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
PlanId = Annotated[str, StringConstraints(pattern=PLAN_ID_PATTERN)]
"""Lower-case letters, digits and '-', 2..63 characters, e.g. `rongchang-2025`."""

DepartmentId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
"""A department's short id, e.g. `stats`, `fgw`."""

SubjectId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
"""An indicator or project id, e.g. `gdp`, `kp-001`."""
