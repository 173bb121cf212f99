"""The compiled catalogues (messages.mo) are current: each holds what `pybabel compile` makes of its .po.

Flask-Babel reads only the .mo files, so a translation added to a .po but not compiled is
never shown; this test names it instead.
"""

from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

import kontaktcenter

TRANSLATIONS = Path(kontaktcenter.__file__).parent / "translations"
CATALOGUES = sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))
COMPILE = "pybabel compile -d kontaktcenter/translations"


def _messages(catalog: Catalog) -> dict[tuple[str | None, str | tuple[str, ...]], str | tuple[str, ...]]:
    """(context, msgid) → translation, without the header entry."""
    return {(m.context, _plain(m.id)): _plain(m.string) for m in catalog if m.id}


def _plain(value):
    # A plural entry's forms come back from a .mo as a list: a tuple can be a key and compares alike.
    return tuple(value) if isinstance(value, list | tuple) else value


def compiled(po_path: Path) -> dict:
    """The messages `pybabel compile` would write for this .po (fuzzy and untranslated entries left out)."""
    with po_path.open("rb") as po:
        catalog = read_po(po)
    mo = BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    return _messages(read_mo(mo))


def stale_entries(expected: dict, actual: dict) -> list[str]:
    """What differs between the messages a .po compiles to and those its .mo holds, one line each."""
    lines = []
    for key, string in expected.items():
        if key not in actual:
            lines.append(f"not compiled: {key[1]!r}")
        elif actual[key] != string:
            lines.append(f"compiled from an older translation: {key[1]!r}")
    lines += [f"no longer in the .po: {key[1]!r}" for key in actual.keys() - expected.keys()]
    return lines


def test_the_en_and_ar_catalogues_exist():
    assert {path.parts[-3] for path in CATALOGUES} >= {"en", "ar"}


@pytest.mark.parametrize("po_path", CATALOGUES, ids=lambda path: path.parts[-3])
def test_each_compiled_catalogue_is_current(po_path):
    mo_path = po_path.with_suffix(".mo")
    assert mo_path.exists(), f"{mo_path.name} missing beside {po_path}: run {COMPILE}"
    with mo_path.open("rb") as mo:
        actual = _messages(read_mo(mo))
    problems = stale_entries(compiled(po_path), actual)
    assert not problems, f"{mo_path} is not current (run {COMPILE}):\n" + "\n".join(problems)


def test_a_translation_added_to_the_po_but_not_compiled_is_named(tmp_path):
    po_path = tmp_path / "messages.po"
    shipped = TRANSLATIONS / "en" / "LC_MESSAGES"
    po_path.write_text(
        (shipped / "messages.po").read_text(encoding="utf-8")
        + '\nmsgid "Ärendet är arkiverat."\nmsgstr "The ticket is archived."\n',
        encoding="utf-8",
    )
    with (shipped / "messages.mo").open("rb") as mo:
        actual = _messages(read_mo(mo))
    assert stale_entries(compiled(po_path), actual) == ["not compiled: 'Ärendet är arkiverat.'"]


def test_a_changed_or_removed_translation_is_named():
    expected = {(None, "Tack!"): "Thank you!"}
    actual = {(None, "Tack!"): "Thanks!", (None, "Borttagen"): "Removed"}
    assert stale_entries(expected, actual) == [
        "compiled from an older translation: 'Tack!'",
        "no longer in the .po: 'Borttagen'",
    ]
