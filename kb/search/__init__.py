"""KB-2 search core: the port (``base``), the embedded default backend (``embedded``: SQLite
FTS5 + numpy vectors), the sentence-transformers adapter (``embedding``, the only module that
imports torch), tokenisation (``text``, jieba for CJK) and score fusion (``fusion``)."""

from kb.search.base import (
    Doc,
    Embedder,
    Hit,
    KbError,
    SearchBackend,
)

__all__ = ["Doc", "Embedder", "Hit", "KbError", "SearchBackend"]
