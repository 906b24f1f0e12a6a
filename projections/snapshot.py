"""The fold's state and the alert book as stored text, so a projector resumes from its last commit
(packed: `projections.packing`)."""

from __future__ import annotations

import hashlib
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter

from events.plan import Plan
from projections.alerts import AlertBook
from projections.packing import LINKED, PrefixPacker, pack, unpack
from projections.state import PlanState

_adapter: TypeAdapter[PlanState] = TypeAdapter(PlanState)
_book_adapter: TypeAdapter[AlertBook] = TypeAdapter(AlertBook)
_plan_adapter: TypeAdapter[Plan] = TypeAdapter(Plan)
_SPEC, _PLAN_TARGET = {"spec": True}, {"plan_target": True}
_NO_PLAN = b'{"plan":null,'


class _PlanText:
    """A plan as the start of a stored state, `{"plan":…,`: its length and digest (the text itself
    is 36 kB for a district's plan; a worker may hold a thousand plans twice). Holds the plan
    weakly: it is kept while a state holds it."""

    def __init__(self, plan: Plan, prefix: bytes, gone: Callable[[weakref.ref[Plan]], None]) -> None:
        self.plan = weakref.ref(plan, gone)
        self.length, self.digest = len(prefix), _digest(prefix)
        self.packer: PrefixPacker | None = None  # while among the last few plans dumped

    def starts(self, raw: bytes) -> bool:
        return len(raw) > self.length and _digest(memoryview(raw)[: self.length]) == self.digest


def _plan_prefix(plan: Plan | None) -> bytes:
    return _NO_PLAN if plan is None else b'{"plan":' + _plan_adapter.dump_json(plan) + b","


def _digest(text: bytes | memoryview) -> bytes:
    return hashlib.blake2b(text, digest_size=16).digest()


class _PlanTexts:
    """The plan is a quarter of a state's JSON, but a third of the time to serialise and pack the
    state, two fifths of the time to read it back, and a quarter of a megabyte in memory — the same
    in every state of a plan. A plan's text is kept while a state holds the plan: a state is then
    stored without its plan being serialised or packed again, and read back holding the plan
    already held (a worker's two projections of a plan, a thousand plans: one plan object each)
    without validating it again. The compressor that has packed the plan's text is kept for the
    last few plans dumped (a quarter of a megabyte each)."""

    PACKERS = 8
    VERSIONS = 4  # texts kept per plan id (a projection may lag behind the plan's revision)

    def __init__(self) -> None:
        self._by_id: dict[str, list[_PlanText]] = {}
        self._packed: deque[_PlanText] = deque()  # those holding a packer, the latest last
        self._no_plan = PrefixPacker(_NO_PLAN)

    def packer(self, plan: Plan | None) -> PrefixPacker:
        if plan is None:
            return self._no_plan
        text = next((t for t in self._by_id.get(plan.id, ()) if t.plan() is plan), None)
        if text is None or text.packer is None:
            prefix = _plan_prefix(plan)
            text = text or self._keep(plan, prefix)
            text.packer = PrefixPacker(prefix)
            self._packed.append(text)
            if len(self._packed) > self.PACKERS:
                self._packed.popleft().packer = None
        return text.packer

    def starting(self, raw: bytes) -> tuple[Plan, int] | None:
        """The plan kept whose text `raw` starts with, and the text's length; None if none."""
        if not raw.startswith(_PLAN_ID_AT_START):
            return None
        plan_id = raw[len(_PLAN_ID_AT_START) : raw.find(b'"', len(_PLAN_ID_AT_START))].decode(errors="replace")
        for text in list(self._by_id.get(plan_id, ())):  # a copy: a request thread may be adding one
            if text.starts(raw) and (plan := text.plan()) is not None:
                return plan, text.length
        return None

    def learn(self, state: PlanState, raw: bytes) -> None:
        """Keep the plan of a state read from `raw` in full, if `raw` starts with it."""
        if state.plan is not None and raw.startswith(_PLAN_ID_AT_START):
            prefix = _plan_prefix(state.plan)
            if raw.startswith(prefix):
                self._keep(state.plan, prefix)

    def _keep(self, plan: Plan, prefix: bytes) -> _PlanText:
        plan_id = plan.id  # the callback must not hold the plan: it would never go
        text = _PlanText(plan, prefix, lambda ref: self._forget(plan_id, ref))
        texts = self._by_id.setdefault(plan_id, [])
        texts.insert(0, text)
        del texts[self.VERSIONS :]
        return text

    def _forget(self, plan_id: str, ref: weakref.ref[Plan]) -> None:
        """The plan is held by no state any more."""
        texts = [text for text in self._by_id.get(plan_id, ()) if text.plan is not ref]
        if texts:
            self._by_id[plan_id] = texts
        else:
            self._by_id.pop(plan_id, None)


_PLAN_ID_AT_START = b'{"plan":{"id":"'  # a plan's id is its first field
_plans = _PlanTexts()


def dump_state(state: PlanState) -> bytes:
    """The state as packed JSON, its plan first (the order of a JSON object's names is not read),
    without what the plan gives (`_given_by_plan`), which `load_state` takes from the plan."""
    rest = _adapter.dump_json(state, exclude=_given_by_plan(state))  # {"plan_id": …}
    return _plans.packer(state.plan).pack(rest[1:], LINKED)


def _given_by_plan(state: PlanState) -> dict[str, Any]:
    """What a stored state leaves out: its plan (stored first, apart), and the spec of each project
    and the plan target of each indicator that are the plan's own — a third of the JSON, and,
    read back as copies, two fifths of a loaded state's memory (a worker holds two states a plan)."""
    plan = state.plan
    if plan is None:
        return {"plan": True}
    projects = {key: _SPEC for key, project in state.projects.items() if _is_plans(project.spec, plan.project(key))}
    indicators = {
        key: _PLAN_TARGET
        for key, indicator in state.indicators.items()
        if (listed := plan.indicator(key)) is not None and _is_plans(indicator.plan_target, listed.target)
    }
    return {"plan": True, "projects": projects, "indicators": indicators}


def _is_plans(value: object, plans: object) -> bool:
    # the fold assigns the plan's own objects; a state read as z1 holds equal copies
    return value is plans or (plans is not None and value == plans)


def _link(state: PlanState) -> None:
    """Give back what `_given_by_plan` left out. The fold gives every project and indicator the
    plan lists its spec and plan target when the plan is published, so one without them was
    stored without them (read from z2, or from its JSON after `unpack`)."""
    plan = state.plan
    if plan is None:
        return
    for key, project in state.projects.items():
        if project.spec is None:
            project.spec = plan.project(key)
    for key, indicator in state.indicators.items():
        if indicator.plan_target is None and (listed := plan.indicator(key)) is not None:
            indicator.plan_target = listed.target


def load_state(data: str | bytes) -> PlanState:
    """A stored state: packed (z1, z2) or its plain JSON, however it was unpacked."""
    raw = unpack(data)
    raw = raw.encode() if isinstance(raw, str) else raw
    known = _plans.starting(raw)
    if known is None:
        state = _adapter.validate_json(raw)
        _plans.learn(state, raw)
    else:
        plan, length = known
        state = _adapter.validate_json(_NO_PLAN + raw[length:])
        state.plan = plan  # the same text: the same (frozen) plan
    _link(state)  # a state stored with them (z1) has none to give back
    return state


def dump_book(book: AlertBook) -> bytes:
    return pack(_book_adapter.dump_json(book))


def load_book(data: str | bytes) -> AlertBook:
    return _book_adapter.validate_json(unpack(data))
