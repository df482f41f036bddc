"""Category suggestion by nearest labelled examples, with the real embedding model."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from assist.knn import CategoryIndex  # noqa: E402

EXAMPLES = [
    ("1", "There is a strong smell of gas in my kitchen", "repair_order"),
    ("2", "Gas leak near the boiler, please send an engineer", "repair_order"),
    ("3", "My meter is broken and the display is blank", "repair_order"),
    ("4", "I was charged twice on my bill, this is unacceptable", "complaint"),
    ("5", "The engineer was rude and late, I want to complain", "complaint"),
    ("6", "What are your opening hours on Saturday?", "info"),
    ("7", "How do I read my meter?", "info"),
    ("8", "燃气泄漏了，快派人来修", "repair_order"),
    ("9", "我要投诉，账单多扣了钱", "complaint"),
]


@pytest.fixture(scope="module")
def index() -> CategoryIndex:
    from kb.search.embedding import SentenceTransformerEmbedder

    try:
        embedder = SentenceTransformerEmbedder()
    except Exception as err:  # pragma: no cover - environment
        pytest.skip(f"embedding model not installed ({err})")
    idx = CategoryIndex(embedder)
    idx.add_many(EXAMPLES)
    return idx


@pytest.mark.parametrize(("text", "label"), [
    ("I can smell gas near my cooker", "repair_order"),
    ("you took the money from my account two times", "complaint"),
    ("when is the service centre open?", "info"),
    ("厨房有燃气泄漏的味道", "repair_order"),
    ("我要投诉你们多扣钱", "complaint"),
])
def test_nearest_examples_vote_for_the_category(index: CategoryIndex, text: str, label: str) -> None:
    best = index.suggest(text)
    assert best[0]["category"] == label, best
    assert 0 < best[0]["score"] <= 1


def test_replacing_an_example_and_the_cap(index: CategoryIndex) -> None:
    small = CategoryIndex(index.embedder, max_examples=3)
    small.add_many(EXAMPLES[:5])
    assert len(small) == 3 and set(small.labels()) == {"repair_order", "complaint"}
    small.add_many([("5", "opening hours please", "info")])
    assert len(small) == 3 and "info" in small.labels()
    assert small.suggest("") == []
    assert CategoryIndex(None).suggest("anything") == []
