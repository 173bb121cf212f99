"""Form pieces the channels' forms share (and the staff account form): language choices and checkbox lists."""

from __future__ import annotations

from babel import Locale
from flask_babel import lazy_gettext as _l
from wtforms import SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, ListWidget


def language_choices(codes: tuple[str, ...], locale: str) -> list[SelectChoice]:
    """Language names in the reader's own language, from CLDR (Babel)."""
    names = Locale.parse(locale).languages
    return [SelectChoice(code, names.get(code, code)) for code in codes]


def language_name(code: str, locale: str) -> str:
    """One language's name in the reader's language (CLDR), the code if CLDR has none."""
    return Locale.parse(locale).languages.get(code, code)


class MultiCheckboxField(SelectMultipleField):
    """Checkboxes; an unknown value gets our own message in the reader's language."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        allowed = {c.value for c in self._choices_from_input(self.choices)}
        if any(value not in allowed for value in self.data or []):
            raise ValidationError(_l("Välj bland alternativen i listan."))
