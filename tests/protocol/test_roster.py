import pytest

from protocol.errors import InvalidField
from protocol.roster import Member

from .factories import identity

GOOD = {"name": "OC Belgium", "country": "BE", "public_key": identity(0).public_key.hex(), "addrs": []}


def test_a_member_card_round_trips_through_json_form():
    member = Member.from_card(GOOD)
    assert Member.from_card(member.card()) == member
    assert member.card()["peer_id"].startswith("12D3KooW")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", 7),
        ("country", "XX"),
        ("country", "be"),
        ("public_key", "abcd"),
        ("public_key", "zz" * 32),
        ("addrs", "not-a-list"),
        ("addrs", ["/ip4/127.0.0.1/tcp/1"] * 9),
        ("peer_id", "12D3KooWnotthisone"),
    ],
)
def test_a_card_with_a_bad_field_is_refused_naming_the_field(field, value):
    card = {**GOOD, field: value}
    with pytest.raises(InvalidField, match=field if field != "country" else "ISO 3166"):
        Member.from_card(card)


def test_a_card_must_be_an_object():
    with pytest.raises(InvalidField):
        Member.from_card(["OC Belgium"])
