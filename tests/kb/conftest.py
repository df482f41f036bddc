"""Fixtures for the KB search tests: one real model per session, a counting subclass of the
real embedding adapter (a fake that subclasses the port's real adapter, not a mock)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kb.search import embedding  # noqa: E402
from kb.search.base import Doc  # noqa: E402
from kb.search.embedding import SentenceTransformerEmbedder  # noqa: E402


class CountingEmbedder(SentenceTransformerEmbedder):
    """The real adapter, counting how many texts it was asked to embed."""

    shared_model: object = None

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.texts: list[str] = []
        if CountingEmbedder.shared_model is not None:  # reuse the loaded model across tests
            self._model = CountingEmbedder.shared_model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts.extend(texts)
        out = super().encode(texts)
        CountingEmbedder.shared_model = self._model
        return out

    def reset(self) -> None:
        """Forget what was embedded, including the adapter's cache of indexed phrasings (so a
        test counts what its own change makes the model embed)."""
        self.calls = 0
        self.texts.clear()
        embedding._DOC_CACHE.clear()


@pytest.fixture
def embedder() -> CountingEmbedder:
    try:
        return CountingEmbedder()
    except Exception as err:  # pragma: no cover - environment
        pytest.skip(f"embedding model not installed ({err})")


FAQ = [
    Doc("reset-pin", "How do I reset my PIN?", ["I forgot my PIN code", "change card PIN"],
        "Open <b>Settings</b> then Security and choose Reset PIN.", "cards", "app",
        "published", ["pin"]),
    Doc("lost-card", "My card was lost or stolen", ["someone stole my card", "I lost my card"],
        "Freeze the card in the app right away and order a new one.", "cards", "app",
        "published", ["freeze"]),
    Doc("refund", "How long does a refund take?", ["when will I get my money back"],
        "Refunds arrive within 5 working days.", "payments", "web", "published", []),
    Doc("fees", "Are there fees for international transfers?", ["transfer abroad cost"],
        "Transfers abroad cost 1% of the amount.", "payments", "web", "draft", ["fee"]),
    Doc("zh-password", "如何重置登录密码", ["忘记密码怎么办", "密码找不回来了"],
        "在设置页面点击“重置密码”，按短信验证码操作即可。", "account", "app", "published",
        ["密码"]),
    Doc("zh-delivery", "银行卡什么时候寄到", ["我的卡还没有收到"],
        "新卡一般在七个工作日内寄到。", "cards", "app", "published", []),
]


@pytest.fixture
def faq() -> list[Doc]:
    return list(FAQ)


@pytest.fixture
def backend(embedder: CountingEmbedder, faq: list[Doc]) -> Iterator[object]:
    from kb.search.embedded import EmbeddedBackend

    b = EmbeddedBackend(":memory:", embedder)
    b.index(faq)
    yield b
    b.close()
