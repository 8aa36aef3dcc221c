from hypothesis import given
from hypothesis import strategies as st

from protocol.body import Comment, Registers, Severity, Update
from protocol.entry import create
from protocol.incident import fold

from .factories import NOW_MS, open_body, roster_of

IDS, _ = roster_of(4)


def history(ops):
    """Entries from 4 authors about one incident, built from (author, kind, n, dt) ops."""
    opening = create(IDS[0], 1, None, NOW_MS << 16, open_body())
    entries, seqs, prevs = [opening], {0: 1}, {0: opening.id}
    for author, kind, n, dt in ops:
        seq = seqs.get(author, 0) + 1
        hlc = (NOW_MS + dt) << 16 | n
        if kind == 0:
            body = Update(opening.id, Registers(title=f"t{n}", severity=list(Severity)[n % 4]), tags_add=(f"g{n % 3}",))
        elif kind == 1:
            live = fold(entries, opening.id).live_tags()
            tag = f"g{n % 3}"
            body = (
                Update(opening.id, tags_remove=((tag, tuple(live[tag])),))
                if tag in live
                else Comment(opening.id, "no tag")
            )
        else:
            body = Comment(opening.id, f"c{n}")
        entry = create(IDS[author], seq, prevs.get(author), hlc, body, None)
        entries.append(entry)
        seqs[author], prevs[author] = seq, entry.id
    return opening.id, entries


ops = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(0, 50), st.integers(-500, 500)), max_size=25)


@given(ops, st.randoms(use_true_random=False), st.lists(st.integers(0, 100), max_size=10))
def test_entries_in_any_order_with_duplicates_give_the_same_state(op_list, rnd, dup_picks):
    incident, entries = history(op_list)
    shuffled = entries + [entries[i % len(entries)] for i in dup_picks]
    rnd.shuffle(shuffled)
    assert fold(shuffled, incident) == fold(entries, incident)
    assert fold(shuffled, incident).view() == fold(entries, incident).view()


@given(
    ops,
    st.lists(st.integers(0, 2), max_size=40),
    st.lists(st.integers(0, 2), max_size=40),
    st.lists(st.integers(0, 2), max_size=40),
)
def test_merge_is_commutative_associative_and_idempotent(op_list, pick_a, pick_b, pick_c):
    incident, entries = history(op_list)

    def subset(picks):
        return [e for e, p in zip(entries, picks, strict=False) if p]

    a, b, c = (fold(subset(picks), incident) for picks in (pick_a, pick_b, pick_c))
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).merge(c) == a.merge(b.merge(c))
    assert a.merge(a) == a
    assert a.merge(b).merge(c) == fold(subset(pick_a) + subset(pick_b) + subset(pick_c), incident)


def test_last_writer_wins_by_hlc_then_author_then_id():
    opening = create(IDS[0], 1, None, NOW_MS << 16, open_body())
    same_time = (NOW_MS + 10) << 16
    b = create(IDS[1], 1, None, same_time, Update(opening.id, Registers(title="from B")))
    c = create(IDS[2], 1, None, same_time, Update(opening.id, Registers(title="from C")))
    later = create(IDS[3], 1, None, same_time + 1, Update(opening.id, Registers(severity=Severity.LOW)))
    view = fold([later, c, b, opening], opening.id).view()
    expected = max([b, c], key=lambda e: e.order_key).body.registers.title
    assert view["title"] == expected
    assert view["severity"] == "low"


def test_a_tag_added_concurrently_with_its_removal_survives():
    opening = create(IDS[0], 1, None, NOW_MS << 16, open_body())  # tags cbrne, transit
    removal = create(IDS[1], 1, None, (NOW_MS + 5) << 16, Update(opening.id, tags_remove=(("cbrne", (opening.id,)),)))
    concurrent_add = create(IDS[2], 1, None, (NOW_MS + 1) << 16, Update(opening.id, tags_add=("cbrne",)))
    assert fold([opening, removal], opening.id).view()["tags"] == ["transit"]
    assert fold([opening, removal, concurrent_add], opening.id).view()["tags"] == ["cbrne", "transit"]


def test_exercise_traffic_never_alters_a_real_incident():
    opening = create(IDS[0], 1, None, NOW_MS << 16, open_body())
    drill = create(IDS[1], 1, None, (NOW_MS + 5) << 16, Update(opening.id, Registers(title="drill")), "CBRN-e tabletop")
    state = fold([opening, drill], opening.id)
    assert state.view()["title"] == "Device found at Brussels-Midi"
    assert state.view()["exercise"] is None


def test_updates_that_arrive_before_the_opening_apply_once_it_arrives():
    opening = create(IDS[0], 1, None, NOW_MS << 16, open_body())
    early = create(IDS[1], 1, None, (NOW_MS + 5) << 16, Comment(opening.id, "seen first"))
    state = fold([early], opening.id)
    assert not state.visible
    state.apply(opening)
    assert state.view()["comments"] == [early.id]
