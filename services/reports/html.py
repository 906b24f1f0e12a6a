"""The monthly rollup as a standalone printable HTML5 page: A4, government-document typefaces,
rows tinted by status. Pure: a `RollupDocument` in, text out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from projections.rollup import OffTrack, RollupDocument
from services.reports.common import (
    FURTHER_HEADER,
    PART_CHANGES,
    PART_FURTHER,
    PART_MAIN,
    PART_OFF_TRACK,
    PART_PROJECTS,
    STATUS_BY_TEXT,
    changes_part,
    further_cells,
    main_cells,
    meta_parts,
    off_track_item,
    portfolio_sentences,
    project_lists,
)
from services.reports.svg import portfolio_chart, trend_chart
from services.reports.table import table_header

# CSS class per status: the colour says how worried to be; the text says the rest.
STATUS_CLASS = {
    "met": "status-met",
    "on_track": "status-on-track",
    "at_risk": "status-at-risk",
    "off_track": "status-off-track",
    "not_due": "status-not-due",
    "no_data": "status-no-data",
    "monitored": "status-not-due",
}

CSS = """
@page { size: A4; margin: 25mm 20mm 22mm 22mm; }
* { box-sizing: border-box; }
body {
  margin: 0 auto; max-width: 210mm; padding: 16mm 14mm; color: #000; background: #fff; overflow-wrap: break-word;
  font-family: "FangSong", "仿宋", "FangSong_GB2312", "STFangsong", "SimSun", "宋体", "Songti SC",
    "Noto Serif CJK SC", "Source Han Serif SC", serif;
  font-size: 16pt; line-height: 1.75;
}
h1 {
  font-family: "方正小标宋简体", "FZXiaoBiaoSong-B05S", "SimSun", "宋体", "Songti SC", "Noto Serif CJK SC",
    "Source Han Serif SC", serif;
  font-size: 20pt; font-weight: normal; text-align: center; line-height: 1.5; margin: 0 0 0.4em;
}
h2, h3 { font-size: 16pt; font-weight: normal; }
h2 {
  font-family: "SimHei", "黑体", "Heiti SC", "Noto Sans CJK SC", "Source Han Sans SC", sans-serif;
  margin: 1.2em 0 0.4em;
}
h3 { font-family: "KaiTi", "楷体", "STKaiti", "Noto Serif CJK SC", serif; margin: 0.9em 0 0.3em; }
p { margin: 0.3em 0; text-indent: 2em; }
p.meta { text-indent: 0; text-align: center; font-size: 12pt; color: #333; }
p.legend { text-indent: 0; font-size: 11pt; }
ul { margin: 0.3em 0 0.3em 2em; padding: 0; }
table {
  width: 100%; border-collapse: collapse; margin: 0.5em 0;
  font-family: "SimSun", "宋体", "Songti SC", "Noto Serif CJK SC", "Source Han Serif SC", serif;
  font-size: 11pt; line-height: 1.4;
}
th, td { border: 1px solid #000; padding: 3pt 5pt; vertical-align: middle; overflow-wrap: anywhere; }
th { font-weight: bold; text-align: center; background: #f2f2f2; }
td.num { text-align: center; white-space: nowrap; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; break-inside: avoid; }
.status-off-track td.judged, span.status-off-track { color: #c00000; font-weight: bold; }
.status-at-risk td.judged, span.status-at-risk { color: #b26b00; font-weight: bold; }
.status-met td.judged, span.status-met { color: #2e7d32; }
tr.status-off-track { background: #fbe5d6; }
tr.status-at-risk { background: #fff2cc; }
span.status { white-space: nowrap; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 4mm 6mm; margin: 0.5em 0; }
.charts figure { margin: 0; break-inside: avoid; page-break-inside: avoid; }
.charts svg, figure.wide svg {
  width: 100%; height: auto; font-family: "SimHei", "黑体", "Noto Sans CJK SC", sans-serif;
}
figure.wide { margin: 0.5em auto; width: 70%; break-inside: avoid; page-break-inside: avoid; }
@media print {
  body { max-width: none; padding: 0; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
}
""".strip()


def _h(text: str) -> str:
    return escape(text, quote=True)


def _status_class(status: str) -> str:
    return STATUS_CLASS.get(status, "status-unknown")


def _html_table(
    header: Sequence[str],
    rows: Iterable[tuple[str, Sequence[str]]],
    css_class: str,
    text_columns: set[int],
    judged: set[int],
) -> list[str]:
    """A table; each row comes with its status, which becomes the row's class. Columns in
    `text_columns` (names, departments) are left-aligned, the figures centred; columns in
    `judged` (completion, the gap) take the status colour."""
    lines = [f'<table class="{css_class}">', "<thead>", "<tr>"]
    lines += [f'<th scope="col">{_h(cell)}</th>' for cell in header]
    lines += ["</tr>", "</thead>", "<tbody>"]
    for status, cells in rows:
        lines.append(f'<tr class="{_status_class(status)}">')
        for index, cell in enumerate(cells):
            classes = [] if index in text_columns else ["num"]
            classes += ["judged"] if index in judged else []
            attribute = f' class="{" ".join(classes)}"' if classes else ""
            lines.append(f"<td{attribute}>{_h(cell)}</td>")
        lines.append("</tr>")
    lines += ["</tbody>", "</table>"]
    return lines


def _html_list(items: Iterable[str]) -> list[str]:
    """`items` are already escaped HTML fragments."""
    return ["<ul>", *(f"<li>{item}</li>" for item in items), "</ul>"]


def _off_track_class(item: OffTrack) -> str:
    return _status_class(STATUS_BY_TEXT.get(item.status_zh, ""))


def _status_span(status_class: str, text: str) -> str:
    return f'<span class="status {status_class}">【{_h(text)}】</span>'


def _projects_part(doc: RollupDocument) -> list[str]:
    lines = ['<section id="projects">', f"<h2>{_h(PART_PROJECTS)}</h2>"]
    said, scopes, completed = portfolio_sentences(doc)
    lines += [f"<p>{_h(sentence)}</p>" for sentence in (*said, *scopes, *completed)]
    if doc.portfolio_trend:
        lines.append(f'<figure class="wide">{portfolio_chart(doc.portfolio_trend, doc.portfolio.label)}</figure>')
    if not doc.projects:  # no key projects: nothing overdue or lagging to speak of
        return [*lines, "</section>"]
    for heading, items, none in project_lists(doc):
        if not items:
            lines.append(f"<p>{none}</p>")
            continue
        lines.append(f"<h3>{heading}（{len(items)}个）</h3>")
        lines += _html_list(_h(line) + _status_span(_status_class(p.judged_status), p.status_zh) for p, line in items)
    return [*lines, "</section>"]


def render_html(doc: RollupDocument) -> str:
    """The rollup as a standalone printable HTML5 page (A4, government-document typefaces)."""
    lines = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(doc.title)}</title>",
        "<style>",
        CSS,
        "</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{_h(doc.title)}</h1>",
        f'<p class="meta">{"　".join(_h(part) for part in meta_parts(doc))}</p>',
    ]

    lines += ['<section id="main-targets">', f"<h2>{_h(PART_MAIN)}</h2>"]
    lines += _html_table(
        table_header(doc.column),
        ((r.judged_status, main_cells(r, doc)) for r in doc.main),
        "main-table",
        text_columns={0},
        judged={3},
    )
    legend = "，".join(
        f'<span class="status {_status_class(status)}">{_h(text)}</span>'
        for status, text in (("off_track", "红色为滞后（红灯）"), ("at_risk", "黄色为预警（黄灯）"))
    )
    lines.append(f'<p class="legend">行底色：{legend}。</p>')
    charted = [trend for trend in doc.trends if trend.points]
    if charted:  # documents stored before trends were kept have none
        lines += ["<h3>主要指标走势</h3>", '<div class="charts">']
        lines += [f"<figure>{trend_chart(trend)}</figure>" for trend in charted]
        lines += [
            "</div>",
            '<p class="legend">实线为各期累计值（点的颜色为当期判断），虚线为全年目标、对比指标或序时进度。</p>',
        ]
    lines.append("</section>")

    lines += _projects_part(doc)

    lines += ['<section id="further-targets">', f"<h2>{_h(PART_FURTHER)}</h2>"]
    for section in doc.sections:
        lines.append(f"<h3>{_h(section.name)}</h3>")
        lines += _html_table(
            FURTHER_HEADER,
            ((row.judged_status, further_cells(row)) for row in section.rows),
            "further-table",
            text_columns={0, 1, 6},
            judged={3, 5},
        )
    if not doc.sections:
        lines.append("<p>无其他目标任务。</p>")
    lines.append("</section>")

    lines += ['<section id="off-track">', f"<h2>{_h(PART_OFF_TRACK)}</h2>", f"<p>{_h(doc.missed_sentence)}</p>"]
    if doc.off_track:
        lines += _html_list(
            _h(off_track_item(item)) + _status_span(_off_track_class(item), item.status_zh) for item in doc.off_track
        )
    else:
        lines.append("<p>无未达到目标或滞后的事项。</p>")
    lines.append("</section>")

    lines += ['<section id="changes">', f"<h2>{_h(PART_CHANGES)}</h2>"]
    paragraphs, items = changes_part(doc)
    lines += [f"<p>{_h(paragraph)}</p>" for paragraph in paragraphs]
    if items:
        lines += _html_list(map(_h, items))
    lines += ["</section>", "</main>", "</body>", "</html>"]
    return "\n".join(lines) + "\n"
