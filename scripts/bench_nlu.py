"""How long the trained model takes to understand one message, and what the intent vote costs.

Loads the model `./dev train` builds (or --model), parses a spread of the project's own training
examples one at a time, as the server does for each patient message, and prints the median and
95th percentile. Then it parses the same messages again with the logistic regression of the
intent vote switched off (DIET's ranking stands), so the difference is what the vote adds.

    python scripts/bench_nlu.py
    python scripts/bench_nlu.py --messages 500 --model models/triage.tar.gz
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def sample_texts(count: int) -> list[str]:
    """Every k-th example of data/nlu, so all intents and lengths are in the sample."""
    from rasa.shared.nlu.training_data.loading import load_data

    texts = [m.get("text") for m in load_data(str(ROOT / "data" / "nlu")).intent_examples if m.get("text")]
    step = max(1, len(texts) // count)
    return texts[::step][:count]


def time_parses(agent, texts: Sequence[str]) -> list[float]:
    async def run() -> list[float]:
        took = []
        for text in texts:
            started = time.perf_counter()
            await agent.parse_message(text)
            took.append((time.perf_counter() - started) * 1000)
        return took

    asyncio.run(run())  # warm-up: first calls build TensorFlow graphs
    return sorted(asyncio.run(run()))


def summary(label: str, took: Sequence[float]) -> str:
    from load_test import percentile

    return f"{label:<32} median {statistics.median(took):6.2f} ms   p95 {percentile(took, 95):6.2f} ms"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "triage.tar.gz")
    parser.add_argument("--messages", type=int, default=300)
    args = parser.parse_args(argv)
    if not args.model.exists():
        print(f"no model at {args.model}: run ./dev train first", file=sys.stderr)
        return 1
    logging.disable(logging.INFO)  # Rasa logs every parsed text at debug level
    from rasa.core.agent import Agent

    from components.intent_ensemble import VotingLogisticRegression

    texts = sample_texts(args.messages)
    agent = Agent.load(str(args.model))
    with_vote = time_parses(agent, texts)
    process = VotingLogisticRegression.process
    VotingLogisticRegression.process = lambda self, messages: messages
    try:
        diet_only = time_parses(agent, texts)
    finally:
        VotingLogisticRegression.process = process
    print(f"parse time of one message, {len(texts)} messages, model {args.model.name}")
    print(summary("full pipeline (DIET + regression)", with_vote))
    print(summary("regression switched off", diet_only))
    print(
        f"the regression adds {statistics.median(with_vote) - statistics.median(diet_only):+.2f} ms a message (median)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
