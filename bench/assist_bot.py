"""ASSIST-2: the widget bot's answer threshold, calibrated on BANKING77 (issue 5).

The bot answers a customer on its own only when the fused search score of the best FAQ article
clears a threshold, and hands over otherwise. This bench measures how well that threshold
separates "the FAQ has the answer" from "it does not", and ``--calibrate`` chooses it.

Set-up (TRAIN split only, never test, for the calibration):

* 15 of the 77 intents (seeded) are *unknown*: they have no article, so every question of theirs
  is one the bot must hand over (they stand for the questions an FAQ does not cover).
* The other 62 intents get one article each, built like ``bench/kb_banking77.py`` (question =
  the intent name, alternatives = the first 10 training examples).
* Queries: up to 20 held-out training examples per intent (after the first 10, seeded), known and
  unknown intents alike.

For every candidate rule "answer when top-1 score >= T and top-1 - top-2 >= M" it counts
``precision`` (answers that were the right article / all answers, an unknown intent's answer is
always wrong) and ``coverage`` (right answers / questions the FAQ covers). The chosen rule is the
one with the highest coverage whose precision is at least ``TARGET_PRECISION`` (a wrong bot answer
costs more than a hand-over), written to ``assist/bot_calibration.json`` (read by
``assist.bot.BotPolicy.calibrated``). The test split is evaluated with the chosen rule for
information only.

Run from the repository root: ``HF_HUB_OFFLINE=1 .venv/bin/python bench/assist_bot.py [--calibrate]``.
It prints one JSON line and writes ``bench/results/assist_bot.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from kb_banking77 import DATA, PrecomputedQueries, build_articles, load_split  # noqa: E402

from assist.bot import CALIBRATION_FILE  # noqa: E402
from kb.search.embedded import EmbeddedBackend  # noqa: E402
from kb.search.fusion import default_fusion  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "assist_bot.json"
SEED = 5
UNKNOWN_INTENTS = 15
PER_INTENT = 20
ALTERNATIVES = 10
TARGET_PRECISION = 0.9
THRESHOLDS = [round(0.40 + 0.01 * i, 2) for i in range(56)]  # 0.40 .. 0.95
MARGINS = [0.0, 0.01, 0.02, 0.03, 0.05, 0.08]

Row = tuple[str, bool, str, float, float]  # gold, gold has an article, top-1 id, score, margin


def split_intents(train: list[tuple[str, str]]) -> tuple[set[str], set[str]]:
    intents = sorted({intent for _, intent in train})
    unknown = set(random.Random(SEED).sample(intents, UNKNOWN_INTENTS))
    return set(intents) - unknown, unknown


def held_out(rows: list[tuple[str, str]], skip: int) -> list[tuple[str, str]]:
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in rows:
        by_intent[intent].append(text)
    rng = random.Random(SEED)
    out: list[tuple[str, str]] = []
    for intent, texts in sorted(by_intent.items()):
        rest = texts[skip:]
        out.extend((t, intent) for t in rng.sample(rest, min(PER_INTENT, len(rest))))
    return out


def run(backend: EmbeddedBackend, queries: list[tuple[str, str]], known: set[str]) -> list[Row]:
    out: list[Row] = []
    for text, gold in queries:
        hits = backend.search_with(text, None, 2, backend.fusion, highlights=False)
        top = hits[0]
        margin = top.score - (hits[1].score if len(hits) > 1 else 0.0)
        out.append((gold, gold in known, top.doc_id, top.score, margin))
    return out


def evaluate(rows: list[Row], threshold: float, margin: float) -> dict[str, float]:
    answered = right = 0
    covered = sum(1 for _, has, *_ in rows if has)
    unknown_answered = 0
    for gold, has, top, score, lead in rows:
        if score >= threshold and lead >= margin:
            answered += 1
            if has and top == gold:
                right += 1
            if not has:
                unknown_answered += 1
    unknown = len(rows) - covered
    return {"threshold": threshold, "margin": margin,
            "precision": round(right / answered, 4) if answered else 1.0,
            "coverage": round(right / covered, 4) if covered else 0.0,
            "unknown_answered": round(unknown_answered / unknown, 4) if unknown else 0.0,
            "answered": answered}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", action="store_true",
                        help="choose the threshold and write assist/bot_calibration.json")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"BANKING77 not found at {DATA}", file=sys.stderr)
        return 2
    from kb.search.embedding import SentenceTransformerEmbedder

    started = time.perf_counter()
    train = load_split(DATA / "train.csv")
    test = load_split(DATA / "test.csv")
    known, unknown = split_intents(train)
    articles = [a for a in build_articles(train) if a.id in known]
    embedder = PrecomputedQueries(SentenceTransformerEmbedder())
    backend = EmbeddedBackend(":memory:", embedder)
    backend.index(articles)
    calib_q = held_out(train, ALTERNATIVES)
    test_q = [(t, i) for t, i in test]
    embedder.prime([t for t, _ in calib_q] + [t for t, _ in test_q])
    calib = run(backend, calib_q, known)
    tested = run(backend, test_q, known)
    backend.close()

    if args.calibrate:
        grid = [evaluate(calib, t, m) for t in THRESHOLDS for m in MARGINS]
        ok = [g for g in grid if g["precision"] >= TARGET_PRECISION]
        chosen = max(ok, key=lambda g: (g["coverage"], -g["threshold"])) if ok else \
            max(grid, key=lambda g: g["precision"])
        CALIBRATION_FILE.write_text(json.dumps({
            "about": "written by bench/assist_bot.py --calibrate on the BANKING77 TRAIN split "
                     f"({len(known)} intents with an article, {len(unknown)} without); rule: answer "
                     "when the fused top-1 score >= threshold and its lead over the runner-up >= "
                     f"margin; chosen = highest coverage with precision >= {TARGET_PRECISION}",
            "fusion": repr(default_fusion()),
            "threshold": chosen["threshold"], "margin": chosen["margin"],
            "target_precision": TARGET_PRECISION, "calibration": chosen,
            "calibration_queries": len(calib_q), "unknown_intents": sorted(unknown),
            "curve": [g for g in grid if g["margin"] == chosen["margin"]],
        }, indent=1) + "\n")
    policy = json.loads(CALIBRATION_FILE.read_text())
    on_test = evaluate(tested, float(policy["threshold"]), float(policy["margin"]))
    on_calib = evaluate(calib, float(policy["threshold"]), float(policy["margin"]))
    line = {"bench": "assist_bot", "threshold": policy["threshold"], "margin": policy["margin"],
            "test_precision": on_test["precision"], "test_coverage": on_test["coverage"],
            "test_unknown_answered": on_test["unknown_answered"]}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({**line, "calibration": on_calib, "test": on_test,
                                   "queries_test": len(test_q),
                                   "seconds": round(time.perf_counter() - started, 1)},
                                  indent=1) + "\n")
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
