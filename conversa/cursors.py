"""Cursor pagination for the API's lists: one helper, one cursor format.

A list is read `limit` rows at a time (bounded by `MAX_LIMIT`) in a stable order, its sort
keys followed by the primary key, so two rows never tie. The cursor of the next page is the last
row's sort values and key, as base64url JSON (opaque to the caller: they send back what they
were given), and goes in the `X-Next-Cursor` header; the body stays the list. The next page
starts strictly after that position (keyset pagination, not an offset): a row added or removed
while paging shifts nothing, so no row is seen twice or skipped.

A cursor that cannot be read, or that was made for another ordering, is a 422 naming `cursor`.
Sort keys must not be null (a NULL never compares, and its row would be skipped).
"""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime
from ninja import Query

from conversa.bounds import MAX_LIMIT
from conversa.errors import Refused

DEFAULT_LIMIT = 100
MAX_CURSOR = 600
HEADER = "X-Next-Cursor"

Cursor = Annotated[
    str | None,
    Query(
        None,
        max_length=MAX_CURSOR,
        description=f"the `{HEADER}` of the previous page; none: the first page",
    ),
]
Limit = Annotated[int, Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="rows per page")]


@dataclass
class Page:
    rows: list
    next_cursor: str | None


def encode(order: Sequence[str], values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime | date) else v for v in values]
    plain = [str(v) if isinstance(v, Decimal) else v for v in plain]
    raw = json.dumps([",".join(order), plain], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def not_a_cursor() -> Refused:
    return Refused("Not a cursor of this list: send back the X-Next-Cursor given.", field="cursor")


def decode(cursor: str, order: Sequence[str]) -> list:
    """The values a cursor of this ordering stands for."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        made_for, values = json.loads(raw)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise not_a_cursor() from None
    if made_for != ",".join(order) or not isinstance(values, list) or len(values) != len(order):
        raise not_a_cursor()
    if any(isinstance(v, dict | list) for v in values):
        raise not_a_cursor()
    return values


def field_name(key: str) -> str:
    return key.lstrip("-")


def typed(queryset: QuerySet, name: str, value: Any) -> Any:
    """A cursor's JSON value as the column's own type (a date-time from its text)."""
    name = "pk" if name == "id" else name
    try:
        field = queryset.model._meta.pk if name == "pk" else queryset.model._meta.get_field(name)
    except Exception:  # an annotation: its JSON value as given
        moment = parse_datetime(value) if isinstance(value, str) else None
        return moment or value
    try:
        return field.to_python(value)
    except (ValidationError, TypeError, ValueError):
        raise not_a_cursor() from None


def after(queryset: QuerySet, order: Sequence[str], values: Sequence[Any]) -> QuerySet:
    """The rows strictly after `values` in `order`: (a > x) or (a = x and b > y) or …"""
    beyond = Q()
    same = Q()
    for key, value in zip(order, values, strict=True):
        name = field_name(key)
        value = typed(queryset, name, value)
        step = Q(**{f"{name}__lt" if key.startswith("-") else f"{name}__gt": value})
        beyond |= same & step
        same &= Q(**{name: value})
    return queryset.filter(beyond)


def value_of(row: Any, name: str) -> Any:
    if isinstance(row, dict):
        return row["pk" if name == "pk" and "pk" in row else "id" if name == "pk" else name]
    return getattr(row, name)


def ordering(order: Sequence[str]) -> list[str]:
    """The sort keys with the primary key last (in the first key's direction), so no two rows
    tie."""
    keys = list(order)
    if not keys or field_name(keys[-1]) not in ("pk", "id"):
        keys.append("-pk" if keys and keys[0].startswith("-") else "pk")
    return keys


def page(
    rows: QuerySet | list,
    *,
    order: Sequence[str],
    cursor: str | None,
    limit: int,
    response=None,
) -> list:
    """One page of `rows` (a queryset, or a list already in memory) in `order`, the next
    page's cursor set on `response` (`X-Next-Cursor`, absent on the last page)."""
    found = read_page(rows, order=order, cursor=cursor, limit=limit)
    if response is not None and found.next_cursor:
        response[HEADER] = found.next_cursor
    return found.rows


def read_page(rows: QuerySet | list, *, order: Sequence[str], cursor: str | None, limit: int):
    keys = ordering(order)
    limit = max(1, min(limit, MAX_LIMIT))
    if isinstance(rows, QuerySet):
        queryset = rows.order_by(*keys)
        if cursor:
            queryset = after(queryset, keys, decode(cursor, keys))
        found = list(queryset[: limit + 1])
    else:
        found = in_memory(rows, keys, cursor)[: limit + 1]
    shown = found[:limit]
    next_cursor = None
    if len(found) > limit:
        last = shown[-1]
        next_cursor = encode(keys, [value_of(last, field_name(k)) for k in keys])
    return Page(shown, next_cursor)


def in_memory(rows: list, keys: list[str], cursor: str | None) -> list:
    """The same ordering and cursor for a list computed in Python (a handful of rows)."""

    def sort_key(row):
        return tuple(Reverse(v) if k.startswith("-") else Forward(v) for k, v in pairs(row))

    def pairs(row):
        return [(k, value_of(row, field_name(k))) for k in keys]

    ordered = sorted(rows, key=sort_key)
    if not cursor:
        return ordered
    values = decode(cursor, keys)
    position = tuple(
        Reverse(comparable(v)) if k.startswith("-") else Forward(comparable(v))
        for k, v in zip(keys, values, strict=True)
    )
    return [row for row in ordered if sort_key(row) > position]


def comparable(value: Any) -> Any:
    moment = parse_datetime(value) if isinstance(value, str) else None
    return moment or value


class Forward:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __lt__(self, other):
        return self.value < other.value

    def __gt__(self, other):
        return self.value > other.value

    def __eq__(self, other):
        return self.value == other.value


class Reverse(Forward):
    __slots__ = ()

    def __lt__(self, other):
        return self.value > other.value

    def __gt__(self, other):
        return self.value < other.value
