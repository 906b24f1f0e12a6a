"""The plan in force for a plan id, as entry points need it to authorise writes."""

from __future__ import annotations

from events.models import PlanPublished
from events.plan import Plan
from services.store.events import EventStore


class PlanCatalog:
    """Plans by id, cached per process. The cache is keyed by the number of events about the plan
    itself (its publications, silences and acknowledgements; one HGET per lookup), so a newly
    published plan is seen at once; the plan itself is the last `plan.published` in the plan's
    subject index, read without replaying the log."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._cache: dict[str, tuple[int, Plan]] = {}

    async def all(self) -> list[Plan]:
        """Every plan whose definition has been published."""
        plans = [await self.get(plan_id) for plan_id in await self.store.plans()]
        return [plan for plan in plans if plan is not None]

    async def get(self, plan_id: str) -> Plan | None:
        found = await self.versioned(plan_id)
        return found[1] if found else None

    async def cached(self, plan_id: str) -> tuple[int, Plan] | None:
        """The plan as this process last read it, with its version, without asking Redis (None if
        it was never read): for a writer that has the append check the version (`plan_version`)."""
        return self._cache.get(plan_id) or await self.versioned(plan_id)

    async def versioned(self, plan_id: str) -> tuple[int, Plan] | None:
        """The plan in force and the number of events about the plan itself (read now): the
        version an append checks the plan by."""
        version = await self.store.version(plan_id, plan_id)
        if version == 0:
            return None
        cached = self._cache.get(plan_id)
        if cached and cached[0] == version:
            return cached
        # the last plan that reads: one that does not (written by hand, say) is passed over, as the fold does
        latest = await self.store.latest_about(plan_id, plan_id, "plan.published")
        if latest is None or not isinstance(latest.event, PlanPublished):
            return None
        plan = latest.event.plan
        self._cache[plan_id] = (version, plan)
        return version, plan
