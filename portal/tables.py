"""Sortable, searchable tables: the state read from the query string, applied in the database.

A table names its columns once; only columns with a ``field`` sort, so the
query string can never order by anything else. ``?sort=name`` sorts a column
ascending, ``?sort=-name`` descending; an unknown key falls back to the
table's default order. ``?q=`` searches its ``search_field``.

The Jobs page uses the sort parts with its own filters; a vault's tabs use the
whole of it::

    POLICIES = Table((Column("name", "Name", "name"), Column("schedule", "Schedule")), default_sort="name",
                     search_field="name")
    grid = POLICIES.read(request.GET)
    rows = grid.apply(vault.policies.all())
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import Case, CharField, F, OrderBy, QuerySet, Value, When

SEARCH_MAX = 150  # the longest name anything here has


def query_string(params: Mapping[str, object], **changes: object) -> str:
    """``params`` with ``changes`` as a query string; empty values and ``None`` changes are left out."""
    data = {**params, **changes}
    return "?" + urlencode({key: value for key, value in data.items() if value not in ("", None)})


def label_of(field: str, choices: Iterable[tuple[object, str]]) -> Case:
    """A choices field as it reads (its labels), so a column sorts the way the user sees it."""
    return Case(*(When(**{field: value}, then=Value(str(label))) for value, label in choices), default=F(field),
                output_field=CharField())


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    field: str = ""  # the model field or annotation it sorts on; none: the column does not sort


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    default_sort: str
    search_field: str = ""  # what ``?q=`` searches (case-insensitive, anywhere in it)

    def __post_init__(self) -> None:
        if self.default_sort.removeprefix("-") not in self.fields:
            raise ValueError(f"The default sort {self.default_sort!r} is not a sortable column.")

    @property
    def fields(self) -> dict[str, str]:
        return {column.key: column.field for column in self.columns if column.field}

    def clean_sort(self, value: str | None) -> str:
        """``value`` if it names a sortable column (with ``-`` for descending), else the default."""
        value = (value or "").strip()
        return value if value.removeprefix("-") in self.fields else self.default_sort

    def order(self, sort: str) -> OrderBy:
        """The ORDER BY of a clean ``sort``: rows without a value last going up, first going down."""
        field = F(self.field_of(sort))
        return field.desc(nulls_first=True) if sort.startswith("-") else field.asc(nulls_last=True)

    def field_of(self, sort: str) -> str:
        return self.fields[sort.removeprefix("-")]

    @staticmethod
    def toggled(sort: str, key: str) -> str:
        """The sort a click on column ``key`` asks for: ascending, or descending when it is already ascending."""
        return f"-{key}" if sort == key else key

    def headers(self, sort: str, url: Callable[[str], str]) -> list[dict]:
        """The column headers: label, and for sortable ones the link (``url(new_sort)``) and the arrow."""
        return [{"key": column.key, "label": column.label, "sortable": bool(column.field),
                 "url": url(self.toggled(sort, column.key)) if column.field else "",
                 "sorted": sort.removeprefix("-") == column.key, "desc": sort.startswith("-")}
                for column in self.columns]

    def read(self, params: Mapping[str, str]) -> Grid:
        search = " ".join((params.get("q") or "").split())[:SEARCH_MAX]
        return Grid(self, self.clean_sort(params.get("sort")), search)


@dataclass(frozen=True)
class Grid:
    """One request's view of a table: its sort and search text, and the links that change them."""

    table: Table
    sort: str
    search: str

    def apply(self, rows: QuerySet, *then: str) -> QuerySet:
        """``rows`` searched and sorted in the query; ``then`` breaks ties (the primary key last)."""
        if self.search and self.table.search_field:
            rows = rows.filter(**{f"{self.table.search_field}__icontains": self.search})
        return rows.order_by(self.table.order(self.sort), *then, "pk")

    @property
    def sort_param(self) -> str:
        """The sort as the query string carries it: nothing for the default order."""
        return "" if self.sort == self.table.default_sort else self.sort

    def url(self, **changes: object) -> str:
        """The query string of this view with ``changes``; nothing at all for the default view."""
        return query_string({"q": self.search, "sort": self.sort_param}, **changes).removesuffix("?")

    @property
    def headers(self) -> list[dict]:
        default = self.table.default_sort
        return self.table.headers(self.sort, lambda sort: self.url(sort=None if sort == default else sort))
