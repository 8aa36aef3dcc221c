"""Other systems' text made safe for our text rules, and the small readers and writers the
bridges share (cap, edxl, emsi, cot).

Sanitising, for every text an import takes (the rules are protocol/text.py's; what the
node writes must pass them, so the bridges make it so rather than refuse a document):
- Control characters go: C0 but TAB and LF, DEL, C1, U+FFFE, U+FFFF, lone surrogates.
- Line text (titles, places, tags, exercise and sender names): every tab and line break
  (TAB, LF, CR, U+2028, U+2029) becomes a space. Free text (descriptions): CR LF and CR
  become LF; TAB, LF, U+2028 and U+2029 stay.
- NEL (U+0085) is a C1 control and goes (EMSI, CoT), unless the caller says `nel_breaks`
  (CAP, whose older feeds end lines with it): then it is a line break like CR.
- Then the caller's `tidy`: "exact" changes nothing more (our own exports, read back
  exactly); "trim" trims both ends; "fold" tidies other systems' text: line text has each
  run of white space folded into one space, free text has each line's ends trimmed, and
  both ends are trimmed.
- Cut to the field's limit in code points (and, unless "exact", trimmed again: the cut
  leaves no trailing space). Blank text, or None, gives "": the caller says what a text
  that is missing becomes.
- Identifiers are never altered: one that breaks the origin rule (line text, not blank, at
  most `origin_chars_max`) refuses the document (`check_identifier`).

Our own lines inside another standard's free text:
- EXERCISE_PREFIX "QROC exercise: <name>" names the exercise where a standard has only
  a mode (CAP note, EMSI CONTEXT/FREETEXT).
- The trailer, the last line of a free-text element we export (EMSI EVENT/FREETEXT, CoT
  remarks): "QROC incident: " and a JSON object with our exact category, severity, status,
  tags and (CoT only) place. Read back, unknown values are dropped and tags and place are
  sanitised as line text.

Checks of what a document says, each raising `refused(path, problem)`, that is
XmlRefused("invalid", "<path>: <problem>"): `check_datetime` (xs:dateTime),
`check_decimal` (xs:decimal, optionally within a range), `check_identifier`. `degrees`
writes a coordinate to 1e-7 degree, the protocol's unit.
"""

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from protocol import limits
from protocol.errors import InvalidField
from protocol.text import TextRule

from .model import CATEGORIES, SEVERITIES, STATUSES, Category, Severity, Status
from .xml import XmlRefused

Tidy = Literal["exact", "trim", "fold"]
EXERCISE_PREFIX = "QROC exercise: "
TRAILER_PREFIX = "QROC incident: "
IDENTIFIER = TextRule("identifier", limits.origin_chars_max)

# The characters no text of ours may hold (protocol/text.py's controls).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
# Line breaks (and TAB) in line text, and line ends in free text: without NEL, and with it.
_BREAK = {False: re.compile("[\t\n\r\u2028\u2029]"), True: re.compile("[\t\n\r\x85\u2028\u2029]")}
_NEWLINE = {False: re.compile("\r\n?"), True: re.compile("\r\n?|\x85")}
_DATETIME = re.compile(
    r"-?\d{4,}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]\d\d:[0-5]\d)?"
)
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


# --- sanitising ---


def line_text(value: str | None, chars_max: int, tidy: Tidy = "trim", *, nel_breaks: bool = False) -> str:
    """`value` as one-line text our rules accept, cut to `chars_max`; "" if None or blank."""
    text = _CONTROL.sub("", _BREAK[nel_breaks].sub(" ", value or ""))
    return _cut(" ".join(text.split()) if tidy == "fold" else text, chars_max, tidy)


def free_text(
    value: str, chars_max: int = limits.text_chars_max, tidy: Tidy = "exact", *, nel_breaks: bool = False
) -> str:
    """`value` as free text our rules accept, cut to `chars_max`; "" if blank."""
    text = _CONTROL.sub("", _NEWLINE[nel_breaks].sub("\n", value))
    return _cut("\n".join(line.strip() for line in text.split("\n")) if tidy == "fold" else text, chars_max, tidy)


def _cut(text: str, chars_max: int, tidy: Tidy) -> str:
    text = text[:chars_max] if tidy == "exact" else text.strip()[:chars_max].rstrip()
    return text if text.strip() else ""


# --- our trailer ---


@dataclass(frozen=True, slots=True)
class Trailer:
    """Our own fields, exactly, as the last line of a free-text element we export."""

    category: Category | None = None
    severity: Severity | None = None
    status: Status | None = None
    tags: tuple[str, ...] = ()
    place: str | None = None  # CoT only: EMSI has POSITION/NAME


def with_trailer(description: str, trailer: Trailer) -> str:
    """The description, then `trailer` as the last line (JSON: any tag survives)."""
    fields = {"category": trailer.category, "severity": trailer.severity, "status": trailer.status}
    fields |= {"tags": list(trailer.tags)} | ({} if trailer.place is None else {"place": trailer.place})
    line = TRAILER_PREFIX + json.dumps(fields, ensure_ascii=False)
    return f"{description}\n{line}" if description else line


def read_trailer(text: str) -> tuple[str, Trailer] | None:
    """(text before, our fields) if the last line is our trailer; bad values are dropped."""
    head, _, last = text.rpartition("\n")
    if not last.startswith(TRAILER_PREFIX):
        return None
    try:
        raw = json.loads(last[len(TRAILER_PREFIX) :])
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    tags = raw.get("tags") if isinstance(raw.get("tags"), list) else []
    cleaned = {t for tag in tags if isinstance(tag, str) and (t := line_text(tag, limits.tag_chars_max))}
    place = raw.get("place")
    return head, Trailer(
        category=CATEGORIES.get(str(raw.get("category"))),
        severity=SEVERITIES.get(str(raw.get("severity"))),
        status=STATUSES.get(str(raw.get("status"))),
        tags=tuple(sorted(cleaned))[: limits.tags_max],
        place=line_text(place, limits.place_chars_max) if isinstance(place, str) else None,
    )


# --- numbers and checks ---


def degrees(value: float) -> str:
    """A coordinate as a decimal to 1e-7 degree (the protocol's unit), no trailing zeros."""
    text = f"{value:.7f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def refused(path: str, problem: str) -> XmlRefused:
    return XmlRefused("invalid", f"{path}: {problem}")


def check_datetime(path: str, value: str) -> None:
    if not _DATETIME.fullmatch(value.strip()):
        raise refused(path, f"{value!r} is not a date-time (YYYY-MM-DDThh:mm:ss[.s][Z|±hh:mm])")


def check_decimal(path: str, value: str, low: int | None = None, high: int | None = None) -> Decimal:
    if not _DECIMAL.fullmatch(value.strip()):
        raise refused(path, f"{value!r} is not a decimal number")
    number = Decimal(value.strip())
    if low is not None and high is not None and not low <= number <= high:
        raise refused(path, f"{value.strip()} is outside {low}..{high}")
    return number


def check_identifier(path: str, value: str) -> str:
    """`value` if it passes the origin rule (line text, not blank, at most origin_chars_max)."""
    try:
        return IDENTIFIER.check(value)
    except InvalidField as exc:
        raise refused(path, str(exc)) from None
