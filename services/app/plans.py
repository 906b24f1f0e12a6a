"""Plans: reading a plan file, drafting one from the office's target table, and publishing a plan,
the one way a definition enters the log (CLI, API, demo)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from events.bounds import percent_target_problems
from events.errors import FieldError, field_errors, field_path
from events.models import PlanPublished, plan_digest, plan_published
from events.plan import Plan
from events.planfile import PlanFileError, decode_text, parse_plan
from services.app.errors import Invalid, TooLarge
from services.app.files import FileRefused, read_regular, said
from services.app.payloads import text_problems
from services.app.sheets import MAX_FILE
from services.spreadsheet import PlanDraft, PlanIdentity, SheetRejected, draft_plan_sheet
from services.store import EventStore, PlanCatalog


@dataclass(frozen=True)
class Published:
    position: str
    version: int  # the plans published so far, this one included: 1 for the first, 2 for the first revision
    stored: bool  # False when this very plan was already the current one


async def publish_plan(
    store: EventStore, plan: Plan, occurred_at: datetime | None = None, by: str | None = None
) -> Published:
    """Append `plan` as a `plan.published` event unless it already is the current plan (the last
    one published, compared by content: a retry after a lost reply stores nothing). The event id
    is derived from (content, version), and `expected_version` makes two concurrent publishes
    conflict."""
    version = await store.version(plan.id, plan.id)
    if version:
        # by content, not by the id for (content, version - 1): silences and acknowledgements are
        # counted in the version too
        current = await store.latest_about(plan.id, plan.id, "plan.published")
        if (
            current
            and isinstance(current.event, PlanPublished)
            and plan_digest(current.event.plan) == plan_digest(plan)
        ):
            return Published(current.position, await _publications(store, plan.id), stored=False)
    if unfit := percent_target_problems(plan):  # checked on publishing, not on reading a stored plan
        errors = [FieldError(field_path(path), reason, "目标为百分比，但该指标按总量报送") for path, reason in unfit]
        raise Invalid("the plan breaks the plan rules", "计划内容不符合规则", errors)
    if controls := text_problems(plan.model_dump(mode="json"), ""):  # its texts go into every report
        raise Invalid("the plan's texts hold control characters", "计划文本含有控制字符", controls)
    try:  # a new plan must meet the plan rules (events.bounds.plan_rule_problems)
        event = plan_published(plan, version, occurred_at or datetime.now(UTC), by)
    except ValidationError as exc:
        errors = [FieldError(e.field.removeprefix("plan."), e.reason, e.reason_zh) for e in field_errors(exc)]
        raise Invalid("the plan breaks the plan rules", "计划内容不符合规则", errors) from None
    earlier = await _publications(store, plan.id) if version else 0  # before: one published after ours is not ours
    result = await store.append([event], expected_version={plan.id: version})
    stored = not result.all_duplicates  # a duplicate (a retry) was counted among the earlier ones
    return Published(result.positions[0], earlier + int(stored), stored)


async def _publications(store: EventStore, plan_id: str) -> int:
    """The plans published for `plan_id` (the plan's own count also holds its silences and
    acknowledgements, so it is not this)."""
    return await store.count_about(plan_id, plan_id, "plan.published")


# a plan file's bytes: as many as the API takes of a plan's JSON (its body, services/api MAX_BODY);
# the seed plan, 60 indicators and 40 key projects, is 33 KB
MAX_PLAN_FILE = 2_000_000


def load_plan(path: str | Path) -> Plan:
    path = Path(path)
    try:
        text = plan_text(path)
    except FileRefused as exc:  # a directory, a device, a pipe; too large
        raise PlanFileError(str(path), [str(exc)]) from None
    except OSError as exc:
        raise PlanFileError(str(path), [f"{path}: cannot be read: {exc.strerror}"]) from None
    except UnicodeError as exc:
        raise PlanFileError(str(path), [f"{path}: {exc}"]) from None
    return parse_plan(text, str(path))


def plan_text(path: Path) -> str:
    """A plan file's text (`decode_text`: UTF-8, else GBK as a Chinese editor may save it).
    OSError if it cannot be read (FileRefused: not a regular file, or over MAX_PLAN_FILE bytes),
    UnicodeError if it is no text."""
    text = decode_text(read_regular(path, MAX_PLAN_FILE))
    if text is None:
        raise UnicodeError("neither UTF-8 nor GB18030 (GBK) text")
    return text


class Plans:
    def __init__(self, store: EventStore, catalog: PlanCatalog) -> None:
        self.store, self.catalog = store, catalog

    async def published(self) -> list[Plan]:
        """Every plan whose definition has been published."""
        return await self.catalog.all()

    async def publish(self, plan: Plan, by: str | None = None) -> Published:
        """Publish `plan`, by `by` (the publishing token's id, or cli): recorded in the event."""
        return await publish_plan(self.store, plan, by=by)

    async def publish_document(self, plan_id: str, document: object, by: str | None = None) -> Published:
        """Publish a plan sent as a JSON document for `plan_id` (the API's body)."""
        try:
            plan = Plan.model_validate(document)
        except ValidationError as exc:
            raise Invalid("the plan is not valid", "计划内容有误", field_errors(exc)) from None
        if plan.id != plan_id:
            raise Invalid(
                "the plan's id differs from the address",
                "计划编号与请求地址不一致",
                [FieldError("id", f"{plan.id!r} is not {plan_id!r}", "与地址中的计划编号不一致")],
            )
        return await self.publish(plan, by)

    async def publish_text(self, text: str, source: str, by: str | None = None) -> tuple[Plan, Published]:
        """Publish a plan file's text (the dashboard's, after a draft was checked and edited):
        Invalid lists every problem with its line, as `plan check` does."""
        try:
            plan = parse_plan(text, source)
        except PlanFileError as exc:
            raise Invalid(
                f"{source} is not a valid plan",
                "计划文件有误，未发布",
                [FieldError(source, problem, "计划文件有误") for problem in exc.problems],
                rows=exc.problems,
            ) from None
        return plan, await self.publish(plan, by)

    def draft(
        self, content: bytes, filename: str, identity: PlanIdentity, projects: tuple[bytes, str] | None = None
    ) -> PlanDraft:
        """A plan file drafted from uploaded tables (the API's): `draft_plan_document`."""
        return draft_plan_document(content, filename, identity, projects)


def draft_plan_document(
    content: bytes, filename: str, identity: PlanIdentity, projects: tuple[bytes, str] | None = None
) -> PlanDraft:
    """A plan file drafted from the office's target table and, if given, its key-project list
    ((content, filename), xlsx, csv or docx): the YAML, the plan it defines and what to check before
    publishing. Invalid lists every bad cell of both, each by its row and column."""
    for size, name in [(len(content), filename), *([(len(projects[0]), projects[1])] if projects else [])]:
        if size > MAX_FILE:  # an office's tables are a few hundred rows
            raise TooLarge(f"{name} exceeds {MAX_FILE} bytes", f"文件过大（上限{MAX_FILE}字节）")
    try:
        return draft_plan_sheet(content, filename, identity, projects)
    except SheetRejected as exc:
        raise Invalid(
            f"{exc.filename}: {len(exc.errors)} problem(s), no plan drafted",
            f"{len(exc.errors)}处问题，未起草计划",
            [FieldError(f"row {e.row}: {e.column}", e.reason, e.reason_zh) for e in exc.errors],
            rows=[str(e) for e in exc.errors],
        ) from None


def draft_plan_file(path: Path, identity: PlanIdentity, projects: Path | None = None) -> PlanDraft:
    """`draft_plan_document` of the files at `path` and `projects` (the CLI's). A file that is not a
    regular one, or is over MAX_FILE bytes, is refused before it is read: Invalid, its field `table`
    or `projects` as the API names the two."""
    content = _table_file(path, "table")
    listed = (_table_file(projects, "projects"), projects.name) if projects is not None else None
    return draft_plan_document(content, path.name, identity, listed)


def _table_file(path: Path, field: str) -> bytes:
    try:
        return read_regular(path, MAX_FILE)  # an office's tables are a few hundred rows
    except OSError as exc:
        reason_zh = exc.reason_zh if isinstance(exc, FileRefused) else "文件无法读取"
        raise Invalid(
            said(exc, path), f"{path}：{reason_zh}", [FieldError(field, said(exc, path), reason_zh)]
        ) from None
