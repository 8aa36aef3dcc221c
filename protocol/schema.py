"""Typed readers for decoded CBOR maps: every schema check raises Malformed or InvalidField.

Python's bool is an int; these readers check exact types so `true` is never a number.
"""

from collections.abc import Callable
from enum import IntEnum
from itertools import pairwise
from typing import Any, TypeVar

from .errors import InvalidField, Malformed

E = TypeVar("E", bound=IntEnum)
T = TypeVar("T")


class Fields:
    """A CBOR map with small-integer keys, read field by field."""

    __slots__ = ("_map", "_what")

    def __init__(self, value: Any, what: str, keys: range) -> None:
        if type(value) is not dict:
            raise Malformed(f"{what} must be a map")
        for key in value:
            if type(key) is not int or key not in keys:
                raise Malformed(f"{what} has unknown key {key!r}")
        self._map = value
        self._what = what

    def has(self, key: int) -> bool:
        return key in self._map

    def _get(self, key: int, required: bool) -> Any:
        if key not in self._map:
            if required:
                raise Malformed(f"{self._what} lacks field {key}")
            return None
        return self._map[key]

    def uint(self, key: int, required: bool = True, minimum: int = 0) -> Any:
        value = self._get(key, required)
        if value is None and not required:
            return None
        if type(value) is not int or value < minimum or value >= 1 << 64:
            raise InvalidField(f"{self._what} field {key} must be an unsigned integer >= {minimum}")
        return value

    def bytes32(self, key: int, required: bool = True) -> Any:
        return as_bytes32(self._get(key, required), f"{self._what} field {key}", required)

    def text(self, key: int, chars_max: int, required: bool = True, empty: bool = False) -> Any:
        return as_text(self._get(key, required), f"{self._what} field {key}", chars_max, required, empty)

    def enum(self, key: int, kind: type[E], required: bool = True) -> E | None:
        value = self._get(key, required)
        if value is None and not required:
            return None
        try:
            return kind(value) if type(value) is int else kind(None)
        except ValueError:
            raise InvalidField(f"{self._what} field {key}: {value!r} is not a {kind.__name__}") from None

    def array(self, key: int, item: Callable[[Any], T], items_max: int, sorted_unique: bool = False) -> tuple[T, ...]:
        """An optional array (absent means empty), each item read by `item`."""
        value = self._get(key, False)
        if value is None:
            return ()
        return as_array(value, f"{self._what} field {key}", item, items_max, sorted_unique)

    def raw(self, key: int, required: bool = True) -> Any:
        return self._get(key, required)


def as_bytes32(value: Any, what: str, required: bool = True) -> Any:
    if value is None and not required:
        return None
    if type(value) is not bytes or len(value) != 32:
        raise InvalidField(f"{what} must be 32 bytes")
    return value


def as_text(value: Any, what: str, chars_max: int, required: bool = True, empty: bool = False) -> Any:
    if value is None and not required:
        return None
    if type(value) is not str or len(value) > chars_max or (not empty and not value.strip()):
        raise InvalidField(f"{what} must be {'' if empty else 'non-blank '}text of at most {chars_max} characters")
    return value


def as_array(
    value: Any, what: str, item: Callable[[Any], T], items_max: int, sorted_unique: bool = False
) -> tuple[T, ...]:
    if type(value) is not list:
        raise Malformed(f"{what} must be an array")
    if len(value) > items_max:
        raise InvalidField(f"{what} holds more than {items_max} items")
    items = tuple(item(v) for v in value)
    if sorted_unique and any(a >= b for a, b in pairwise(items)):  # type: ignore[operator]
        raise InvalidField(f"{what} must be sorted and free of duplicates")
    return items
