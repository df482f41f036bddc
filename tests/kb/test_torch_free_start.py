"""A hub that starts after a verified ONNX export embeds without importing torch (the note beside
the export; ``kb/search/embedding.py``), gives the torch vectors, and goes back to torch when the
note does not check out."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.hub import REPO

TEXTS = ["How do I reset my PIN?", "card", "如何重置密码", "x " * 300]
PROBE = f"""
import json, sys
from kb.search.embedding import SentenceTransformerEmbedder
e = SentenceTransformerEmbedder(threads=1)
v = e.encode({TEXTS!r})
print(json.dumps({{"torch": "torch" in sys.modules, "runtime": e.active_runtime,
                  "dimension": e.dimension, "vectors": v.tolist()}}))
"""


def _embed_in_child(onnx_dir: Path) -> dict:  # type: ignore[type-arg]
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(onnx_dir),
                              "HUB_KB_ONNX_DIR": str(onnx_dir)}, check=True)
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def verified(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """An ONNX folder with a verified export (made by the torch path) and the torch vectors."""
    pytest.importorskip("onnxruntime", reason="onnxruntime not installed: torch only")
    pytest.importorskip("onnx", reason="onnx not installed: no export, torch only")
    pytest.importorskip("tokenizers", reason="tokenizers not installed: no torch-free start")
    from kb.search import embedding

    try:
        torch_e = embedding.SentenceTransformerEmbedder(threads=1, runtime="torch")
    except Exception as err:  # pragma: no cover - environment
        pytest.skip(f"embedding model not installed ({err})")
    folder = tmp_path_factory.mktemp("onnx")
    export = f"{torch_e.name}-{embedding._model_digest(torch_e.model_dir)}.onnx"
    cached = embedding.default_onnx_dir() / export
    if cached.is_file():  # the same export another test made: skip the slow tracing
        shutil.copy(cached, folder / export)
    checked = embedding.SentenceTransformerEmbedder(threads=1, runtime="onnx", onnx_dir=folder)
    embedding._RUNNERS.pop((str(checked.model_dir), 1), None)  # check this folder's export
    embedding._FAST.pop((str(checked.model_dir), 1), None)
    try:
        assert checked._build_runner(checked._load()) is not None
    finally:
        embedding._RUNNERS.pop((str(checked.model_dir), 1), None)
    assert list(folder.glob("*.ready.json")), "a verified export leaves its note"
    return folder, torch_e.encode(TEXTS)


def test_a_start_after_a_verified_export_does_not_import_torch(verified) -> None:  # type: ignore[no-untyped-def]
    folder, want = verified
    got = _embed_in_child(folder)
    assert got["torch"] is False and got["runtime"] == "onnx" and got["dimension"] == want.shape[1]
    vectors = np.asarray(got["vectors"], dtype=np.float32)
    assert float((vectors * want).sum(axis=1).min()) > 0.999  # CJK and a truncated text included


def test_a_note_that_does_not_check_out_falls_back_to_torch(verified, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder, want = verified
    bad = tmp_path / "onnx"
    shutil.copytree(folder, bad)
    note = next(bad.glob("*.ready.json"))
    info = json.loads(note.read_text())
    info["vectors"] = [[-x for x in row] for row in info["vectors"]]  # not what the export gives
    note.write_text(json.dumps(info))
    got = _embed_in_child(bad)
    assert got["torch"] is True and got["runtime"] == "onnx"  # checked again through torch
    vectors = np.asarray(got["vectors"], dtype=np.float32)
    assert float((vectors * want).sum(axis=1).min()) > 0.999
    assert json.loads(note.read_text())["vectors"][0][0] == pytest.approx(-info["vectors"][0][0])


def test_reindexing_embeds_only_phrasings_it_has_not_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    from kb.search import embedding

    try:
        e = embedding.SentenceTransformerEmbedder(threads=1)
    except Exception as err:  # pragma: no cover - environment
        pytest.skip(f"embedding model not installed ({err})")
    monkeypatch.setattr(embedding, "_DOC_CACHE", {})
    first = ["How do I reset my PIN?", "I forgot my PIN", "card"]
    want = e.encode(first + ["my card was swallowed"])
    encoded: list[list[str]] = []
    real = e.encode
    monkeypatch.setattr(e, "encode", lambda texts: encoded.append(list(texts)) or real(texts))
    got = e.encode_documents(first)
    assert encoded == [first] and np.allclose(got, want[:3], atol=1e-6)
    # the article is edited: one phrasing replaced, one repeated
    got = e.encode_documents(["card", "How do I reset my PIN?", "my card was swallowed", "card"])
    assert encoded == [first, ["my card was swallowed"]]
    assert np.allclose(got, want[[2, 0, 3, 2]], atol=1e-6)
    monkeypatch.setattr(embedding, "DOC_CACHE_SIZE", 2)
    e.encode_documents(["a new phrasing"])  # the cache keeps only the most recent entries
    assert len(next(iter(embedding._DOC_CACHE.values()))) == 2
