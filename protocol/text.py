"""The text rule: what a text field may hold, decided once for the writer and the decoder.

Text written by one OC lands in every other OC's XML exports (XML 1.0 cannot carry NUL or
most C0 controls), browsers, terminals, and scripts that save media under its file name.
So the decoder refuses what the API refuses, with the same function (SPEC.md §4.3):

- every text is Unicode scalar values (valid UTF-8, so no surrogates), at most N code points;
- no control characters (U+0000–U+001F, U+007F–U+009F), except TAB and LF in free text
  (descriptions, comments); no noncharacters U+FFFE, U+FFFF;
- line text (titles, places, tags, exercise names, member names) also has no TAB, LF,
  LINE SEPARATOR (U+2028) or PARAGRAPH SEPARATOR (U+2029);
- a file name is line text without path separators, Windows-reserved characters
  (`\\ / : * ? " < > |`) or bidirectional controls (which disguise an extension), is not
  `.` or `..`, does not begin with `.` nor end with `.` or a space, and is not a reserved
  device name (CON, PRN, AUX, NUL, COM1–9, LPT1–9, in any case, alone or before a dot);
- "not blank": at least one code point outside Unicode's White_Space set (listed in
  `_WHITE_SPACE`); where a field may be empty, the empty string is allowed, blank is not.

A failure raises InvalidField naming the field and the first offending code point.
"""

import re
from dataclasses import dataclass
from enum import Enum

from .errors import InvalidField


class Shape(Enum):
    FREE = "free text"  # may hold TAB and LF
    LINE = "line text"
    FILE_NAME = "file name"


# Unicode's White_Space property (PropList.txt), the definition of "blank".
_WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_BLANK = re.compile(f"[{_WHITE_SPACE}]*")
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff"
# Bidirectional controls (Unicode's Bidi_Control property): they reorder what is shown, so
# "invoice\u202egpj.exe" reads as "invoiceexe.jpg".
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_FORBIDDEN = {
    Shape.FREE: re.compile(f"[{_CONTROLS}]"),
    Shape.LINE: re.compile(f"[{_CONTROLS}\t\n\u2028\u2029]"),
    Shape.FILE_NAME: re.compile(f'[{_CONTROLS}\t\n\u2028\u2029/\\\\:*?"<>|{_BIDI}]'),
}
_RESERVED_NAME = re.compile(r"(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?", re.IGNORECASE)


def _why(char: str) -> str:
    if char in "/\\":
        return "a path separator"
    if char in ':*?"<>|':
        return "a character Windows reserves in file names"
    if re.fullmatch(f"[{_BIDI}]", char):
        return "a bidirectional control"
    if "\ud800" <= char <= "\udfff":
        return "a lone surrogate (not a Unicode scalar value)"
    if char in "\ufffe\uffff":
        return "a noncharacter"
    if char in "\t\n\u2028\u2029":
        return "a line break or tab, not allowed in a one-line field"
    return "a control character"


@dataclass(frozen=True, slots=True)
class TextRule:
    """One text field's rule; `check` is what the API and the decoder both call."""

    name: str
    chars_max: int
    shape: Shape = Shape.LINE
    empty: bool = False

    def check(self, value: object) -> str:
        if type(value) is not str:
            raise InvalidField(f"{self.name} must be text")
        if len(value) > self.chars_max:
            raise InvalidField(f"{self.name} has {len(value)} characters; at most {self.chars_max} are allowed")
        bad = _FORBIDDEN[self.shape].search(value)
        if bad is not None:
            char = bad.group()
            raise InvalidField(f"{self.name} contains U+{ord(char):04X}, {_why(char)}")
        if _BLANK.fullmatch(value) and not (self.empty and value == ""):
            raise InvalidField(f"{self.name} must not be {'blank' if value else 'empty'}")
        if self.shape is Shape.FILE_NAME:
            _check_file_name(self.name, value)
        return value


def _check_file_name(name: str, value: str) -> None:
    if value.startswith("."):
        raise InvalidField(f"{name} must not begin with a dot (hidden files, '.' and '..')")
    if value.endswith((".", " ")):
        raise InvalidField(f"{name} must not end with a dot or a space")
    if _RESERVED_NAME.fullmatch(value):
        raise InvalidField(f"{name} {value!r} is a reserved device name on Windows")
