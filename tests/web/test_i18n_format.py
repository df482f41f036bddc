"""Dates, times, durations, numbers and money in the web UI's languages (issue #17): the formatting
helpers of web/src/i18n/format.ts (the ones every page uses through src/i18n), run in node on
Intl — the same engine as the browser's — by tests/web/format_cases.mjs with the project's own
TypeScript. A moment is shown in the user's time zone, Asia/Shanghai when none is known; money is
CNY as ¥ in both languages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
RUNNER = Path(__file__).with_name("format_cases.mjs")
ZH = {"locale": "zh-CN", "timeZone": "Asia/Shanghai"}
EN = {"locale": "en", "timeZone": "Asia/Shanghai"}
# 2026-12-07 08:00 UTC = 16:00 in Shanghai; "now" for the short times: 2026-12-07 06:00 UTC
T = 1796630400
NOW_MS = 1796623200000

CASES: list[tuple[str, dict[str, str] | None, list[Any], str]] = [
    ("formatDate", ZH, [T], "2026年12月7日"),
    ("formatDate", EN, [T], "Dec 7, 2026"),
    ("formatTime", ZH, [T], "16:00"),
    ("formatTime", EN, [T], "04:00 PM"),
    # no (or no valid) time zone: Asia/Shanghai; another zone shows that zone's clock
    ("formatTime", {"locale": "en", "timeZone": ""}, [T], "04:00 PM"),
    ("formatTime", {"locale": "zh-CN", "timeZone": "Mars/Olympus"}, [T], "16:00"),
    ("formatTime", {"locale": "en", "timeZone": "UTC"}, [T], "08:00 AM"),
    # ISO strings, epoch seconds and milliseconds are the same moment
    ("formatDateTime", ZH, ["2026-12-07T06:05:09Z"], "2026/12/07 14:05:09"),
    ("formatDateTime", ZH, [1796623509], "2026/12/07 14:05:09"),
    ("formatDateTime", ZH, [1796623509000], "2026/12/07 14:05:09"),
    ("formatDateTime", EN, ["2026-12-07T06:05:09Z"], "12/07/2026, 02:05:09 PM"),
    ("formatDateTime", ZH, [None], ""),
    # today (in Shanghai) only the time, another day with the date
    ("formatShortTime", ZH, ["2026-12-07T06:05:09Z", NOW_MS], "14:05"),
    ("formatShortTime", ZH, ["2026-12-05T06:05:09Z", NOW_MS], "12月5日 14:05"),
    ("formatShortTime", EN, ["2026-12-05T06:05:09Z", NOW_MS], "Dec 5, 02:05 PM"),
    ("formatDuration", ZH, [3905], "1小时5分钟"),
    ("formatDuration", EN, [3905], "1 hr, 5 min"),
    ("formatDuration", ZH, [45], "45秒"),
    ("formatDuration", EN, [125], "2 min, 5 sec"),
    ("formatDuration", ZH, [None], "—"),
    ("formatNumber", ZH, [1234567.5], "1,234,567.5"),
    ("formatNumber", EN, [1234567.5], "1,234,567.5"),
    ("formatNumber", ZH, [3, 2], "3.00"),
    ("formatPercent", ZH, [0.873], "87%"),
    ("formatPercent", EN, [87.3], "87%"),
    ("formatCurrency", ZH, [1234.5], "¥1,234.50"),
    ("formatCurrency", EN, [1234.5], "¥1,234.50"),
    ("formatCurrency", EN, [-88], "-¥88.00"),
    ("formatCurrency", ZH, [12.3, "USD"], "$12.30"),  # another currency: its narrow symbol
    ("formatFileSize", ZH, [1536], "1.5 KB"),
    ("formatFileSize", EN, [512], "512 B"),
    ("formatClock", None, [3723], "1:02:03"),
    ("formatClock", None, [309], "05:09"),
]


def run_cases(cases: list[list[Any]]) -> list[str]:
    node = shutil.which("node")
    if node is None or not (WEB / "node_modules" / "typescript").is_dir():
        if os.environ.get("CI"):
            pytest.fail("node and web/node_modules (make web) are needed for the UI's formatting tests")
        pytest.skip("node or web/node_modules missing (make web)")
    done = subprocess.run([node, str(RUNNER), str(WEB)], input=json.dumps(cases), capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result: list[str] = json.loads(done.stdout)
    return result


def test_dates_times_durations_numbers_and_money_per_locale() -> None:
    got = run_cases([[fn, ctx, *args] for fn, ctx, args, _ in CASES])
    wrong = [(fn, ctx, args, want, have) for (fn, ctx, args, want), have in zip(CASES, got, strict=True)
             if have != want]
    assert not wrong, "\n".join(f"{fn}{(ctx or {}).get('locale', '')}{args}: want {want!r}, got {have!r}"
                                for fn, ctx, args, want, have in wrong)
