"""Entity extraction (pure): English and Chinese, spans that point at the text."""

from __future__ import annotations

import datetime as dt

import pytest

from assist.entities import extract

TODAY = dt.date(2026, 11, 23)  # a Monday


def found(text: str) -> set[tuple[str, str]]:
    out = set()
    for e in extract(text, TODAY):
        assert text[e.start:e.end] == e.text  # the span is exact
        out.add((e.kind, e.value))
    return out


@pytest.mark.parametrize(("text", "expected"), [
    ("My account number is GC-100231, phone +86 138 0000 1111.",
     {("account", "GC-100231"), ("phone", "+8613800001111")}),
    ("Email me at Zhang.Wei@Example.com please", {("email", "zhang.wei@example.com")}),
    ("call me at (555) 010-0100 tomorrow", {("phone", "5550100100"), ("date", "2026-11-24")}),
    ("I paid $45.20 on Nov 3rd, 2026", {("amount", "45.20 USD"), ("date", "2026-11-03")}),
    ("paid RMB 1,200.50 on 2026-11-20", {("amount", "1200.50 CNY"), ("date", "2026-11-20")}),
    ("the engineer can come next Friday", {("date", "2026-12-04")}),
    ("I live at 12 Baker Street, London.", {("address", "12 Baker Street, London")}),
    ("acct no: 88812345", {("account", "88812345")}),
    ("the engineer can come tomorrow at 3pm", {("date", "2026-11-24T15:00")}),
    ("I'm in tomorrow from 9:00 until 11:00", {("date", "2026-11-24T09:00/11:00")}),
    ("call me after 5 pm", {("date", "2026-11-23T17:00")}),
])
def test_english_entities(text: str, expected: set[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("我的户号是GC-200876，电话13912345678。", {("account", "GC-200876"), ("phone", "13912345678")}),
    ("住在上海市浦东新区世纪大道100号3栋2单元501室，明天上午在家",
     {("address", "上海市浦东新区世纪大道100号3栋2单元501室"), ("date", "2026-11-24T08:00/12:00")}),
    ("上个月交了300元", {("amount", "300.00 CNY")}),
    ("2026年11月23日和下周三都可以", {("date", "2026-11-23"), ("date", "2026-12-02")}),
    ("阳光小区3栋2单元501室漏气", {("address", "阳光小区3栋2单元501室")}),
    ("座机010-12345678", {("phone", "01012345678")}),
])
def test_chinese_entities(text: str, expected: set[tuple[str, str]]) -> None:
    assert found(text) == expected


def test_an_email_or_account_is_not_also_a_phone_number() -> None:
    kinds = [e.kind for e in extract("GC-100231 / 13800001111@example.com")]
    assert kinds == ["account", "email"]


def test_text_without_entities_gives_none() -> None:
    assert extract("Hello, I have a question about my bill") == []
    assert extract("") == []
