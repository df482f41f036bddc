"""Chinese entity extraction on what callers and chat customers of a gas utility really say
(#17): addresses (省/市/区/路/号/室, compounds, villages), phone numbers (also as speech
recognition writes them, 幺三八…), account and card numbers, amounts in digits and in Chinese
numerals, dates and times of day (今天下午三点, 明天上午). Each row: the utterance and every
entity expected in it, as (kind, normalised value). Today is Monday 2026-11-23."""

from __future__ import annotations

import datetime as dt

import pytest

from assist.entities import extract

TODAY = dt.date(2026, 11, 23)  # a Monday

CASES: list[tuple[str, set[tuple[str, str]]]] = [
    # --- addresses
    ("我家住在北京市朝阳区建国路88号SOHO现代城2号楼1503室，厨房有煤气味",
     {("address", "北京市朝阳区建国路88号SOHO现代城2号楼1503室")}),
    ("地址是广东省深圳市南山区深南大道10000号", {("address", "广东省深圳市南山区深南大道10000号")}),
    ("江苏省南京市鼓楼区中山北路一百号的燃气表坏了", {("address", "江苏省南京市鼓楼区中山北路一百号")}),
    ("成都市武侯区人民南路四段12号，麻烦派人来看看", {("address", "成都市武侯区人民南路四段12号")}),
    ("朝阳区望京西园四区411号楼2单元1203没气了", {("address", "朝阳区望京西园四区411号楼2单元1203")}),
    ("幸福里小区12号楼3单元602的热水器打不着火", {("address", "幸福里小区12号楼3单元602")}),
    ("我在城关镇东关村三组15号，管道漏气", {("address", "城关镇东关村三组15号")}),
    ("杭州市西湖区文三路478号华星科技大厦7楼需要开通燃气",
     {("address", "杭州市西湖区文三路478号华星科技大厦7楼")}),
    ("住址：上海市徐汇区漕溪北路398号", {("address", "上海市徐汇区漕溪北路398号")}),
    ("阳光花园5栋1单元302室要做安检", {("address", "阳光花园5栋1单元302室")}),
    ("浙江省宁波市海曙区中山西路23弄7号", {("address", "浙江省宁波市海曙区中山西路23弄7号")}),
    # --- phone numbers
    ("我的手机号是13812345678", {("phone", "13812345678")}),
    ("电话138 1234 5678，随时打", {("phone", "13812345678")}),
    ("号码是幺三八幺二三四五六七八", {("phone", "13812345678")}),
    ("你打我座机0571-88889999", {("phone", "057188889999")}),
    ("联系电话：+86 139 0000 2222", {("phone", "+8613900002222")}),
    ("打不通的话打我老婆的手机159-8765-4321", {("phone", "15987654321")}),
    # --- account and card numbers
    ("我的户号是GC-200876", {("account", "GC-200876")}),
    ("用户编号 88812345，帮我查一下余额", {("account", "88812345")}),
    ("燃气卡号是60012345678，充不进去", {("account", "60012345678")}),
    ("表号为 ZB20231188", {("account", "ZB20231188")}),
    # --- amounts
    ("这个月燃气费怎么要三百五十元", {("amount", "350.00 CNY")}),
    ("我刚充了两千块钱", {("amount", "2000.00 CNY")}),
    ("一共一百零五块五毛对吗", {("amount", "105.50 CNY")}),
    ("账单上写着欠费88.5元", {("amount", "88.50 CNY")}),
    ("滞纳金收了¥12.30", {("amount", "12.30 CNY")}),
    ("我们一块去营业厅办吧", set()),
    # --- dates and times
    ("明天下午三点能来修吗", {("date", "2026-11-24T15:00")}),
    ("明天上午我在家", {("date", "2026-11-24T08:00/12:00")}),
    ("今天下午三点以后都可以", {("date", "2026-11-23T15:00")}),
    ("下周三上午10:30安检可以吗", {("date", "2026-12-02T10:30")}),
    ("今天晚上八点半以后有人", {("date", "2026-11-23T20:30")}),
    ("后天早上七点一刻", {("date", "2026-11-25T07:15")}),
    ("大后天傍晚有空", {("date", "2026-11-26T17:00/19:00")}),
    ("12月5号下午两点来装表", {("date", "2026-12-05T14:00")}),
    ("下个星期一中午十二点", {("date", "2026-11-30T12:00")}),
    ("周六上午九点到十一点之间", {("date", "2026-11-28T09:00/11:00")}),
    ("明天下午两点到四点都行", {("date", "2026-11-24T14:00/16:00")}),
    ("下午两点到四点家里有人", {("date", "2026-11-23T14:00/16:00")}),
    ("2026年12月1日开始停气吗", {("date", "2026-12-01")}),
    ("下午3点前给我回个电话", {("date", "2026-11-23T15:00")}),
    # --- several at once
    ("我叫王芳，户号GC-100231，住在上海市浦东新区世纪大道100号3栋2单元501室，电话13900002222，明天上午在家",
     {("account", "GC-100231"), ("address", "上海市浦东新区世纪大道100号3栋2单元501室"),
      ("phone", "13900002222"), ("date", "2026-11-24T08:00/12:00")}),
    ("城关镇东关村三组15号漏气了，电话幺五九八七六五四三二幺，快来",
     {("address", "城关镇东关村三组15号"), ("phone", "15987654321")}),
    ("上个月交了三百元，这个月又扣了200元，账号88812345",
     {("amount", "300.00 CNY"), ("amount", "200.00 CNY"), ("account", "88812345")}),
    ("周五下午两点到幸福里小区12号楼3单元602换表，联系138-0000-1111",
     {("date", "2026-11-27T14:00"), ("address", "幸福里小区12号楼3单元602"), ("phone", "13800001111")}),
    ("没有什么问题，谢谢", set()),
]


def found(text: str) -> set[tuple[str, str]]:
    out = set()
    for e in extract(text, TODAY):
        assert text[e.start:e.end] == e.text  # the span is exact
        out.add((e.kind, e.value))
    return out


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:14] for c in CASES])
def test_chinese_utterances(text: str, expected: set[tuple[str, str]]) -> None:
    assert found(text) == expected
