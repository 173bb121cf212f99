"""`kontaktcenter directory load FILE.toml`: a city's directory from a file, updated by code,
and a file with any problem refused whole with FILE:LINE messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from kontaktcenter.config import PROJECT_ROOT
from kontaktcenter.defaults import defaults
from kontaktcenter.directory.catalogue import MALMO_FILE, malmo
from kontaktcenter.directory.load import LineIndex, read_directory
from kontaktcenter.directory.models import Department, Location, OpeningHours, Queue, Service, ServiceGroup
from kontaktcenter.worktime.calendar import calendar_from_config, current_calendar, forget_calendar

MALMO = PROJECT_ROOT / "config" / "directory.malmo.toml"
MODELS = (Department, ServiceGroup, Queue, Service, Location, OpeningHours)

# A small valid file: one entry of each kind, and a renamed Malmö department (asf), so a
# refused file shows that not even its good parts were loaded.
BASE = """\
[departments.asf]
name_sv = "Nytt namn på socialförvaltningen"
name_en = "Social Services"

[departments.vatten]
name_sv = "VA-förvaltningen"
name_en = "Water Administration"

[service_groups.vatten]
name_sv = "Vatten och avlopp"
name_en = "Water and sewage"

[queues.vatten-kundtjanst]
name_sv = "VA – kundtjänst"
name_en = "Water – customer service"
department = "vatten"
kind = "department"

[services.vattenlackage]
name_sv = "Vattenläcka"
name_en = "Water leak"
department = "vatten"
group = "vatten"
open311 = true
retention_period = "P6M"
retention_action = "delete"

[locations.vattentornet]
name = "Vattentornet"
kind = "service_point"

[opening_hours.vatten-kundtjanst]
open = "07:00"
close = "16:00"
"""


def counts(session) -> dict[str, int]:
    return {m.__tablename__: session.scalar(select(func.count()).select_from(m)) for m in MODELS}


def write(tmp_path: Path, text: str, name: str = "directory.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """The number of the line holding `fragment` (its `occurrence`-th such line)."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    return found[occurrence - 1]


def load(runner, path: Path):
    return runner.invoke(args=["directory", "load", str(path)])


# -- the Malmö file ---------------------------------------------------------------------


def test_the_packaged_malmo_file_is_the_config_file():
    assert MALMO_FILE.resolve() == MALMO.resolve()
    assert MALMO_FILE.read_text(encoding="utf-8") == MALMO.read_text(encoding="utf-8")


def test_malmo_file_gives_the_directory_the_demo_had(session):
    """The app fixture loaded config/directory.malmo.toml: the Malmö directory, no users."""
    assert counts(session) == {
        "departments": 12,
        "service_groups": 10,
        "queues": 17,
        "services": 31,
        "locations": 10,
        "opening_hours": 1,
    }
    by = {s.code: s for s in session.scalars(select(Service))}
    fs = by["forsorjningsstod"]
    assert (fs.department.code, fs.confidential, fs.requires_personnummer) == ("asf", True, True)
    assert (fs.retention_period, fs.retention_action) == ("P2Y", "anonymise")
    assert (fs.sla_first_response_days, fs.sla_accept_days, fs.sla_resolve_days, fs.answer_target_seconds) == (
        1,
        1,
        10,
        60,
    )
    assert (by["felanmalan-gata"].open311, by["felanmalan-gata"].public_requests) == (True, True)
    assert (by["buller-klagomal"].open311, by["buller-klagomal"].public_requests) == (True, False)
    assert by["utskrift-hjalp"].walk_in_topic
    assert by["utskrift-hjalp"].retention_action == "delete"
    assert by["skolval"].group_heading.name_sv == "Förskola och skola"
    assert by["allmant"].description_sv == "Frågor om allmän fråga."
    queue = session.scalar(select(Queue).where(Queue.code == "asf-forsorjningsstod"))
    assert (queue.kind, queue.confidential, queue.department.code) == ("department", True, "asf")
    rosengard = session.scalar(select(Location).where(Location.code == "filial-rosengard"))
    assert (rosengard.kind, rosengard.district, rosengard.queue_numbers) == ("branch", "Rosengård", True)
    assert (
        session.scalar(select(Department.code).where(Department.is_contact_center.is_(True))) == "serviceforvaltningen"
    )
    assert session.get(OpeningHours, "default").as_config() == {"open": "08:00", "close": "17:00", "eve_close": "13:00"}


def test_loading_the_malmo_file_again_duplicates_nothing(runner, session):
    before = counts(session)
    for _ in range(2):
        result = load(runner, MALMO)
        assert result.exit_code == 0, result.output
        assert "services: 0 created, 0 updated, 31 unchanged" in result.output
        assert counts(session) == before


# -- updating -----------------------------------------------------------------------------


def test_a_changed_name_is_updated_and_nothing_else_changes(runner, session, tmp_path):
    text = MALMO.read_text(encoding="utf-8").replace('name_sv = "Skolval"', 'name_sv = "Skolval och skolbyte"')
    before = counts(session)
    result = load(runner, write(tmp_path, text))
    assert result.exit_code == 0, result.output
    assert "services: 0 created, 1 updated, 30 unchanged" in result.output
    session.expire_all()
    assert session.scalar(select(Service.name_sv).where(Service.code == "skolval")) == "Skolval och skolbyte"
    assert counts(session) == before


def test_new_entries_are_created_and_may_name_departments_already_in_the_database(runner, session, tmp_path):
    before = counts(session)
    result = load(runner, write(tmp_path, BASE))
    assert result.exit_code == 0, result.output
    assert "departments: 1 created, 1 updated, 0 unchanged" in result.output
    # One more of each (the opening hours: one added, and "default", not in this file, removed).
    assert counts(session) == {**{k: v + 1 for k, v in before.items()}, "opening_hours": 1}
    leak = session.scalar(select(Service).where(Service.code == "vattenlackage"))
    assert (leak.department.code, leak.group_heading.name_en, leak.open311) == ("vatten", "Water and sewage", True)
    assert (leak.retention_period, leak.retention_action, leak.sla_resolve_days) == ("P6M", "delete", 10)
    # A service of a department that only the database knows.
    extra = '[services.snoskottning]\nname_sv = "Snöskottning"\nname_en = "Snow clearing"\ndepartment = "fgk"\ngroup = "gata"\n'
    result = load(runner, write(tmp_path, extra, "extra.toml"))
    assert result.exit_code == 0, result.output
    assert session.scalar(select(Service).where(Service.code == "snoskottning")).department.code == "fgk"


def test_an_entry_removed_from_the_file_is_kept_and_named(runner, session, tmp_path):
    """Tickets and history refer to directory entries: a load never deletes one, it says so."""
    result = load(runner, write(tmp_path, BASE))
    assert result.exit_code == 0, result.output
    assert "locations in the database but not in the file, kept (not deleted" in result.output
    assert "sp-hyllie" in result.output
    assert session.scalar(select(Location).where(Location.code == "sp-hyllie")) is not None
    # Opening hours are settings, not records: the file is their whole truth.
    assert "opening hours no longer in the file, removed: default" in result.output
    assert session.get(OpeningHours, "default") is None


def test_a_key_left_out_goes_back_to_its_default(runner, session, tmp_path):
    text = MALMO.read_text(encoding="utf-8")
    assert (
        load(
            runner, write(tmp_path, text.replace("[services.skolval]\n", "[services.skolval]\nsla_resolve_days = 20\n"))
        ).exit_code
        == 0
    )
    session.expire_all()
    assert session.scalar(select(Service.sla_resolve_days).where(Service.code == "skolval")) == 20
    assert load(runner, write(tmp_path, text)).exit_code == 0
    session.expire_all()
    assert session.scalar(select(Service.sla_resolve_days).where(Service.code == "skolval")) == 10


def test_loaded_opening_hours_are_the_calendars_and_configuration_overrides_them(app, runner, session, tmp_path):
    from datetime import date, time

    result = load(runner, write(tmp_path, BASE))
    assert result.exit_code == 0, result.output
    forget_calendar(app)
    try:
        with app.app_context():
            calendar = current_calendar()
            assert calendar.opening_hours("vatten-kundtjanst", date(2026, 3, 2)) == (time(7), time(16))
            # No "default" in this file: other queues keep the built-in hours.
            assert calendar.opening_hours("kc-forsta-linjen", date(2026, 3, 2)) == (time(8), time(17))
    finally:
        forget_calendar(app)
    configured = calendar_from_config(
        {**defaults(), "opening_hours": {"vatten-kundtjanst": {"closed": True}}},
        {"vatten-kundtjanst": {"open": "07:00", "close": "16:00"}},
    )
    assert configured.opening_hours("vatten-kundtjanst", date(2026, 3, 2)) is None


# -- bad input: every problem with FILE:LINE, and nothing changed ------------------------

BAD = {
    "unknown department": (
        BASE.replace('department = "vatten"\ngroup', 'department = "vattn"\ngroup'),
        'department = "vattn"',
        "services.vattenlackage.department: unknown department 'vattn'",
    ),
    "bad ISO duration": (
        BASE.replace('"P6M"', '"6 months"'),
        'retention_period = "6 months"',
        "services.vattenlackage.retention_period not an ISO 8601 duration",
    ),
    "unknown key": (
        BASE.replace('kind = "service_point"', 'kind = "service_point"\ncolour = "blue"'),
        'colour = "blue"',
        "unknown key 'colour' in [locations.vattentornet]",
    ),
    "duplicate code": (
        BASE
        + '\n[queues.vatten-kundtjanst]\nname_sv = "x"\nname_en = "x"\ndepartment = "vatten"\nkind = "department"\n',
        ("[queues.vatten-kundtjanst]", 2),
        "not valid TOML: Cannot declare ('queues', 'vatten-kundtjanst') twice",
    ),
    "duplicate code in another case": (
        BASE + '\n[locations.Vattentornet]\nname = "Vattentornet igen"\nkind = "library"\n',
        "[locations.Vattentornet]",
        "duplicate code 'Vattentornet' in [locations]",
    ),
    "unknown section": (
        BASE + '\n[avdelningar.x]\nname = "x"\n',
        "[avdelningar.x]",
        "unknown section [avdelningar]",
    ),
    "wrong type": (
        BASE.replace("open311 = true", 'open311 = "ja"'),
        'open311 = "ja"',
        "services.vattenlackage.open311 must be true or false",
    ),
    "a number for a department": (
        BASE.replace('department = "vatten"\nkind', "department = 7\nkind"),
        "department = 7",
        "queues.vatten-kundtjanst.department must be a string in quotes (got 7)",
    ),
    "unknown queue kind": (
        BASE.replace('kind = "department"', 'kind = "specialist"'),
        'kind = "specialist"',
        "queues.vatten-kundtjanst.kind must be one of first_line, department",
    ),
    "missing name": (
        BASE.replace('name = "Vattentornet"\n', ""),
        "[locations.vattentornet]",
        "[locations.vattentornet] lacks name",
    ),
    "closing before opening": (
        BASE.replace('close = "16:00"', 'close = "06:00"'),
        "[opening_hours.vatten-kundtjanst]",
        "opening_hours.vatten-kundtjanst: close must be later than open",
    ),
    "hours of an unknown queue": (
        BASE + "\n[opening_hours.vatten-jour]\nclosed = true\n",
        "[opening_hours.vatten-jour]",
        "opening_hours.vatten-jour: no queue or service has the code 'vatten-jour'",
    ),
    "a code with a space": (
        BASE + '\n[locations."vatten tornet"]\nname = "x"\nkind = "library"\n',
        '[locations."vatten tornet"]',
        "code 'vatten tornet' may hold only letters",
    ),
    "not TOML": (
        BASE.replace('name_en = "Water leak"', "name_en = Water leak"),
        "name_en = Water leak",
        "not valid TOML",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_reported_with_file_and_line_and_changes_nothing(runner, session, tmp_path, case):
    text, where, message = BAD[case]
    fragment, occurrence = where if isinstance(where, tuple) else (where, 1)
    path = write(tmp_path, text)
    before = counts(session)
    result = load(runner, path)
    assert result.exit_code == 1, result.output
    assert f"{path}:{line_of(text, fragment, occurrence)}: {message}" in result.output
    assert "nothing was changed" in result.output
    session.expire_all()
    assert counts(session) == before
    assert (
        session.scalar(select(Department.name_sv).where(Department.code == "asf"))
        == "Arbetsmarknads- och socialförvaltningen"
    )


def test_every_problem_is_reported_at_once(runner, tmp_path):
    text = (
        BASE.replace('"P6M"', '"P6X"')
        .replace('kind = "service_point"', 'kind = "kiosk"')
        .replace('department = "vatten"\nkind', 'department = "okand"\nkind')
    )
    path = write(tmp_path, text)
    result = load(runner, path)
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith(f"{path}:")]
    # The file's own problems are found first; references to the database only when they pass.
    assert [p.split(":")[1] for p in problems] == [str(line_of(text, '"P6X"')), str(line_of(text, '"kiosk"'))]
    text = BASE.replace('department = "vatten"\nkind', 'department = "okand"\nkind').replace(
        'department = "vatten"\ngroup = "vatten"', 'department = "okand2"\ngroup = "okand3"'
    )
    result = load(runner, write(tmp_path, text))
    assert result.exit_code == 1
    assert result.output.count("unknown ") == 3, result.output


def test_a_missing_file_is_one_clear_problem(runner, tmp_path):
    result = load(runner, tmp_path / "nowhere.toml")
    assert result.exit_code == 1
    assert "nowhere.toml:0: cannot read the file" in result.output


# -- finding lines -----------------------------------------------------------------------


def test_line_index_finds_tables_and_keys_bare_quoted_and_dotted():
    text = '# a comment\n[services.skolval]  # a note\nname_sv = "Skolval"\n\n[ services . "bygg lov" ]\n"name_sv" = "x"\nsla.days = 3\n'
    index = LineIndex(text)
    assert index.line("services", "skolval") == 2
    assert index.line("services", "skolval", "name_sv") == 3
    assert index.line("services", "bygg lov") == 5
    assert index.line("services", "bygg lov", "name_sv") == 6
    assert index.line("services", "bygg lov", "sla", "days") == 7
    # Unknown keys fall back to their table, then to line 1.
    assert index.line("services", "skolval", "nothing") == 2
    assert index.line("nothing") == 1


def test_the_malmo_entries_know_their_lines():
    text = MALMO.read_text(encoding="utf-8")
    directory = malmo()
    assert directory["services"]["skolval"].line == line_of(text, "[services.skolval]")
    assert read_directory(MALMO).codes("queues")[0] == "kc-forsta-linjen"


# -- contact reasons ---------------------------------------------------------------------


def reasons_of(session, service_code: str) -> dict[str, tuple[str, str, bool]]:
    from kontaktcenter.directory.models import ContactReason

    rows = session.scalars(
        select(ContactReason).join(Service).where(Service.code == service_code).order_by(ContactReason.id)
    )
    return {r.code: (r.name_sv, r.category, r.active) for r in rows}


def test_malmo_services_have_their_reasons_and_every_service_an_other_of_each_category(session):
    bygglov = reasons_of(session, "bygglov")
    assert bygglov["status-arende"] == ("Frågar hur det går med sitt ärende", "failure", True)
    assert bygglov["fragor-om-beslut"][1] == "failure"
    assert bygglov["ny-ansokan"][1] == "value"
    for service in session.scalars(select(Service.code)):
        reasons = reasons_of(session, service)
        assert reasons["annat-varde"][1:] == ("value", True)
        assert reasons["annat-fel"][1:] == ("failure", True)
    assert set(reasons_of(session, "skolval")) == {"annat-varde", "annat-fel"}


def test_a_new_service_gets_its_reasons_and_a_reload_keeps_them(runner, session, tmp_path):
    text = BASE.replace(
        'retention_action = "delete"\n',
        'retention_action = "delete"\n\n[services.vattenlackage.reasons]\n'
        'lacka = { name_sv = "Vill anmäla en läcka", category = "value" }\n'
        'annat-fel = { name_sv = "Annat fel i VA-tjänsten", category = "failure" }\n',
        1,
    )
    result = load(runner, write(tmp_path, text))
    assert result.exit_code == 0, result.output
    assert reasons_of(session, "vattenlackage") == {
        "lacka": ("Vill anmäla en läcka", "value", True),
        "annat-fel": ("Annat fel i VA-tjänsten", "failure", True),
        "annat-varde": ("Annat ärende", "value", True),
    }
    # Services not in this file keep their reasons; none is made twice.
    assert set(reasons_of(session, "bygglov")) >= {"status-arende", "annat-varde", "annat-fel"}
    result = load(
        runner, write(tmp_path, text.replace('category = "value" }', 'category = "value", active = false }', 1))
    )
    assert result.exit_code == 0, result.output
    assert "contact reasons: 0 created, 1 updated," in result.output
    session.expire_all()
    assert reasons_of(session, "vattenlackage")["lacka"][2] is False


REASON_BAD = {
    "unknown category": (
        'snabbt = { name_sv = "x", category = "waste" }',
        "services.vattenlackage.reasons.snabbt.category must be one of value, failure (got 'waste')",
    ),
    "no name": ('snabbt = { category = "value" }', "[services.vattenlackage.reasons.snabbt] lacks name_sv"),
    "a code with a space": ('"snabb fraga" = { name_sv = "x", category = "value" }', "reason code 'snabb fraga' may"),
    "an other of the wrong category": (
        'annat-fel = { name_sv = "x", category = "value" }',
        "services.vattenlackage.reasons.annat-fel: 'annat-fel' is the list's other 'failure' reason",
    ),
    "an other retired": (
        'annat-varde = { name_sv = "x", category = "value", active = false }',
        "services.vattenlackage.reasons.annat-varde: 'annat-varde' is the list's other 'value' reason "
        '(category = "value", always active)',
    ),
}


@pytest.mark.parametrize("case", list(REASON_BAD))
def test_bad_reasons_are_reported_with_their_line_and_change_nothing(runner, session, tmp_path, case):
    line, message = REASON_BAD[case]
    text = BASE + '\n[services.vattenlackage.reasons]\nbra = { name_sv = "Bra", category = "value" }\n' + line + "\n"
    path = write(tmp_path, text)
    result = load(runner, path)
    assert result.exit_code == 1, result.output
    assert f"{path}:{len(text.splitlines())}: {message}" in result.output
    assert session.scalar(select(Service).where(Service.code == "vattenlackage")) is None
