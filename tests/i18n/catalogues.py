"""The Korean catalogues of the project (locale/) and of its apps (<app>/locale/), and how to find English that
should have been Korean in a rendered page."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import polib
from django.conf import settings

BASE = Path(settings.BASE_DIR)
# The project's catalogue and every app's; an app's catalogue counts from the day it exists.
CATALOGUES = sorted([BASE / "locale/ko/LC_MESSAGES/django.po", *BASE.glob("*/locale/ko/LC_MESSAGES/django.po"),
                     *BASE.glob("*/locale/ko/LC_MESSAGES/djangojs.po"), *BASE.glob("locale/ko/LC_MESSAGES/djangojs.po")])
# Read as the user reads them, in attributes as much as in text.
READ_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt", "data-confirm-template", "hx-confirm", "label"}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]|\{\w*\}|<[^>]+>")
# A msgid whose literal text is shorter than this is compared with whole text nodes only; longer ones are also looked
# for inside text, where a short word ("On", "In") would match the names of machines and regions.
FRAGMENT_MIN = 25


def entries() -> list[tuple[Path, polib.POEntry]]:
    return [(path, entry) for path in CATALOGUES for entry in polib.pofile(str(path)) if not entry.obsolete]


def translated_away() -> set[str]:
    """The English texts that Korean replaces: every msgid (and plural) whose Korean differs from it."""
    found = set()
    for _path, entry in entries():
        korean = entry.msgstr or entry.msgstr_plural.get(0, "")
        for english in filter(None, (entry.msgid, entry.msgid_plural)):
            if korean and korean != english:
                found.add(english)
    return found


class _Reader(HTMLParser):
    """The text nodes and read attributes of a page, whitespace collapsed; scripts and styles are no text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        self.texts += [" ".join(value.split()) for name, value in attrs if name in READ_ATTRIBUTES and value]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.texts.append(" ".join(data.split()))


def visible_texts(html: str) -> list[str]:
    reader = _Reader()
    reader.feed(html)
    return reader.texts


def untranslated(html: str, english: set[str], allowed: frozenset[str] = frozenset()) -> set[str]:
    """The msgids of ``english`` that a page shows as they are: as a whole text node or attribute, or (a long enough
    literal stretch of one: the text between its placeholders and tags) inside the page's text."""
    texts = visible_texts(html)
    whole = set(texts)
    joined = "\n".join(texts)
    found = set()
    for msgid in english - allowed:
        flat = " ".join(msgid.split())
        if flat in whole:
            found.add(msgid)
            continue
        pieces = [p.strip(" .,:;·—") for p in PLACEHOLDER.split(flat) if p]
        if any(len(p) >= FRAGMENT_MIN and p in joined for p in pieces if p and not p.isidentifier()):
            found.add(msgid)
    return found
