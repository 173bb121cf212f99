"""Form pieces the channels' forms share (and the staff account form): languages and checkbox lists."""

from __future__ import annotations

from babel import Locale
from flask_babel import lazy_gettext as _l
from wtforms import SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

# Languages Malmö's interpreter service is asked for most, plus the UI languages.
INTERPRETER_LANGUAGES = (
    "ar",
    "so",
    "ti",
    "fa",
    "ku",
    "bs",
    "pl",
    "uk",
    "ru",
    "tr",
    "sq",
    "am",
    "fi",
    "es",
    "fr",
    "de",
    "en",
)
# Languages a walk-in visit may be held in (ISO 639-1).
VISIT_LANGUAGES = ("sv", "en", *[code for code in INTERPRETER_LANGUAGES if code != "en"])


def language_choices(codes: tuple[str, ...], locale: str) -> list[SelectChoice]:
    """Language names in the reader's own language, from CLDR (Babel)."""
    names = Locale.parse(locale).languages
    return [SelectChoice(code, names.get(code, code)) for code in codes]


class MultiCheckboxField(SelectMultipleField):
    """Checkboxes; an unknown value gets our own message in the reader's language."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        allowed = {c.value for c in self._choices_from_input(self.choices)}
        if any(value not in allowed for value in self.data or []):
            raise ValidationError(_l("Välj bland alternativen i listan."))
