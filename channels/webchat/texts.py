"""The web chat channel's texts a customer reads outside the widget (the verification code by email
or SMS), one template per language (``hub.api.schemas.CustomerLanguage``). The widget's own texts
are in the web UI's catalogues."""

from __future__ import annotations

from typing import Final

#: language → (email subject, email body, SMS text); ``{code}`` and ``{minutes}`` are filled in
CODE_MESSAGES: Final[dict[str, tuple[str, str, str]]] = {
    "en": ("Your verification code: {code}",
           "Your verification code for the chat is {code}.\n\n"
           "It works for {minutes} minutes. If you did not ask for it, ignore this message: "
           "nobody can see your account without it.",
           "Your chat verification code is {code} (valid {minutes} min). "
           "If you did not ask for it, ignore this message."),
    "zh-CN": ("您的验证码：{code}",
              "您在在线客服中的验证码是 {code}。\n\n"
              "{minutes} 分钟内有效。如果不是您本人申请，请忽略此邮件：没有验证码，任何人都无法查看您的账户。",
              "您的在线客服验证码是 {code}，{minutes} 分钟内有效。如非本人操作，请忽略。"),
}


def code_message(language: str, code: str, ttl_s: float) -> tuple[str, str, str]:
    """(subject, email body, SMS text) for ``code`` in ``language`` (English if unknown)."""
    subject, body, sms = CODE_MESSAGES.get(language, CODE_MESSAGES["en"])
    minutes = max(1, round(ttl_s / 60))
    return (subject.format(code=code, minutes=minutes), body.format(code=code, minutes=minutes),
            sms.format(code=code, minutes=minutes))
