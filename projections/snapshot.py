"""The fold's state and the alert book as stored text, so a projector resumes from its last commit
(packed: `projections.packing`)."""

from __future__ import annotations

from pydantic import TypeAdapter

from events.plan import Plan
from projections.alerts import AlertBook
from projections.packing import PrefixPacker, pack, unpack
from projections.state import PlanState

_adapter: TypeAdapter[PlanState] = TypeAdapter(PlanState)
_book_adapter: TypeAdapter[AlertBook] = TypeAdapter(AlertBook)
_plan_adapter: TypeAdapter[Plan] = TypeAdapter(Plan)
_WITHOUT_PLAN = {"plan"}
_NO_PLAN = b'{"plan":null,'


class _PlanText:
    """A plan as the start of a stored state: `{"plan":…,`, and a packer for states that start so."""

    def __init__(self, plan: Plan | None) -> None:
        self.plan = plan
        self.prefix = _NO_PLAN if plan is None else b'{"plan":' + _plan_adapter.dump_json(plan) + b","
        self._packer: PrefixPacker | None = None

    def packer(self) -> PrefixPacker:
        if self._packer is None:
            self._packer = PrefixPacker(self.prefix)
        return self._packer


class _RecentPlans:
    """The plan is a quarter of a state's JSON, but a third of the time to serialise and pack the
    state and two fifths of the time to read it back, and it is the same in every snapshot of a
    plan: the last few plans' texts are kept, so a state is stored and read without its plan
    being serialised, packed or validated again. A plan not kept costs what it did before."""

    SIZE = 8  # plans kept (a worker dumping many plans' states in turn mostly misses: no slower)

    def __init__(self) -> None:
        self._texts: dict[int, _PlanText] = {}  # by id(plan): the entry holds the plan, its id stays its own
        self._no_plan = _PlanText(None)

    def of(self, plan: Plan | None) -> _PlanText:
        if plan is None:
            return self._no_plan
        text = self._texts.get(id(plan))
        return text if text is not None and text.plan is plan else self._keep(_PlanText(plan))

    def starting(self, raw: bytes) -> _PlanText | None:
        """The plan kept whose text `raw` starts with, if any."""
        for text in list(self._texts.values()):  # a copy: a request thread may be adding one
            if raw.startswith(text.prefix):
                return text
        return None

    def learn(self, state: PlanState, raw: bytes) -> None:
        """Keep the plan of a state read from `raw` in full, if `raw` starts with it."""
        if state.plan is not None and raw.startswith(b'{"plan":{'):
            text = _PlanText(state.plan)
            if raw.startswith(text.prefix):
                self._keep(text)

    def _keep(self, text: _PlanText) -> _PlanText:
        if len(self._texts) >= self.SIZE:
            self._texts.pop(next(iter(self._texts)), None)
        self._texts[id(text.plan)] = text
        return text


_plans = _RecentPlans()


def dump_state(state: PlanState) -> bytes:
    """The state as packed JSON, its plan first (the order of a JSON object's names is not read)."""
    rest = _adapter.dump_json(state, exclude=_WITHOUT_PLAN)  # {"plan_id": …}
    return _plans.of(state.plan).packer().pack(rest[1:])


def load_state(data: str | bytes) -> PlanState:
    raw = unpack(data)
    raw = raw.encode() if isinstance(raw, str) else raw
    known = _plans.starting(raw)
    if known is None:
        state = _adapter.validate_json(raw)
        _plans.learn(state, raw)
        return state
    state = _adapter.validate_json(_NO_PLAN + raw[len(known.prefix) :])
    state.plan = known.plan  # the same text: the same (frozen) plan
    return state


def dump_book(book: AlertBook) -> bytes:
    return pack(_book_adapter.dump_json(book))


def load_book(data: str | bytes) -> AlertBook:
    return _book_adapter.validate_json(unpack(data))
