"""The monthly rollup as a Chinese report in Markdown. Pure: a `RollupDocument` in, text out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from projections.rollup import RollupDocument
from services.reports.common import (
    FURTHER_HEADER,
    PART_CHANGES,
    PART_FURTHER,
    PART_MAIN,
    PART_OFF_TRACK,
    PART_PROJECTS,
    changes_part,
    further_cells,
    main_cells,
    markdown_text,
    meta_parts,
    off_track_item,
    portfolio_sentences,
    project_lists,
    with_texts,
)
from services.reports.table import table_header


def _md_cell(text: str) -> str:
    """A table cell: a newline would end the row (its `|` is escaped with every text: markdown_text)."""
    return text.replace("\r", " ").replace("\n", " ")


def _projects_part(doc: RollupDocument) -> list[str]:
    said, scopes, completed = portfolio_sentences(doc)
    lines = [f"## {PART_PROJECTS}", "", *(line for sentence in said for line in (sentence, ""))]
    lines += [f"- {line}" for line in scopes] + ([""] if scopes else [])
    lines += [line for sentence in completed for line in (sentence, "")]
    if not doc.projects:  # no key projects: nothing overdue or lagging to speak of
        return lines
    for heading, items, none in project_lists(doc):
        if items:
            lines += [f"**{heading}（{len(items)}个）**", "", *(f"- {line}【{p.status_zh}】" for p, line in items), ""]
        else:
            lines += [none, ""]
    return lines


def _md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(_md_cell(cell) for cell in header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rows]
    return lines


def render_markdown(doc: RollupDocument) -> str:
    """The rollup as a Chinese report in Markdown, in the order the district's report reads."""
    doc = with_texts(doc, markdown_text)  # a name or a note makes no markup (a link, HTML, a cell's end)
    lines = [f"# {doc.title}", "", "；".join(meta_parts(doc)), ""]

    lines += [f"## {PART_MAIN}", ""]
    lines += _md_table(table_header(doc.column), (main_cells(r, doc) for r in doc.main))
    lines.append("")

    lines += _projects_part(doc)

    lines += [f"## {PART_FURTHER}", ""]
    for section in doc.sections:
        lines += [f"### {section.name}", "", *_md_table(FURTHER_HEADER, map(further_cells, section.rows)), ""]
    if not doc.sections:
        lines += ["无其他目标任务。", ""]

    lines += [f"## {PART_OFF_TRACK}", "", doc.missed_sentence, ""]
    if doc.off_track:
        lines += [f"- {off_track_item(item)}【{item.status_zh}】" for item in doc.off_track]
    else:
        lines.append("无未达到目标或滞后的事项。")
    lines.append("")

    lines += [f"## {PART_CHANGES}", ""]
    paragraphs, items = changes_part(doc)
    for paragraph in paragraphs:
        lines += [paragraph, ""]
    lines += [f"- {item}" for item in items]
    return "\n".join(lines).rstrip() + "\n"
