"""The assist component's settings section (keys ``assist_*``, and the bot's thresholds
``kb_bot_min_score``/``kb_bot_min_margin``; docs/CONFIGURATION.md, "Knowledge base" and
"Assist and the widget bot")."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.config import Section
from hub.errors import ConfigError

BOT_MODES = ("on", "off", "demo")


@dataclass(frozen=True)
class AssistSettings(Section):
    prefix = "assist_"

    bot: str = "demo"  # on | off | demo (on when demo data is on)
    bot_queues: tuple[str, ...] = ()  # queues whose chats the bot answers first; empty: all
    category_examples: int = 5000  # closed conversations kept for category suggestions
    # live suggestions: searches at once, and conversations waiting (beyond: the oldest dropped);
    # one at a time leaves the second core to the chat path (bench/chat.py: p99 at 100 msg/s
    # 316 ms with 2, 150 ms with 1)
    suggest_concurrency: int = 1
    suggest_max_pending: int = 64
    suggest_cpu_share: float = 0.5  # of one core, per concurrent search (assist/service.py)
    # the bot answers alone only above this score and lead; None (unset): the calibrated values
    # of assist/bot_calibration.json (assist.bot.BotPolicy.from_settings). Their keys kept the
    # kb_ prefix: the knowledge base's ``confident`` uses the same thresholds.
    bot_min_score: float | None = field(default=None, metadata={"key": "kb_bot_min_score"})
    bot_min_margin: float | None = field(default=None, metadata={"key": "kb_bot_min_margin"})

    def validate(self) -> None:
        for key, value in (("kb_bot_min_score", self.bot_min_score), ("kb_bot_min_margin", self.bot_min_margin)):
            if value is not None and not 0 <= value <= 1:
                raise ConfigError(f"setting {key!r} must be between 0 and 1 (or unset: calibrated), "
                                  f"got {value}")
        if self.bot not in BOT_MODES:
            raise ConfigError(f"setting 'assist_bot' must be one of {', '.join(BOT_MODES)}, "
                              f"got {self.bot!r}")
        if self.suggest_max_pending < 1 or self.suggest_concurrency < 1:
            raise ConfigError("settings 'assist_suggest_max_pending' and "
                              "'assist_suggest_concurrency' must be at least 1")
        if not 0.05 <= self.suggest_cpu_share <= 1:
            raise ConfigError("setting 'assist_suggest_cpu_share' must be from 0.05 to 1")
