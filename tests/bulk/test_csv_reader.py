"""The shared CSV recipients reader (``hub.services.csv_recipients.read_csv``) that bulk SMS, bulk email and
bulk fax use: encodings and separators, per-row problems reported while the good rows are kept,
and problems of the whole file refused."""

from __future__ import annotations

import pytest

from hub.errors import ValidationFailed
from hub.services.csv_recipients import MAX_VALUE_CHARS, CsvColumn, read_csv

EMAIL = CsvColumn("email", ("e-mail", "邮箱"), required=True, label="email address")
NAME = CsvColumn("name", ("姓名",))
PHONE = CsvColumn("phone", ("mobile", "手机号"), required=True, label="phone number")


def test_bad_rows_are_reported_by_row_and_good_rows_are_kept() -> None:
    data = (b"Email,Name\n"
            b"ann@example.net,Ann\n"
            b",No address\n"                                    # row 2: required value missing
            b"bob@example.net,Bob\n"
            b"carl@example.net," + b"x" * (MAX_VALUE_CHARS + 1) + b"\n"  # row 4: a value too long
            b"dora@example.net,Dora\n")
    table = read_csv(data, [EMAIL, NAME])
    assert [(r.number, r.values) for r in table.rows] == [
        (1, {"email": "ann@example.net", "name": "Ann"}),
        (3, {"email": "bob@example.net", "name": "Bob"}),
        (5, {"email": "dora@example.net", "name": "Dora"})]
    assert table.errors == [
        {"row": 2, "email": "", "msg": "no email address"},
        {"row": 4, "email": "carl@example.net", "msg": f"a value is longer than {MAX_VALUE_CHARS} characters"}]
    assert table.total == 5


def test_a_row_that_is_not_utf8_is_reported_and_the_rest_of_the_file_is_read() -> None:
    data = "phone,name\n13800000001,王芳\n".encode() + b"13800000002,\xff\xfeLi\n" + "13800000003,李雷\n".encode()
    table = read_csv(data, [PHONE], other_columns=True)
    assert [(r.number, r.values["name"]) for r in table.rows] == [(1, "王芳"), (3, "李雷")]
    assert [(e["row"], e["phone"]) for e in table.errors] == [(2, "13800000002")]
    assert "not UTF-8" in table.errors[0]["msg"]


def test_encodings_separators_and_aliases() -> None:
    rows = read_csv("\ufeffMobile;姓名\n138 0013 8000;王芳\n\n13900139000;Li\n".encode(),
                    [PHONE], other_columns=True).rows
    assert [r.values["phone"] for r in rows] == ["138 0013 8000", "13900139000"]
    assert rows[0].values["姓名"] == "王芳" and [r.number for r in rows] == [1, 2]  # blank line not counted
    gbk = read_csv("手机号\t姓名\n13800138000\t王芳\n".encode("gb18030"), [PHONE], other_columns=True)
    assert gbk.rows[0].values == {"手机号": "13800138000", "姓名": "王芳", "phone": "13800138000"}
    # only the named columns unless other_columns
    only = read_csv(b"e-mail,city\nann@example.net,Paris\n", [EMAIL, NAME])
    assert only.rows[0].values == {"email": "ann@example.net", "name": ""}


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty"),
    (b" \n\n", "empty"),
    (b"name,city\nAnn,Paris\n", "'email' column"),
    (b"email\n", "header but no recipients"),
    (b"\xff\xfe\xfa,\x81\n\xfe\xff,\x80\n", "neither UTF-8 nor GB18030"),
    (b"email\n" + b"a@example.net\n" * 11, "11 rows; at most 10"),
])
def test_problems_of_the_whole_file_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        read_csv(data, [EMAIL], max_rows=10)
