"""Keyset paging for every list: ``?limit=50&cursor=<opaque>``, newest first by id, and a ``next`` link.

A page is ``WHERE id < <last id seen> ORDER BY id DESC LIMIT n+1``: no OFFSET, so a deep page costs what the
first one does, and rows inserted meanwhile never shift a page (they are newer than every cursor). The cursor is
the last id, encoded so clients treat it as opaque and we may change what it holds.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from django.db.models import Model, QuerySet
from django.http import HttpRequest
from ninja import Field, Schema

from vaults.services.refusals import InvalidRequest

DEFAULT_LIMIT, MAX_LIMIT = 50, 200


class PageQuery(Schema):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"rows per page, 1 to {MAX_LIMIT}")
    cursor: str | None = Field(None, max_length=100, description="the `next` link's cursor; leave out for page one")


def encode(pk: int) -> str:
    return base64.urlsafe_b64encode(f"id:{pk}".encode()).decode().rstrip("=")


def decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        pk = int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pk, kind = 0, ""
    if kind != "id" or not 0 < pk < 2**63:
        raise InvalidRequest("The cursor is not one this API gave: follow the `next` link as it is.", field="cursor",
                             code="InvalidCursor")
    return pk


def keyset(request: HttpRequest, rows: QuerySet | list[QuerySet], page: PageQuery,
           present: Callable[[Any], dict]) -> dict:
    """One page of ``rows`` (already filtered to what the user may see), newest first.

    ``rows`` may be several querysets whose union is the list (one per subscription, per status of a status group):
    each is read in id order along its own index and the pages are merged, where one ``IN (...)`` query would sort
    every row of the user's subscriptions, or walk them all to find a few rare ones, for each page.
    """
    parts = rows if isinstance(rows, list) else [rows]
    if page.cursor:
        after = decode(page.cursor)
        parts = [part.filter(pk__lt=after) for part in parts]
    found: list[Model] = [row for part in parts for row in part.order_by("-pk")[:page.limit + 1]]
    if len(parts) > 1:
        found = sorted(found, key=lambda row: row.pk, reverse=True)[:page.limit + 1]
    shown = found[:page.limit]
    next_url = None
    if len(found) > page.limit:
        query = request.GET.copy()
        query["cursor"] = encode(shown[-1].pk)
        query["limit"] = str(page.limit)
        next_url = f"{request.path}?{query.urlencode()}"
    return {"items": [present(row) for row in shown], "next": next_url}
