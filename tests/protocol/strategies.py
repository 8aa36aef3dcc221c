"""Hypothesis strategies for protocol values.

Two families: valid values (each text drawn from the whole of Unicode and kept only if
its rule accepts it, so the generators cannot be narrower than the rule), and raw values
(any code point, surrogates and controls included) for the write/decode agreement.
"""

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from protocol import limits
from protocol.body import (
    AREA,
    COMMENT_TEXT,
    DESCRIPTION,
    FILE_NAME,
    LAT_E7_MAX,
    LON_E7_MAX,
    NOTE,
    ORIGIN_ID,
    PLACE,
    QUESTIONNAIRE,
    TAG,
    TITLE,
    Ack,
    AckLevel,
    Answer,
    Body,
    Category,
    Comment,
    Location,
    Media,
    Open,
    Origin,
    Profile,
    Registers,
    Sealed,
    Severity,
    Status,
    Update,
    WrappedKey,
)
from protocol.errors import InvalidField
from protocol.text import TextRule

# Every code point, the surrogates too: what a client or a hostile member can send.
any_char = st.characters(exclude_categories=())
# Mostly what the rules allow, so that valid text is not rare; the filter decides.
likely_char = st.characters(exclude_categories=("Cc", "Cs")) | st.sampled_from("\t\n .-_")


def accepted(rule: TextRule) -> Callable[[str], bool]:
    def ok(value: str) -> bool:
        try:
            rule.check(value)
        except InvalidField:
            return False
        return True

    return ok


def valid_text(rule: TextRule, max_size: int = 30) -> st.SearchStrategy[str]:
    return st.text(likely_char, min_size=0 if rule.empty else 1, max_size=max_size).filter(accepted(rule))


ids = st.binary(min_size=32, max_size=32)
titles = valid_text(TITLE)
tags = st.lists(valid_text(TAG, 8), max_size=5)
locations = st.builds(
    Location, st.integers(-LAT_E7_MAX, LAT_E7_MAX), st.integers(-LON_E7_MAX, LON_E7_MAX), valid_text(PLACE, 20)
)

registers = st.builds(
    Registers,
    title=st.none() | titles,
    category=st.none() | st.sampled_from(Category),
    severity=st.none() | st.sampled_from(Severity),
    status=st.none() | st.sampled_from(Status),
    description=st.none() | valid_text(DESCRIPTION, 50),
    location=st.none() | locations,
)
full_registers = st.builds(
    Registers,
    title=titles,
    category=st.sampled_from(Category),
    severity=st.sampled_from(Severity),
    status=st.none() | st.sampled_from(Status),
)
origins = st.builds(
    Origin, st.sampled_from(["cap", "edxl-de", "emsi", "cot"]), valid_text(ORIGIN_ID, 20), valid_text(ORIGIN_ID, 40)
)
opens = st.builds(
    Open,
    full_registers,
    st.lists(st.text(alphabet="abc", min_size=1, max_size=3), max_size=4).map(tuple),
    st.none() | origins,
)
updates = st.builds(
    Update,
    ids,
    registers,
    tags.filter(bool).map(tuple),  # at least one change, as every update must have
    st.lists(
        st.tuples(st.text(alphabet="xyz", min_size=1, max_size=3), st.lists(ids, min_size=1, max_size=2).map(tuple)),
        max_size=2,
        unique_by=lambda r: r[0],
    ).map(tuple),
)
comments = st.builds(Comment, ids, valid_text(COMMENT_TEXT, 40))


@st.composite
def medias(draw: st.DrawFn) -> Media:
    chunk_size = draw(st.integers(1, limits.chunk_bytes_max))
    count = draw(st.integers(1, 4))
    size = draw(st.integers((count - 1) * chunk_size + 1, count * chunk_size))
    name = draw(valid_text(FILE_NAME))
    return Media(draw(ids), name, "image/jpeg", size, chunk_size, tuple(draw(ids) for _ in range(count)), draw(ids))


acks = st.builds(Ack, ids, ids, st.sampled_from(AckLevel))
answers = st.builds(
    Answer,
    valid_text(AREA, 12),
    st.integers(0, limits.profile_level_max),
    st.integers(0, limits.profile_level_max),
    valid_text(NOTE, 30),
)
profiles = st.builds(
    Profile,
    valid_text(QUESTIONNAIRE, 20),
    st.lists(answers, min_size=1, max_size=5, unique_by=lambda a: a.area).map(tuple),
)

wrapped_keys = st.builds(WrappedKey, ids, st.binary(min_size=24, max_size=24), st.binary(min_size=48, max_size=48))
sealeds = st.builds(
    Sealed,
    st.none() | ids,
    st.binary(min_size=8, max_size=8),
    st.binary(min_size=24, max_size=24),
    st.binary(min_size=17, max_size=80),
    st.lists(wrapped_keys, min_size=1, max_size=3, unique_by=lambda k: k.recipient).map(tuple),
)

bodies = opens | updates | comments | medias() | acks | profiles | sealeds


@st.composite
def raw_bodies(draw: st.DrawFn) -> Callable[[], Body]:
    """A constructor call with arbitrary text in every text field, still to be made: it
    may raise InvalidField (the text breaks a rule) or build a body."""
    text = st.text(any_char, max_size=12)
    kind = draw(st.sampled_from(["open", "update", "comment", "media"]))
    incident = draw(ids)
    args: dict[str, Any] = {
        "title": draw(text),
        "description": draw(text),
        "place": draw(text),
        "tags": draw(st.lists(text, max_size=3)),
        "name": draw(text),
        "mime": draw(st.sampled_from(["image/jpeg", "video/mp4"]) | text),
    }
    located = draw(st.booleans())

    def build() -> Body:
        location = Location(0, 0, args["place"]) if located else None
        if kind == "open":
            registers = Registers(args["title"], Category.OTHER, Severity.LOW, None, args["description"], location)
            return Open(registers, tuple(args["tags"]))
        if kind == "update":
            return Update(incident, Registers(title=args["title"], location=location), tuple(args["tags"]))
        if kind == "comment":
            return Comment(incident, args["description"])
        return Media(incident, args["name"], args["mime"], 10, 10, (bytes(32),), bytes(32))

    return build
