"""Problems with the import file itself (METRICS.md "Import format"): not UTF-8, a malformed
CSV record, a field over the size limit. Each is reported at the line where its record
starts, with exactly how many rows were committed before it; the fixed file imports the
rest and nothing twice."""

from sqlalchemy import func, select

from kontaktcenter.contacts.models import Contact
from kontaktcenter.history.importer import BATCH_SIZE, import_contacts

HEADER = "external_id,channel,service_code,arrived_at,first_response_at"
HINT = "Fix the file and import it again: the rows already imported are skipped."


def row(n: int, service: str = "skolval") -> str:
    return f"f-{n},web,{service},2026-03-02T09:00:00+01:00,2026-03-02T10:00:00+01:00"


def write(tmp_path, lines: list[bytes], name: str = "history.csv"):
    path = tmp_path / name
    path.write_bytes(b"\n".join([HEADER.encode(), *lines]) + b"\n")
    return path


def rows(numbers) -> list[bytes]:
    return [row(n).encode() for n in numbers]


def imported(session) -> int:
    return session.scalar(select(func.count(Contact.id)).where(Contact.external_id.like("f-%")))


def invoke(runner, path, *args):
    return runner.invoke(args=["import", "contacts", str(path), *args])


def test_the_batch_size_is_5000():
    """The Latin-1 byte below lies in the second batch, after a commit, as in the report."""
    assert BATCH_SIZE == 5000


def test_not_utf8_in_row_6501_reports_line_6502_and_the_6500_rows_committed_then_the_fixed_file_imports_the_rest(
    runner, session, tmp_path
):
    bad = "f-6501,web,allmän,2026-03-02T09:00:00+01:00,".encode("latin-1")
    path = write(tmp_path, [*rows(range(1, 6501)), bad, *rows(range(6502, 6511))])
    result = invoke(runner, path)
    assert result.exit_code == 1
    assert "6500 rows: 6500 imported, 0 already imported, 0 rejected" in result.output
    assert (
        f"{path}: line 6502: not UTF-8 (byte 0xe4 at column 16); 6500 rows were imported before it, nothing after\n"
        in result.output
    )
    assert HINT in result.output
    assert imported(session) == 6500
    fixed = write(tmp_path, [*rows(range(1, 6501)), bad.decode("latin-1").encode(), *rows(range(6502, 6511))])
    result = invoke(runner, fixed)
    assert result.exit_code == 1  # the fixed row names a service the catalogue has not: rejected as a row
    assert "6510 rows: 9 imported, 6500 already imported, 1 rejected" in result.output
    assert f"{fixed}:6502: f-6501: unknown service 'allmän'" in result.output
    assert imported(session) == 6509
    fixed = write(tmp_path, rows(range(1, 6511)))
    result = invoke(runner, fixed)
    assert result.exit_code == 0, result.output
    assert "6510 rows: 1 imported, 6509 already imported, 0 rejected" in result.output
    assert imported(session) == 6510


def test_a_malformed_record_stops_the_import_at_its_line_after_committing_every_row_before_it(
    runner, session, tmp_path
):
    bad = b'f-6,web,skolval,"2026-03-02T09:00:00+01:00"x,'
    path = write(tmp_path, [*rows(range(1, 6)), bad, *rows(range(7, 10))])
    result = invoke(runner, path, "--batch-size", "2")
    assert result.exit_code == 1
    assert (
        f'{path}: line 7: a quote inside a field that is not doubled (inside a quoted field write "" for "); '
        "5 rows were imported before it, nothing after\n" in result.output
    )
    # Two whole batches, and the row of the third batch read before the bad record.
    assert imported(session) == 5
    result = invoke(runner, write(tmp_path, rows(range(1, 10))))
    assert result.exit_code == 0
    assert "9 rows: 4 imported, 5 already imported, 0 rejected" in result.output
    assert imported(session) == 9


def test_a_field_over_the_size_limit_is_reported_at_its_line_not_as_a_traceback(runner, session, tmp_path):
    huge = f"f-3,web,skolval,2026-03-02T09:00:00+01:00,,{'x' * (128 * 1024 + 1)}".encode()
    path = write(tmp_path, [*rows([1, 2]), huge, *rows([4])])
    result = invoke(runner, path)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert (
        f"{path}: line 4: a field is longer than the limit of 131072 characters (a quote left open can make one); "
        "2 rows were imported before it, nothing after\n" in result.output
    )
    assert imported(session) == 2


def test_a_quote_left_open_is_reported_at_the_line_where_its_record_starts(runner, session, tmp_path):
    path = write(tmp_path, [*rows([1]), b'f-2,web,skolval,"2026-03-02T09:00:00+01:00', *rows([3, 4])])
    result = invoke(runner, path)
    assert result.exit_code == 1
    assert (
        f"{path}: line 3: a quoted field is still open at the end of the file; "
        "1 row was imported before it, nothing after\n" in result.output
    )
    assert imported(session) == 1


def test_not_utf8_inside_a_multi_line_record_names_the_record_first_line_and_the_byte_s_own(runner, session, tmp_path):
    bad = 'f-2,web,skolval,2026-03-02T09:00:00+01:00,"rad ett\nrad två"'.encode("latin-1")
    path = write(tmp_path, [*rows([1]), bad, *rows([3])])
    result = invoke(runner, path)
    assert result.exit_code == 1
    assert (
        f"{path}: line 3: not UTF-8 (byte 0xe5 on line 4, column 7); 1 row was imported before it, nothing after\n"
        in result.output
    )


def test_not_utf8_in_the_header_imports_nothing(runner, session, tmp_path):
    path = tmp_path / "header.csv"
    path.write_bytes("external_id,kanal,tjänst\n".encode("latin-1") + rows([1])[0] + b"\n")
    result = invoke(runner, path)
    assert result.exit_code == 1
    assert f"{path}: line 1: not UTF-8 (byte 0xe4 at column 21); nothing was imported, nothing after\n" in result.output
    assert imported(session) == 0


def test_a_rejected_multi_line_record_is_reported_at_its_first_line(runner, session, tmp_path):
    multi_line = b'f-2,web,finns-inte,2026-03-02T09:00:00+01:00,"en\nlang\ntext"'
    path = write(tmp_path, [*rows([1]), multi_line, *rows([3])])
    result = invoke(runner, path)
    assert result.exit_code == 1
    # The record fills lines 3 to 5; the next row, on line 6, is imported.
    assert f"{path}:3: f-2: unknown service 'finns-inte'\n" in result.output
    assert "3 rows: 2 imported, 0 already imported, 1 rejected" in result.output
    assert imported(session) == 2


def test_a_bom_and_windows_line_ends_are_read_as_utf8(runner, session, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + "\r\n" + row(1) + "\r\n").encode())
    result = invoke(runner, path)
    assert result.exit_code == 0, result.output
    assert imported(session) == 1


def test_exactly_the_rows_reported_are_committed(session):
    """Through the function, on SQLite and on PostgreSQL (KC_TEST_DATABASE_URL): a rollback
    after the stop keeps exactly the rows reported as imported."""
    lines = [HEADER.encode(), *rows(range(1, 12)), b"f-12,web,skolval,\xff", *rows(range(13, 20))]
    commits = []
    result = import_contacts(
        session,
        (line + b"\n" for line in lines),
        commit=lambda: (session.commit(), commits.append(imported(session))),
        batch_size=4,
    )
    session.rollback()
    assert result.stop_message() == (
        "line 13: not UTF-8 (byte 0xff at column 18); 11 rows were imported before it, nothing after"
    )
    assert commits == [4, 8, 11]
    assert imported(session) == 11
