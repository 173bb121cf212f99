"""The HR export into the switchboard directory: accepted, rejected with line and reason, re-imported."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from kontaktcenter.switchboard.models import StaffMember
from kontaktcenter.switchboard.staff_import import DEMO_STAFF, StaffFileError, import_staff

HEADER = "employee_id,name,title,department,unit,phone,email,keywords\n"


def staff(session, employee_id: str) -> StaffMember | None:
    return session.scalar(select(StaffMember).where(StaffMember.employee_id == employee_id))


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(StaffMember))


def test_a_good_file_adds_everyone_with_normalised_values(session):
    data = HEADER + (
        'H1,Anna Svensson,Bygglovshandläggare,sbk,Bygglov väster,040-34 10 01,Anna.Svensson@Malmo.se,"bygglov, marklov"\n'
        "H2,Johan Lindqvist,Miljöinspektör,MILJO,,+46 40 34 20 01,,buller\n"
    )
    report = import_staff(session, data.encode())
    assert (report.added, report.updated, len(report.rejected)) == (2, 0, 0)
    anna = staff(session, "H1")
    assert anna.phone == "+4640341001"
    assert anna.email == "anna.svensson@malmo.se"
    assert anna.department.code == "sbk"
    assert anna.keywords == "bygglov, marklov"
    assert anna.active
    assert staff(session, "H2").department.code == "miljo"


def test_each_bad_row_is_rejected_with_its_line_and_reason_and_nothing_of_it_written(session):
    before = count(session)
    data = (
        HEADER
        + "R1,Good Person,Titel,sbk,,040-34 10 01,,\n"  # line 2: accepted
        + "R2,Okänd Avd,Titel,nope,,040-34 10 02,,\n"  # 3: unknown department
        + "R3,Fel Nummer,Titel,sbk,,12,,\n"  # 4: bad phone
        + "R4,Fel Post,Titel,sbk,,040-34 10 03,inte-en-adress,\n"  # 5: bad e-mail
        + "R1,Dubbel Person,Titel,sbk,,040-34 10 04,,\n"  # 6: duplicate employee_id
        + "R5,,Titel,sbk,,040-34 10 05,,\n"  # 7: missing name
        + "R6,Nul\x00Person,Titel,sbk,,040-34 10 06,,\n"  # 8: NUL
        + "R7,"
        + "x" * 201
        + ",Titel,sbk,,040-34 10 07,,\n"  # 9: over-long name
    ).encode() + b"R8,Fel Kodning \xe5\xe4,Titel,sbk,,040-34 10 08,,\n"  # 10: Latin-1, not UTF-8
    report = import_staff(session, data)
    reasons = {r.line: (r.employee_id, r.reason) for r in report.rejected}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "nope" in reasons[3][1]
    assert "Telefonnumret 12" in reasons[4][1]
    assert "E-postadressen" in reasons[5][1]
    assert reasons[6] == ("R1", "samma employee_id som rad 2: bara rad 2 importeras")
    assert "Namn saknas" in reasons[7][1]
    assert "otillåtna tecken" in reasons[8][1]
    assert "för långt" in reasons[9][1]
    assert "UTF-8" in reasons[10][1]
    assert report.added == 1
    assert count(session) == before + 1
    assert staff(session, "R1").name == "Good Person"
    for rejected in ("R2", "R3", "R4", "R5", "R6", "R7", "R8"):
        assert staff(session, rejected) is None


def test_reimport_updates_without_duplicating_and_reports_unchanged(session):
    import_staff(session, (HEADER + "U1,Anna Svensson,Handläggare,sbk,,040-34 10 01,,\n").encode())
    first = staff(session, "U1")
    report = import_staff(session, (HEADER + "U1,Anna Svensson,Enhetschef,sbk,,040-34 10 01,,\n").encode())
    assert (report.added, report.updated) == (0, 1)
    assert staff(session, "U1") is first
    assert first.title == "Enhetschef"
    again = import_staff(session, (HEADER + "U1,Anna Svensson,Enhetschef,sbk,,040-34 10 01,,\n").encode())
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
    assert session.scalar(select(func.count()).select_from(StaffMember).where(StaffMember.employee_id == "U1")) == 1


def test_a_full_import_deactivates_who_it_does_not_name_and_a_later_one_reactivates(session):
    import_staff(session, (HEADER + "D1,Kvar Person,,sbk,,,,\nD2,Slutat Person,,sbk,,,,\n").encode())
    report = import_staff(session, (HEADER + "D1,Kvar Person,,sbk,,,,\n").encode())
    assert report.deactivated >= 1
    assert staff(session, "D1").active
    gone = staff(session, "D2")
    assert gone is not None
    assert not gone.active
    import_staff(session, (HEADER + "D1,Kvar Person,,sbk,,,,\nD2,Slutat Person,,sbk,,,,\n").encode())
    assert staff(session, "D2").active


def test_a_rejected_row_keeps_its_person_active_and_a_partial_import_deactivates_nobody(session):
    import_staff(session, (HEADER + "K1,Kvar Person,,sbk,,,,\nK2,Annan Person,,sbk,,,,\n").encode())
    import_staff(session, (HEADER + "K1,Kvar Person,,sbk,,,,\nK2,Annan Person,,nope,,,,\n").encode())
    assert staff(session, "K2").active  # named by the file, only its row was bad
    import_staff(session, (HEADER + "K1,Kvar Person,,sbk,,,,\n").encode(), full=False)
    assert staff(session, "K2").active


def test_a_file_without_accepted_rows_deactivates_nobody(session):
    import_staff(session, (HEADER + "Z1,Kvar Person,,sbk,,,,\n").encode())
    report = import_staff(session, (HEADER + "Z9,Bad Row,,nope,,,,\n").encode())
    assert report.deactivated == 0
    assert staff(session, "Z1").active


def test_absence_columns_set_the_notice_and_the_alternative(session):
    data = (
        "employee_id,name,department,absent_until,absence_message,alternative_employee_id\n"
        "A1,Erik Johansson,sbk,2027-06-30,Föräldraledig,A2\n"
        "A2,Anna Svensson,sbk,,,\n"
        "A3,Ingen Alls,sbk,2027-06-30,Borta,A9\n"
    )
    report = import_staff(session, data.encode())
    assert [(r.line, r.employee_id) for r in report.rejected] == [(4, "A3")]
    erik = staff(session, "A1")
    assert erik.alternative is staff(session, "A2")
    assert erik.absence_message == "Föräldraledig"
    # Through 30 June: back on 1 July at midnight, Swedish time.
    assert erik.absent_until == datetime.fromisoformat("2027-07-01T00:00:00+02:00")


def test_a_file_without_absence_columns_keeps_the_notices(session, make_staff):
    member = make_staff("Erik Johansson", employee_id="N1", absence_message="Borta", keywords="bygglov")
    member.absent_until = datetime.fromisoformat("2027-07-01T00:00:00+02:00")
    session.flush()
    import_staff(session, b"employee_id,name,department\nN1,Erik Johansson,sbk\n", full=False)
    assert member.absence_message == "Borta"
    assert member.keywords == "bygglov"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "tom"),
        (b"employee_id,name\nX,Y\n", "Kolumner saknas: department"),
        (b"employee_id,name,department,salary\nX,Y,sbk,1\n", "Okända kolumner: 'salary'"),
        (b"employee_id,name,department,name\nX,Y,sbk,Z\n", "två gånger"),
    ],
)
def test_a_bad_file_changes_nothing(session, data, says):
    before = count(session)
    with pytest.raises(StaffFileError) as refused:
        import_staff(session, data)
    assert says in str(refused.value)
    assert count(session) == before


def test_the_demo_file_imports_without_rejections(session):
    report = import_staff(session, DEMO_STAFF.read_bytes(), full=False)
    assert report.rejected == []
    assert report.added + report.updated + report.unchanged == 20


def test_the_cli_reports_rejected_rows_and_exits_1(runner, session, tmp_path):
    good = tmp_path / "staff.csv"
    good.write_text(HEADER + "C1,Anna Svensson,Titel,sbk,,040-34 10 01,,\n", encoding="utf-8")
    result = runner.invoke(args=["directory", "import-staff", str(good), "--partial"])
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "C2,Anna Svensson,Titel,nope,,040-34 10 01,,\n", encoding="utf-8")
    result = runner.invoke(args=["directory", "import-staff", str(bad), "--partial"])
    assert result.exit_code == 1
    assert f"{bad}:line 2: C2: Okänd förvaltning 'nope'" in result.output
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("employee_id,name,department,lön\nC3,X,sbk,1\n", encoding="utf-8")
    result = runner.invoke(args=["directory", "import-staff", str(unknown)])
    assert result.exit_code == 1
    assert "nothing was changed" in result.output
