"""The Korean catalogues are whole: no fuzzy entry, no empty translation, placeholders kept, and the committed .mo
files say what the .po files say (a fresh clone needs no msgfmt)."""

from __future__ import annotations

import re

import polib
import pytest

from .catalogues import BASE, CATALOGUES, entries

NAMED = re.compile(r"%\((\w+)\)[sd]")


def test_the_project_catalogue_is_among_them():
    assert BASE / "locale/ko/LC_MESSAGES/django.po" in CATALOGUES


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: str(p.relative_to(BASE)))
def test_no_fuzzy_and_no_missing_entries(path):
    catalogue = polib.pofile(str(path))
    assert catalogue.metadata.get("Language") == "ko"
    assert not catalogue.metadata_is_fuzzy, "the header is fuzzy: msgfmt would leave it out of the .mo"
    fuzzy = [e.msgid for e in catalogue if "fuzzy" in e.flags and not e.obsolete]
    empty = [e.msgid for e in catalogue
             if not e.obsolete and not e.msgstr and not (e.msgstr_plural and all(e.msgstr_plural.values()))]
    assert not fuzzy, f"{path}: fuzzy entries {fuzzy[:10]}"
    assert not empty, f"{path}: untranslated entries {empty[:10]}"


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: str(p.relative_to(BASE)))
def test_every_placeholder_is_kept(path):
    problems = []
    for entry in polib.pofile(str(path)):
        korean = entry.msgstr or entry.msgstr_plural.get(0, "")
        english = set(NAMED.findall(entry.msgid))
        if entry.msgid_plural:
            # Korean has one form; it may leave out the count the English plural shows (and the singular).
            english &= set(NAMED.findall(entry.msgid_plural))
        if english != set(NAMED.findall(korean)):
            problems.append(entry.msgid)
    assert not problems, f"{path}: placeholders differ in {problems[:10]}"


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: str(p.relative_to(BASE)))
def test_the_committed_mo_file_matches_its_po_file(path):
    compiled = path.with_suffix(".mo")
    assert compiled.exists(), f"{compiled} is missing: run manage.py compilemessages and commit it"
    mo = {(e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural.get(0, "") for e in polib.mofile(str(compiled))}
    po = {(e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural.get(0, "")
          for _path, e in entries() if _path == path and e.msgid}
    stale = [key[1] for key, korean in po.items() if mo.get(key) != korean]
    assert not stale, f"{compiled} is older than its .po ({len(stale)} entries differ, e.g. {stale[:3]})"
