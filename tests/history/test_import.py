"""`kontaktcenter import contacts FILE.csv`: accepted rows, rejected rows with line and reason, idempotency."""

import pytest
from sqlalchemy import func, select

from kontaktcenter.contacts.models import Contact
from kontaktcenter.tickets.models import Ticket

HEADER = "external_id,channel,service_code,arrived_at,answered_at,ended_at,outcome,callback_completed_at,first_response_at,resolution,resolved_at,escalated_to,language,needs,location_code"
GOOD = [
    "h-1,phone,skolval,2026-03-02T09:00:00+01:00,2026-03-02T09:01:10+01:00,2026-03-02T09:05:00+01:00,answered,,,first_contact,2026-03-02T09:05:00+01:00,,sv,,",
    "h-2,phone,allmant,2026-03-02T09:10:00+01:00,,2026-03-02T09:12:00+01:00,callback_requested,2026-03-02T10:00:00+01:00,,,,,ar,interpreter,",
    "h-3,web,forsorjningsstod,2026-03-02T15:00:00+01:00,,,,,2026-03-03T10:00:00+01:00,department,2026-03-06T10:00:00+01:00,asf,sv,,",
    "h-4,walk_in,utskrift-hjalp,2026-03-02T10:00:00+01:00,2026-03-02T10:07:00+01:00,2026-03-02T10:20:00+01:00,served,,,,,,so,interpreter;easy_read,bibl-rosengard",
    "h-5,walk_in,skolval,2026-03-02T11:00:00+01:00,,2026-03-02T11:30:00+01:00,left,,,,,,sv,,filial-rosengard",
]


def _write(tmp_path, lines, header=HEADER, name="history.csv"):
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def _invoke(runner, path):
    return runner.invoke(args=["import", "contacts", str(path)])


def _imported(session, prefix="h-"):
    return session.scalar(select(func.count(Contact.id)).where(Contact.external_id.like(f"{prefix}%")))


def test_good_rows_become_contacts_and_tickets(runner, session, tmp_path):
    result = _invoke(runner, _write(tmp_path, GOOD))
    assert result.exit_code == 0, result.output
    assert "5 rows: 5 imported, 0 already imported, 0 rejected" in result.output
    phone = session.scalar(select(Contact).where(Contact.external_id == "h-1"))
    assert phone.wait_seconds == 70
    assert phone.outcome == "answered"
    assert phone.ticket.resolution == "first_contact"
    assert phone.ticket.status == "resolved"
    written = session.scalar(select(Contact).where(Contact.external_id == "h-3"))
    assert written.ticket.escalated
    assert written.ticket.queue.code == "asf-forsorjningsstod"
    visit = session.scalar(select(Contact).where(Contact.external_id == "h-4"))
    assert visit.location.code == "bibl-rosengard"
    assert visit.needs == ["interpreter", "easy_read"]
    assert visit.language == "so"


def test_reimport_changes_nothing(runner, session, tmp_path):
    path = _write(tmp_path, GOOD)
    _invoke(runner, path)
    tickets = session.scalar(select(func.count(Ticket.id)))
    result = _invoke(runner, path)
    assert result.exit_code == 0
    assert "5 rows: 0 imported, 5 already imported, 0 rejected" in result.output
    assert session.scalar(select(func.count(Ticket.id))) == tickets
    assert _imported(session) == 5


BAD = [
    ("b-1,fax,skolval,2026-03-02T09:00:00+01:00,,,,,,,,,,,", "unknown channel 'fax'"),
    ("b-2,web,finns-inte,2026-03-02T09:00:00+01:00,,,,,,,,,,,", "unknown service 'finns-inte'"),
    (
        "b-3,phone,skolval,2026-03-02T09:00:00+01:00,2026-03-02T08:59:00+01:00,,answered,,,,,,,,",
        "answered_at lies before arrived_at",
    ),
    (
        "b-4,phone,skolval,2026-03-02T09:00:00+01:00,,2026-03-02T09:02:00+01:00,served,,,,,,,,",
        "outcome 'served' does not fit channel phone",
    ),
    ("b-5,web,skolval,2026-03-02T09:00:00,,,,,,,,,,,", "has no UTC offset"),
    ("b-6,web,skolval,igår,,,,,,,,,,,", "not an ISO 8601 time"),
    ("b-7,walk_in,skolval,2026-03-02T09:00:00+01:00,,2026-03-02T09:30:00+01:00,left,,,,,,,,", "needs location_code"),
    ("b-8,web,skolval,2026-03-02T09:00:00+01:00,,,,,,first_contact,,,,,", "resolved_at and a resolution"),
    ("b-9,web,skolval,2026-03-02T09:00:00+01:00,,,,,,,,,svenska,,", "language 'svenska'"),
    ("b-10,web,skolval,2026-03-02T09:00:00+01:00,,,,,,,,,,telepati,", "unknown need(s) telepati"),
    (",web,skolval,2026-03-02T09:00:00+01:00,,,,,,,,,,,", "external_id is required"),
    ("b-12,web,skolval,2026-03-02T09:00:00+01:00,,,,,,,,nowhere,,,", "unknown department 'nowhere'"),
    ("b-13,phone,skolval,2026-03-02T09:00:00+01:00,,2026-03-02T09:01:00+01:00,,,,,,,,,", "outcome '(empty)'"),
    ("b-14,sms,skolval,2026-03-02T09:00:00+01:00,2026-03-02T09:01:00+01:00,,,,,,,,,,", "not sms"),
    ("h-1,web,skolval,2026-03-02T09:00:00+01:00,,,,,,,,,,,", "external_id repeats line 2"),
]


@pytest.mark.parametrize(("row", "reason"), BAD, ids=[b[0].split(",")[0] or "no-id" for b in BAD])
def test_a_bad_row_is_rejected_with_line_and_reason_and_the_rest_imported(runner, session, tmp_path, row, reason):
    path = _write(tmp_path, [GOOD[0], row, GOOD[1]])
    result = _invoke(runner, path)
    assert result.exit_code == 1
    assert f"{path}:3: " in result.output, result.output
    assert reason in result.output, result.output
    assert "2 imported" in result.output
    assert "1 rejected" in result.output
    assert _imported(session) == 2


def test_unknown_column_rejects_the_file_and_changes_nothing(runner, session, tmp_path):
    result = _invoke(runner, _write(tmp_path, GOOD, header=HEADER + ",favourite_colour"))
    assert result.exit_code == 1
    assert "unknown column(s): favourite_colour" in result.output
    assert _imported(session) == 0


def test_missing_required_column_rejects_the_file(runner, session, tmp_path):
    header = HEADER.replace("service_code,", "")
    lines = [",".join(p for i, p in enumerate(line.split(",")) if i != 2) for line in GOOD]
    result = _invoke(runner, _write(tmp_path, lines, header=header))
    assert result.exit_code == 1
    assert "missing required column(s): service_code" in result.output
    assert _imported(session) == 0


def test_columns_in_any_order(runner, session, tmp_path):
    path = tmp_path / "short.csv"
    path.write_text(
        "service_code,arrived_at,channel,external_id\nskolval,2026-03-02T09:00:00+01:00,email,o-1\n", encoding="utf-8"
    )
    result = _invoke(runner, path)
    assert result.exit_code == 0, result.output
    assert session.scalar(select(Contact).where(Contact.external_id == "o-1")).channel == "email"


def test_not_utf8_is_a_clear_error(runner, session, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        (HEADER + "\n").encode() + "h-9,web,skolval,2026-03-02T09:00:00+01:00,,,,,,,,,,,bibl-malmö\n".encode("latin-1")
    )
    result = _invoke(runner, path)
    assert result.exit_code == 1
    assert "not UTF-8" in result.output


def test_import_in_small_batches_matches_one_batch(runner, session, tmp_path):
    path = _write(tmp_path, GOOD)
    result = runner.invoke(args=["import", "contacts", str(path), "--batch-size", "2"])
    assert result.exit_code == 0
    assert "5 imported" in result.output
    references = session.scalars(
        select(Ticket.reference).join(Contact, Contact.ticket_id == Ticket.id).where(Contact.external_id.like("h-%"))
    ).all()
    assert len(set(references)) == 5


# -- citizen_key, reason_code, escalated_to, abandoned calls (METRICS.md, issue 19) --------

NEW_HEADER = HEADER + ",citizen_key,reason_code"


def test_citizen_key_is_stored_as_given_and_reason_code_names_one_of_the_services_reasons(runner, session, tmp_path):
    from kontaktcenter.directory.models import ContactReason

    lines = [
        "k-1,phone,bygglov,2026-03-02T09:00:00+01:00,2026-03-02T09:00:30+01:00,2026-03-02T09:04:00+01:00,answered,,,,,,,,,Kund/00042-ä,status-arende",
        "k-2,web,bygglov,2026-03-02T10:00:00+01:00,,,,,,,,,,,,,annat-varde",
        "k-3,web,skolval,2026-03-02T10:00:00+01:00,,,,,,,,,,,,,",
    ]
    result = _invoke(runner, _write(tmp_path, lines, header=NEW_HEADER))
    assert result.exit_code == 0, result.output
    contacts = {c.external_id: c for c in session.scalars(select(Contact).where(Contact.external_id.like("k-%")))}
    assert contacts["k-1"].citizen_key == "Kund/00042-ä"
    assert (contacts["k-1"].reason.code, contacts["k-1"].reason.category) == ("status-arende", "failure")
    assert contacts["k-1"].reason.service.code == "bygglov"
    assert contacts["k-2"].reason.code == "annat-varde"
    assert (contacts["k-3"].citizen_key, contacts["k-3"].reason_id) == (None, None)
    assert session.get(ContactReason, contacts["k-2"].reason_id).service_id == contacts["k-2"].service_id


NEW_BAD = [
    (
        "n-1,web,skolval,2026-03-02T09:00:00+01:00,,,,,,,,,,,,,status-arende",
        "reason_code 'status-arende' is not a reason of service 'skolval'; its reasons are annat-varde, annat-fel",
    ),
    (
        f"n-2,web,skolval,2026-03-02T09:00:00+01:00,,,,,,,,,,,,{'k' * 129},",
        "citizen_key is longer than 128 characters",
    ),
    (
        "n-3,phone,skolval,2026-03-02T09:00:00+01:00,,,abandoned,,,,,,,,,,",
        "an abandoned call needs ended_at (the hang-up, which gives its wait)",
    ),
]


@pytest.mark.parametrize(("row", "reason"), NEW_BAD, ids=[b[0].split(",")[0] for b in NEW_BAD])
def test_new_columns_and_rules_reject_a_row_with_its_reason(runner, session, tmp_path, row, reason):
    path = _write(tmp_path, [GOOD[0], row], header=NEW_HEADER)
    result = _invoke(runner, path)
    assert result.exit_code == 1
    assert f"{path}:3: {row.split(',')[0]}: {reason}\n" in result.output, result.output
    assert _imported(session) == 1


def test_escalated_to_any_department_of_the_catalogue_with_or_without_a_queue(runner, session, tmp_path):
    from kontaktcenter.directory.models import Department

    session.add(Department(code="revision", name_sv="Stadsrevisionen", name_en="City Audit"))
    session.commit()
    lines = [
        "e-1,web,allmant,2026-03-02T09:00:00+01:00,,,,,,department,2026-03-04T09:00:00+01:00,revision,,,",
        "e-2,web,skolval,2026-03-02T09:00:00+01:00,,,,,,,,serviceforvaltningen,,,",
        "e-3,web,skolval,2026-03-02T09:00:00+01:00,,,,,,,,grundskola,,,",
    ]
    result = _invoke(runner, _write(tmp_path, lines))
    assert result.exit_code == 0, result.output
    assert "3 rows: 3 imported" in result.output
    tickets = {c.external_id: c.ticket for c in session.scalars(select(Contact).where(Contact.external_id.like("e-%")))}
    # Without a queue of its own the ticket stays in the first line, escalated.
    assert (tickets["e-1"].escalated, tickets["e-1"].queue.code, tickets["e-1"].status) == (
        True,
        "kc-forsta-linjen",
        "resolved",
    )
    assert (tickets["e-2"].escalated, tickets["e-2"].queue.code) == (True, "kc-forsta-linjen")
    assert tickets["e-3"].queue.code == "grundskola-antagning"
