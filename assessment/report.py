"""The capability matrix as one standalone, printable HTML page.

- The page carries everything it needs: an inline <style>, no script, no external resource
  (it is mailed, archived and printed, often on machines without network access).
- Every value from a profile or the questionnaire passes through html.escape: notes and
  member names are written by other OCs.
- Colour follows the current level on ColorBrewer's YlGnBu, a sequential scale safe for the
  common colour-vision deficiencies; colour never carries meaning alone: each cell reads
  "current→target", a cell below target adds ▲ and a cell with a surplus ▽. A scale of other
  than 5 levels is spread over the same 5 colours.
- In print, colours are kept (print-color-adjust), the page is A4 landscape and the annex of
  area descriptors starts on a new page.
"""

from collections.abc import Iterable
from html import escape

from .model import AreaSummary, Cell, Matrix, OcGaps, Profile, Row, utc

_COLOURS = ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494")
_INKS = ("#000", "#000", "#000", "#fff", "#fff")  # contrast on the colour behind
_BELOW = "▲"
_SURPLUS = "▽"

_STYLE = (
    """
body { font: 10pt/1.35 system-ui, "Segoe UI", Arial, sans-serif; color: #111; margin: 1.5em; }
h1 { font-size: 16pt; margin: 0 0 .2em; } h2 { font-size: 13pt; margin: 1.4em 0 .4em; }
h3 { font-size: 11pt; margin: 1em 0 .3em; } p.meta { color: #444; margin: 0 0 1em; }
table { border-collapse: collapse; margin: .3em 0 1em; }
th, td { border: 1px solid #888; padding: .25em .4em; vertical-align: top; text-align: left; }
thead th { background: #eee; font-weight: 600; }
table.heat td { text-align: center; white-space: nowrap; min-width: 3.6em; }
table.heat thead th { font-size: 8.5pt; max-width: 7em; hyphens: auto; overflow-wrap: anywhere; }
table.heat td.below { outline: 2px dashed #b00; outline-offset: -3px; font-weight: 700; }
td.none { background: #fff; color: #777; }
.oc small { display: block; color: #555; font-weight: 400; }
.swatch { display: inline-block; width: 1.4em; text-align: center; border: 1px solid #888; }
.note { white-space: pre-wrap; }
* { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { margin: 0; font-size: 9pt; }
  table { page-break-inside: auto; } tr, dt, dd { page-break-inside: avoid; }
  thead { display: table-header-group; }
  section.annex { break-before: page; }
}
"""
    + "".join(f"td.l{i}, .swatch.l{i} {{ background: {c}; color: {_INKS[i]}; }}\n" for i, c in enumerate(_COLOURS))
).strip()


def page(matrix: Matrix, gaps: tuple[OcGaps, ...], summary: tuple[AreaSummary, ...], generated: str) -> str:
    q = matrix.questionnaire
    labels = {row.key: _label(row.profile) for row in matrix.rows}
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">',
        f"<title>{escape(q.title)}</title>\n<style>\n{_STYLE}\n</style>\n</head>\n<body>",
        f"<h1>{escape(q.title)}</h1>",
        f'<p class="meta">Questionnaire {escape(q.key)} · generated {escape(generated)} · '
        f"{len(matrix.rows)} OCs in the matrix, {len(matrix.set_aside)} set aside</p>",
        _legend(matrix),
        _heat_map(matrix),
        _gaps(matrix, gaps),
        _summary(matrix, summary, labels),
        _notes(matrix),
        _set_aside(matrix),
        _annex(matrix),
        "</body>\n</html>\n",
    ]
    return "\n".join(part for part in parts if part)


def _label(profile: Profile) -> str:
    return f"{profile.country} {profile.member}"


def _shade(matrix: Matrix, level: int) -> int:
    top = matrix.questionnaire.max_level
    return round(level * (len(_COLOURS) - 1) / top)


def _legend(matrix: Matrix) -> str:
    items = [
        f'<span class="swatch l{_shade(matrix, level.value)}">{level.value}</span> {escape(level.name)}'
        for level in matrix.questionnaire.levels
    ]
    return (
        f"<p>Current level: {' · '.join(items)}. Each cell reads current→target; "
        f"{_BELOW} below target (a gap), {_SURPLUS} target below current (a surplus, not a gap), "
        "– not answered.</p>"
    )


def _heat_map(matrix: Matrix) -> str:
    head = "".join(f'<th scope="col">{escape(area.title)}</th>' for area in matrix.questionnaire.areas)
    body = "".join(
        f"<tr>{_oc_header(row)}{''.join(_heat_cell(matrix, c) for c in row.cells)}</tr>\n" for row in matrix.rows
    )
    return (
        '<h2>Heat map</h2>\n<table class="heat">\n'
        f'<thead><tr><th scope="col">OC</th>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>'
    )


def _oc_header(row: Row) -> str:
    profile = row.profile
    by = f" by {escape(profile.operator)}" if profile.operator else ""
    return (
        f'<th scope="row" class="oc">{escape(_label(profile))}'
        f"<small>saved {escape(utc(profile.saved_ms))}{by}</small></th>"
    )


def _heat_cell(matrix: Matrix, cell: Cell) -> str:
    if cell.current is None:
        return '<td class="none">–</td>'
    marker = f" {_BELOW}" if cell.gap else f" {_SURPLUS}" if cell.surplus else ""
    below = " below" if cell.gap else ""
    return f'<td class="l{_shade(matrix, cell.current)}{below}">{cell.current}→{cell.target}{marker}</td>'


def _gaps(matrix: Matrix, gaps: tuple[OcGaps, ...]) -> str:
    titles = {area.id: area.title for area in matrix.questionnaire.areas}
    rows = "".join(
        f'<tr><th scope="row">{escape(f"{oc.country} {oc.member}")}</th><td>{oc.total}</td>'
        f"<td>{_list(f'{titles[c.area]} ({c.current}→{c.target}, gap {c.gap})' for c in oc.areas)}</td></tr>\n"
        for oc in gaps
    )
    return (
        "<h2>Gaps per OC</h2>\n<table>\n"
        '<thead><tr><th scope="col">OC</th><th scope="col">Total gap</th>'
        f'<th scope="col">Areas below target, largest gap first</th></tr></thead>\n<tbody>\n{rows}</tbody>\n</table>'
    )


def _summary(matrix: Matrix, summary: tuple[AreaSummary, ...], labels: dict[str, str]) -> str:
    titles = {area.id: area.title for area in matrix.questionnaire.areas}
    rows = "".join(
        f'<tr><th scope="row">{escape(titles[s.area])}</th><td>{_mean(s.mean_current)}</td>'
        f"<td>{_mean(s.mean_target)}</td><td>{s.with_gap}</td>"
        f"<td>{len(s.unanswered)}</td><td>{_list(labels[key] for key in s.unanswered)}</td></tr>\n"
        for s in summary
    )
    return (
        "<h2>Federation summary</h2>\n<table>\n"
        '<thead><tr><th scope="col">Area</th><th scope="col">Mean current</th><th scope="col">Mean target</th>'
        '<th scope="col">OCs with a gap</th><th scope="col">OCs not answering</th><th scope="col">Which</th>'
        f"</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>"
    )


def _mean(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _list(items: Iterable[str]) -> str:
    return ", ".join(escape(item) for item in items) or "–"


def _notes(matrix: Matrix) -> str:
    titles = {area.id: area.title for area in matrix.questionnaire.areas}
    sections = []
    for row in matrix.rows:
        notes = "".join(
            f'<dt>{escape(titles[c.area])}</dt><dd class="note">{escape(c.note)}</dd>\n' for c in row.cells if c.note
        )
        if notes:
            sections.append(f"<h3>{escape(_label(row.profile))}</h3>\n<dl>\n{notes}</dl>")
    return "<h2>Notes</h2>\n" + ("\n".join(sections) or "<p>No OC wrote a note.</p>")


def _set_aside(matrix: Matrix) -> str:
    if not matrix.set_aside:
        return ""
    rows = "".join(
        f'<tr><th scope="row">{escape(_label(aside.profile))}</th><td>{escape(aside.profile.questionnaire)}</td>'
        f"<td>{escape(utc(aside.profile.saved_ms))}</td><td>{escape(aside.reason)}</td></tr>\n"
        for aside in matrix.set_aside
    )
    return (
        "<h2>Answered an older or other questionnaire, or invalid</h2>\n"
        "<p>These profiles are not in the figures above: their levels do not mean the same thing.</p>\n<table>\n"
        '<thead><tr><th scope="col">OC</th><th scope="col">Questionnaire</th><th scope="col">Saved</th>'
        f'<th scope="col">Why set aside</th></tr></thead>\n<tbody>\n{rows}</tbody>\n</table>'
    )


def _annex(matrix: Matrix) -> str:
    q = matrix.questionnaire
    scale = "".join(f"<li>{level.value} {escape(level.name)}: {escape(level.meaning)}</li>" for level in q.levels)
    areas = "".join(
        f'<h3>{escape(area.title)}</h3>\n<p>{escape(area.question)}</p>\n<ol start="0">'
        + "".join(f"<li>{escape(descriptor)}</li>" for descriptor in area.levels)
        + "</ol>\n"
        for area in q.areas
    )
    heading = f"<h2>Annex: the questionnaire {escape(q.key)}</h2>"
    return f'<section class="annex">\n{heading}\n<ul>{scale}</ul>\n{areas}</section>'
