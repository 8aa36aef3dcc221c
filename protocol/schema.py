"""Typed readers for decoded CBOR maps: every schema check raises Malformed or InvalidField.

A map's keys are listed with their field names, so that an error names the field as the
API does ("title: ...", not "field 1"). Python's bool is an int; these readers check exact
types so `true` is never a number. Values are checked by the constructors of the types
they become (body.py): one validator for what we write and what we decode.
"""

from collections.abc import Callable, Mapping
from enum import IntEnum
from itertools import pairwise
from typing import Any, TypeVar

from .errors import InvalidField, Malformed
from .text import TextRule

E = TypeVar("E", bound=IntEnum)
T = TypeVar("T")

# Integers that count or order things (seq, hlc) stay below 2^63: every store and most
# languages hold them in a signed 64-bit integer.
INT63_LIMIT = 1 << 63


class Fields:
    """A CBOR map with small-integer keys, read field by field."""

    __slots__ = ("_map", "_names", "_what")

    def __init__(self, value: Any, what: str, names: Mapping[int, str], nullable: frozenset[int] = frozenset()) -> None:
        if type(value) is not dict:
            raise Malformed(f"{what} must be a map")
        for key, item in value.items():
            if type(key) is not int or key not in names:
                raise Malformed(f"{what} has unknown key {key!r}")
            if item is None and key not in nullable:
                # An absent field is left out: a null beside it would be a second encoding
                # (and a second id) of the same entry.
                raise InvalidField(f"{names[key]} is null: leave an absent field out")
        self._map = value
        self._names = names
        self._what = what

    def has(self, key: int) -> bool:
        return key in self._map

    def name(self, key: int) -> str:
        return self._names[key]

    def _get(self, key: int, required: bool) -> Any:
        if key not in self._map:
            if required:
                raise Malformed(f"{self._what} lacks {self._names[key]} (key {key})")
            return None
        return self._map[key]

    def uint(self, key: int, required: bool = True, minimum: int = 0, limit: int = INT63_LIMIT) -> Any:
        """An integer with minimum <= value < limit."""
        value = self._get(key, required)
        if value is None and not required:
            return None
        if type(value) is not int or not minimum <= value < limit:
            raise InvalidField(f"{self._names[key]} must be a whole number from {minimum} to {limit - 1}")
        return value

    def bytes32(self, key: int, required: bool = True) -> Any:
        return as_bytes32(self._get(key, required), self._names[key], required)

    def text(self, key: int, rule: TextRule, required: bool = True) -> Any:
        value = self._get(key, required)
        return None if value is None and not required else rule.check(value)

    def enum(self, key: int, kind: type[E], required: bool = True) -> E | None:
        value = self._get(key, required)
        if value is None and not required:
            return None
        try:
            return kind(value) if type(value) is int else kind(None)
        except ValueError:
            raise InvalidField(f"{self._names[key]}: {value!r} is not a {kind.__name__.lower()}") from None

    def array(self, key: int, item: Callable[[Any], T], items_max: int, sorted_unique: bool = False) -> tuple[T, ...]:
        """An optional array: absent means empty, and an empty array must be absent (one
        encoding for one value)."""
        value = self._get(key, False)
        if value is None:
            return ()
        items = as_array(value, self._names[key], item, items_max, sorted_unique)
        if not items:
            raise InvalidField(f"{self._names[key]}: an empty list is left out, not sent")
        return items

    def raw(self, key: int, required: bool = True) -> Any:
        return self._get(key, required)


def as_bytes32(value: Any, what: str, required: bool = True) -> Any:
    if value is None and not required:
        return None
    if type(value) is not bytes or len(value) != 32:
        raise InvalidField(f"{what} must be 32 bytes")
    return value


def as_array(
    value: Any, what: str, item: Callable[[Any], T], items_max: int, sorted_unique: bool = False
) -> tuple[T, ...]:
    if type(value) is not list:
        raise Malformed(f"{what} must be an array")
    if len(value) > items_max:
        raise InvalidField(f"{what} holds {len(value)} items; at most {items_max} are allowed")
    items = tuple(item(v) for v in value)
    if sorted_unique and any(a >= b for a, b in pairwise(items)):  # type: ignore[operator]
        raise InvalidField(f"{what} must be sorted and free of duplicates")
    return items
