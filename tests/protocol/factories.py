"""Members, rosters and entries for protocol tests: deterministic seeds, one clock origin."""

from protocol.body import Category, Comment, Location, Open, Registers, Severity, Status, Update
from protocol.identity import Identity
from protocol.memory_store import MemoryStore
from protocol.replica import Replica
from protocol.roster import Member, Roster

NOW_MS = 1_763_786_000_000  # 2025-11-22, a fixed origin keeps tests reproducible
COUNTRIES = ["BE", "CZ", "DE", "ES", "FR", "IT", "NL", "PL", "AT", "SE", "PT"]


def identity(n: int) -> Identity:
    return Identity(bytes([n + 1]) * 32)


def roster_of(n: int) -> tuple[list[Identity], Roster]:
    ids = [identity(i) for i in range(n)]
    members = [
        Member(f"OC {COUNTRIES[i % len(COUNTRIES)]} {i}", COUNTRIES[i % len(COUNTRIES)], x.public_key)
        for i, x in enumerate(ids)
    ]
    return ids, Roster(members)


def replicas(n: int) -> list[Replica]:
    ids, roster = roster_of(n)
    return [Replica(MemoryStore(), roster, x) for x in ids]


def open_body(title: str = "Device found at Brussels-Midi") -> Open:
    return Open(
        Registers(
            title=title,
            category=Category.CBRNE,
            severity=Severity.CRITICAL,
            description="Unattended rucksack, sensor alarm",
            location=Location(508_358_000, 43_364_000, "Brussels-Midi"),
        ),
        tags=("cbrne", "transit"),
    )


def update_body(incident: bytes, n: int) -> Update:
    statuses = list(Status)
    return Update(incident, Registers(status=statuses[n % len(statuses)], title=f"Update {n}"), tags_add=(f"t{n % 3}",))


def comment_body(incident: bytes, n: int) -> Comment:
    return Comment(incident, f"Comment {n}")


def comment_texts(replica: Replica, incident: bytes) -> list[str]:
    """An incident's comments as a node shows them: their entries read from the store by
    the ids the fold holds, opened if sealed, in (hlc, author, id) order."""
    entries = [replica.readable(replica.store.by_id[i]) for i in replica.incidents[incident].view()["comments"]]
    return [e.body.text for e in sorted(entries, key=lambda e: e.order_key)]
