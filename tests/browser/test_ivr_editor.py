"""The IVR flow editor in the browser: an administrator builds a flow, sees its problems, fixes
them, uploads a recording, routes a number and publishes."""

from __future__ import annotations

import io
import math
import wave
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import go_to, log_in

pytestmark = pytest.mark.browser


def _wav(path: Path, seconds: float = 0.6) -> Path:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"".join(int(6000 * math.sin(2 * math.pi * 500 * i / 16000))
                               .to_bytes(2, "little", signed=True)
                               for i in range(int(16000 * seconds))))
    path.write_bytes(buf.getvalue())
    return path


def test_admin_builds_a_flow_sees_problems_fixes_them_and_publishes(person, admin_api, tmp_path,
                                                                   artifacts):
    admin: Page = person("admin")
    log_in(admin, "admin")
    go_to(admin, "nav-admin-ivr")
    expect(admin).to_have_url("/admin/ivr")
    # voice is off in this hub: the page says the numbers answer no calls (issue #18, 9)
    expect(admin.get_by_test_id("ivr-voice-off")).to_contain_text("Voice is off")
    main = admin.get_by_test_id("ivr-flow-row").filter(has_text="Main line")
    expect(main.get_by_test_id("ivr-flow-version")).to_have_text("v1")  # the demo main line
    main.get_by_role("link").click()
    expect(admin.get_by_test_id("ivr-published")).to_have_text("published v1")
    expect(admin.get_by_test_id("ivr-no-problems")).to_be_visible()
    expect(admin.get_by_test_id("ivr-number")).to_contain_text("4000")
    # the business-hours condition is a form: rules with the demo line's calendar (open 24/7)
    admin.locator("[data-testid=ivr-node][data-node=hours]").get_by_role("link").click()
    rules = admin.get_by_test_id("ivr-node-form").get_by_test_id("ivr-rule")
    expect(rules).to_have_count(2)
    expect(rules.nth(0).get_by_test_id("ivr-test-type")).to_have_value("holiday")
    expect(rules.nth(1).get_by_test_id("ivr-test-calendar")).to_have_value("Open 24/7")
    expect(rules.nth(1).get_by_test_id("ivr-rule-next")).to_have_value("welcome")

    # a new flow starts with a welcome and a goodbye
    admin.get_by_test_id("ivr-new").click()
    admin.get_by_test_id("ivr-new-name").fill("Leak hotline")
    admin.get_by_test_id("ivr-create").click()
    expect(admin.get_by_test_id("ivr-name")).to_have_value("Leak hotline")
    expect(admin.get_by_test_id("ivr-published")).to_have_text("not published")
    expect(admin.get_by_test_id("ivr-node")).to_have_count(2)

    # add a menu nobody reaches and that has no keys: saving lists both problems
    admin.get_by_test_id("ivr-new-node-id").fill("leakmenu")
    admin.get_by_test_id("ivr-new-node-type").select_option("menu")
    admin.get_by_test_id("ivr-add-node").click()
    expect(admin.get_by_test_id("ivr-node-form")).to_have_attribute("data-node", "leakmenu")
    expect(admin.get_by_test_id("ivr-dirty")).to_be_visible()
    admin.get_by_test_id("ivr-save").click()
    problems = admin.get_by_test_id("ivr-problem")
    expect(problems.filter(has_text="is unreachable from the start node")).to_have_count(1)
    expect(problems.filter(has_text="a menu needs at least one option")).to_have_count(1)
    admin.screenshot(path=str(artifacts / "ivr-editor-problems.png"), full_page=True)
    # publishing is refused while problems remain
    admin.get_by_test_id("ivr-publish").click()
    expect(admin.get_by_test_id("ivr-error")).to_contain_text("problem")
    expect(admin.get_by_test_id("ivr-published")).to_have_text("not published")

    # fix: key 1 of the menu says goodbye, the welcome continues to the menu
    form = admin.get_by_test_id("ivr-node-form")
    form.get_by_test_id("ivr-digit-new").select_option("1")
    form.get_by_test_id("ivr-digit-add").click()
    form.get_by_test_id("ivr-digit-1").get_by_role("combobox").select_option("goodbye")
    admin.get_by_test_id("ivr-node").filter(has_text="welcome").get_by_role("link").click()
    expect(admin.get_by_test_id("ivr-node-form")).to_have_attribute("data-node", "welcome")
    admin.get_by_test_id("ivr-node-form").get_by_test_id("ivr-input-next").select_option("leakmenu")
    # the welcome is spoken by a chosen voice: the list comes from the configured TTS engines
    voice = admin.get_by_test_id("ivr-node-form").get_by_test_id("ivr-prompt-voice").first
    expect(voice).to_have_value("")  # automatic: by the text's language
    expect(voice.locator("optgroup[label=piper] option")).to_have_text(["en_US-joe-medium (en-US)"])
    voice.select_option("espeak-ng:en-gb")
    admin.get_by_test_id("ivr-save").click()
    expect(admin.get_by_test_id("ivr-no-problems")).to_be_visible()

    # a recording: a bad file is refused, a WAV is stored and playable
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio")
    admin.get_by_test_id("ivr-upload-name").fill("leak")
    admin.get_by_test_id("ivr-upload-file").set_input_files(str(bad))
    admin.get_by_test_id("ivr-upload").click()
    expect(admin.get_by_test_id("ivr-upload-error")).to_contain_text("WAV")
    expect(admin.get_by_test_id("ivr-recording")).to_have_count(0)
    admin.get_by_test_id("ivr-upload-name").fill("leak")
    admin.get_by_test_id("ivr-upload-file").set_input_files(str(_wav(tmp_path / "leak.wav")))
    admin.get_by_test_id("ivr-upload").click()
    row = admin.get_by_test_id("ivr-recording").filter(has_text="leak")
    expect(row).to_contain_text("0.6 s")
    src = row.get_by_test_id("ivr-recording-audio").get_attribute("src")
    audio = admin.request.get(src)
    assert audio.status == 200 and audio.headers["content-type"] == "audio/wav"
    # use it in the menu prompt
    admin.get_by_test_id("ivr-node").filter(has_text="leakmenu").get_by_role("link").click()
    prompt = admin.get_by_test_id("ivr-node-form").get_by_test_id("ivr-prompts-prompt")
    prompt.get_by_test_id("ivr-prompt-kind").first.select_option("file")
    expect(prompt.get_by_test_id("ivr-prompt-file").first).to_have_value("leak")

    # route a number and publish
    admin.get_by_test_id("ivr-number-input").fill("4100")
    admin.get_by_test_id("ivr-number-add").click()
    expect(admin.get_by_test_id("ivr-number")).to_contain_text("4100")
    admin.get_by_test_id("ivr-publish").click()
    expect(admin.get_by_test_id("ivr-published")).to_have_text("published v1")
    row = admin.get_by_test_id("ivr-flow-row").filter(has_text="Leak hotline")
    expect(row.get_by_test_id("ivr-flow-version")).to_have_text("v1")
    admin.screenshot(path=str(artifacts / "ivr-editor-published.png"), full_page=True)

    flows = admin_api.get("/api/ivr/flows").json()["flows"]
    leak = next(f for f in flows if f["name"] == "Leak hotline")
    assert leak["numbers"] == ["4100"] and leak["published_version"] == 1
    v1 = admin_api.get(f"/api/ivr/flows/{leak['id']}/versions/1").json()["definition"]
    assert v1["nodes"]["welcome"]["next"] == "leakmenu"
    assert v1["nodes"]["welcome"]["prompts"] == [{"text": "Welcome to Leak hotline.", "voice": "espeak-ng:en-gb"}]
    assert v1["nodes"]["leakmenu"]["options"] == {"1": "goodbye"}
    assert v1["nodes"]["leakmenu"]["prompt"] == [{"file": "leak"}]


def test_a_supervisor_does_not_get_the_editor(person):
    sup: Page = person("supervisor")
    log_in(sup, "supervisor")
    expect(sup.get_by_test_id("nav-admin-ivr")).to_have_count(0)
    sup.goto("/admin/ivr")
    expect(sup).not_to_have_url("/admin/ivr")
