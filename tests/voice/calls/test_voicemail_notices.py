"""The voicemail notification (VOICE-8) is written in the hub's default language (issue #17): the
mail and the SMS to the mailbox's staff come from the texts ``voicemail.notice.*``, Chinese on a
Chinese install, English on an English one, and an administrator's version is used at once.
(The sipp call that leaves a message and the delivery through SMTP and Kannel are
tests/voice/calls/test_voicemail_callback.py.)"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import voice.calls.texts as texts
from tests.support.hub import running_hub
from voice.calls.voicemail import VoicemailService

CALL = SimpleNamespace(caller_number="+8613800001111", caller_name="王芳", callee="95007")
ACTION = SimpleNamespace(mailbox="报修", notify_email=("duty@example.cn",), notify_sms=())
REC = SimpleNamespace(call=CALL, action=ACTION)
ATT = {"size": 300 * 1024, "filename": "voicemail.wav"}


@pytest.mark.parametrize(("language", "subject", "lines"), [
    ("zh-CN", "来自 +8613800001111 的语音留言（时长 1:05）– 报修信箱",
     ["报修信箱有一条新的语音留言", "来电号码：+8613800001111 (王芳)", "留言时长：1:05（65.2 秒）",
      "留言转写：", "明天上午来修燃气灶", "查看会话：https://hub.example/desk?c=c1",
      "（录音文件 300 KiB，请在会话中收听。）"]),
    ("en", "Voicemail from +8613800001111 (1:05) – 报修",
     ["New voicemail in mailbox 报修", "Caller:   +8613800001111 (王芳)", "Duration: 1:05 (65.2 s)",
      "Transcript:", "明天上午来修燃气灶", "Open the conversation: https://hub.example/desk?c=c1",
      "(The recording, 300 KiB, is in the conversation.)"]),
])
async def test_the_notice_mail_is_in_the_hubs_language(tmp_path, language: str, subject: str,  # type: ignore[no-untyped-def]
                                                       lines: list[str]) -> None:
    async with running_hub(tmp_path / "data", default_language=language,
                           voice_voicemail_link_url="https://hub.example") as hub:
        hub.services.texts.register(texts.catalogue())  # as the voice component does when it starts
        vm = VoicemailService(hub.services, None)  # type: ignore[arg-type]  # no calls needed here
        mail = await vm.email_notice("hub@example.cn", REC, "c1", 65.2, "明天上午来修燃气灶", None, ATT)
        assert mail["Subject"] == subject
        body = mail.get_content()
        for line in lines:
            assert line in body.splitlines(), (line, body)


async def test_an_administrators_notice_text_is_used_at_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running_hub(tmp_path / "data") as hub:
        hub.services.texts.register(texts.catalogue())
        admin = await hub.client("admin")
        await admin.ok("PUT", "/api/texts/voicemail.notice.subject/zh-CN",
                       {"body": "【语音留言】{mailbox}：{caller}，{duration}"})
        vm = VoicemailService(hub.services, None)  # type: ignore[arg-type]
        mail = await vm.email_notice("hub@example.cn", REC, "c1", 5, "", b"RIFF", ATT)
        assert mail["Subject"] == "【语音留言】报修：+8613800001111，0:05"
        assert "（未识别到语音内容）" in mail.get_body(preferencelist=("plain",)).get_content()
