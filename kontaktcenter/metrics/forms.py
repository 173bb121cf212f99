"""The report filters: a GET form, validated against the directory (Flask-WTF)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import DateField, DecimalField, IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from ..directory.models import Department, Location, Service
from ..templating import CHANNEL_LABELS
from ..vocabulary import CHANNELS, LANGUAGES
from .engine import STOCKHOLM, Filters, ReportQuery

PERIOD_CHOICES = [
    SelectChoice("", _l("Automatiskt")),
    SelectChoice("day", _l("Dag")),
    SelectChoice("week", _l("Vecka")),
    SelectChoice("month", _l("Månad")),
]


def language_name(code: str, locale: str) -> str:
    """A language's name in the reader's language (CLDR via Babel), with its code."""
    from babel import Locale

    return f"{Locale.parse(locale).languages.get(code, code)} ({code})"


class KnownChoice(SelectField):
    """A select whose unknown value gets a clear message instead of WTForms' default."""

    def pre_validate(self, form):
        if self.data and self.data not in {choice.value for choice in self.choices}:
            raise ValidationError(_l("Okänt värde: %(value)s. Välj bland alternativen i listan.", value=self.data))


class FilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    start = DateField(
        _l("Från"), validators=[InputRequired(_l("Ange ett från-datum (ÅÅÅÅ-MM-DD)."))], format="%Y-%m-%d"
    )
    end = DateField(_l("Till"), validators=[InputRequired(_l("Ange ett till-datum (ÅÅÅÅ-MM-DD)."))], format="%Y-%m-%d")
    department = KnownChoice(_l("Förvaltning"), validators=[Optional()])
    service = KnownChoice(_l("Tjänst"), validators=[Optional()])
    channel = KnownChoice(_l("Kanal"), validators=[Optional()])
    location = KnownChoice(_l("Plats"), validators=[Optional()])
    language = KnownChoice(_l("Språk"), validators=[Optional()])
    period = KnownChoice(_l("Tidsindelning"), validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # One as-of time per report page or export: every query of it counts deadlines
        # against the same moment (METRICS.md), in whole seconds so it can be reproduced.
        self.as_of = datetime.now(UTC).replace(microsecond=0)

    def validate_end(self, field):
        if self.start.data and field.data and self.start.data > field.data:
            raise ValidationError(_l("Till-datumet ligger före från-datumet."))
        if self.start.data and field.data and (field.data - self.start.data).days > 3 * 366:
            raise ValidationError(_l("Perioden får vara högst tre år."))

    def fill_choices(self, session: Session, locale: str) -> None:
        everything = [SelectChoice("", _l("Alla"))]
        self.department.choices = everything + [
            SelectChoice(d.code, d.name(locale))
            for d in session.scalars(select(Department).order_by(Department.name_sv))
        ]
        self.service.choices = everything + [
            SelectChoice(s.code, s.name(locale)) for s in session.scalars(select(Service).order_by(Service.name_sv))
        ]
        self.channel.choices = everything + [SelectChoice(c, CHANNEL_LABELS[c]) for c in CHANNELS]
        self.location.choices = everything + [
            SelectChoice(loc.code, loc.name) for loc in session.scalars(select(Location).order_by(Location.name))
        ]
        self.language.choices = everything + [SelectChoice(code, language_name(code, locale)) for code in LANGUAGES]
        self.period.choices = PERIOD_CHOICES

    def names(self, locale: str) -> dict[str, dict[str, str]]:
        """Code → name per group column, for report tables: the directory's names, never codes.

        Taken from the filters' choices (filled once per page); a language by its name alone.
        """
        from babel import Locale

        names = {
            dim: {str(c.value): str(c.label) for c in self[dim].choices if c.value}
            for dim in ("department", "service", "channel", "location")
        }
        names["language"] = {code: str(name) for code, name in Locale.parse(locale).languages.items()}
        return names

    def filters(self) -> Filters:
        return Filters(
            service=self.service.data or None,
            department=self.department.data or None,
            channel=self.channel.data or None,
            location=self.location.data or None,
            language=self.language.data or None,
        )

    def query(self, by: tuple[str, ...] = (), period: str | None = None) -> ReportQuery:
        return ReportQuery(
            self.start.data, self.end.data, by=by, period=period, filters=self.filters(), as_of=self.as_of
        )

    def trend_period(self) -> str:
        if self.period.data:
            return self.period.data
        days = (self.end.data - self.start.data).days
        return "day" if days <= 31 else ("week" if days <= 190 else "month")


def default_dates() -> dict[str, str]:
    today = datetime.now(STOCKHOLM).date()
    return {"start": (today - timedelta(days=29)).isoformat(), "end": today.isoformat()}


class StaffingForm(FlaskForm):
    class Meta:
        csrf = False

    interval = SelectField(
        _l("Intervall (minuter)"), choices=[SelectChoice(m, m) for m in ("15", "30", "60")], default="30"
    )
    target_level = IntegerField(
        _l("Servicenivå (%)"),
        default=80,
        validators=[
            InputRequired(_l("Ange servicenivån i procent.")),
            NumberRange(1, 99, _l("Servicenivån anges i procent, 1–99.")),
        ],
    )
    target_seconds = IntegerField(
        _l("Inom (sekunder)"),
        default=20,
        validators=[
            InputRequired(_l("Ange målet i sekunder.")),
            NumberRange(1, 3600, _l("Målet anges i sekunder, 1–3600.")),
        ],
    )
    shrinkage = IntegerField(
        _l("Frånvaro och annat arbete (%)"),
        default=30,
        validators=[
            InputRequired(_l("Ange frånvaron i procent.")),
            NumberRange(0, 90, _l("Frånvaron anges i procent, 0–90.")),
        ],
    )


class CostForm(FlaskForm):
    class Meta:
        csrf = False

    cost = DecimalField(
        _l("Kontaktcentrets kostnad per period (kr)"),
        default=1000000,
        places=2,
        validators=[
            InputRequired(_l("Ange kostnaden i kronor.")),
            NumberRange(0, 10**11, _l("Kostnaden måste vara 0 kr eller mer.")),
        ],
    )
