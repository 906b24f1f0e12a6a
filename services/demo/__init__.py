"""The demo: the seed plan and its H1 2025 history, published and reported."""

from __future__ import annotations

from services.demo.examples import (
    EXAMPLES,
    ExampleError,
    example_history,
    example_plans,
    history_file,
    load_example,
    read_example,
)
from services.demo.run import SEED_PLAN, SEED_REPORT, SeedMismatch, load_seed, run_demo, seed_history
from services.demo.seed_history import (
    PLAN_PUBLISHED_AT,
    h1_history,
    h1_investment,
    indicator_events,
    monthly,
    project_events,
)

__all__ = [
    "EXAMPLES",
    "PLAN_PUBLISHED_AT",
    "SEED_PLAN",
    "SEED_REPORT",
    "ExampleError",
    "SeedMismatch",
    "example_history",
    "example_plans",
    "h1_history",
    "h1_investment",
    "history_file",
    "indicator_events",
    "load_example",
    "load_seed",
    "monthly",
    "project_events",
    "read_example",
    "run_demo",
    "seed_history",
]
