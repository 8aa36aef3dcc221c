"""Hypothesis strategies for protocol values."""

from hypothesis import strategies as st

from protocol import limits
from protocol.body import (
    LAT_E7_MAX,
    LON_E7_MAX,
    Category,
    Comment,
    Location,
    Media,
    Open,
    Registers,
    Severity,
    Status,
    Update,
)

text = st.text(min_size=1, max_size=40).filter(str.strip)
ids = st.binary(min_size=32, max_size=32)
tags = st.lists(st.text(alphabet="abcdefgh-", min_size=1, max_size=8), max_size=5)
locations = st.builds(
    Location, st.integers(-LAT_E7_MAX, LAT_E7_MAX), st.integers(-LON_E7_MAX, LON_E7_MAX), st.text(max_size=20)
)

registers = st.builds(
    Registers,
    title=st.none() | text,
    category=st.none() | st.sampled_from(Category),
    severity=st.none() | st.sampled_from(Severity),
    status=st.none() | st.sampled_from(Status),
    description=st.none() | st.text(max_size=50),
    location=st.none() | locations,
)
full_registers = st.builds(
    Registers,
    title=text,
    category=st.sampled_from(Category),
    severity=st.sampled_from(Severity),
    status=st.none() | st.sampled_from(Status),
)
opens = st.builds(
    Open, full_registers, st.lists(st.text(alphabet="abc", min_size=1, max_size=3), max_size=4).map(tuple)
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
comments = st.builds(Comment, ids, text)


@st.composite
def medias(draw):
    chunk_size = draw(st.integers(1, limits.chunk_bytes_max))
    count = draw(st.integers(1, 4))
    size = draw(st.integers((count - 1) * chunk_size + 1, count * chunk_size))
    return Media(
        draw(ids), draw(text), "image/jpeg", size, chunk_size, tuple(draw(ids) for _ in range(count)), draw(ids)
    )


bodies = opens | updates | comments | medias()
