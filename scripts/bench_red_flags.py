"""How long red-flag detection takes per message: the rules alone, and both nets joined (what the
bot runs on every message), with how much memory the learned net adds.

    python scripts/bench_red_flags.py [--repeat 3]

Messages: our vignettes, the blind batches and a spread of the NLU examples (short and long), plus
one 10,000-character message (the longest any channel accepts). Prints median, 95th percentile
and maximum in milliseconds.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from load_test import percentile  # noqa: E402  (path set above)


def messages() -> list[str]:
    from bot.redflags import learned

    texts = [
        i["text"]
        for i in yaml.safe_load((ROOT / "tests" / "vignettes" / "red_flags.yml").read_text())
        if isinstance(i, dict) and i.get("text")
    ]
    for path in sorted(learned.SPENT_BATCHES_DIR.glob("batch*.yml")):
        texts += [i["text"] for i in learned.batch_items(path)]
    everyday = learned.nlu_examples()
    texts += everyday[:: max(1, len(everyday) // 300)]
    return texts


def timed(function, texts: list[str], repeat: int) -> list[float]:
    took = []
    for _ in range(repeat):
        for text in texts:
            started = time.perf_counter()
            function(text)
            took.append((time.perf_counter() - started) * 1000)
    return took


def report(name: str, ms: list[float]) -> None:
    print(
        f"{name:34s} median {statistics.median(ms):6.2f} ms   p95 {percentile(ms, 95):6.2f} ms   "
        f"max {max(ms):7.2f} ms   ({len(ms)} messages)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    from bot.redflags import detect, learned, nets

    # Train (or find) the model in a child process first, so the memory below is what loading
    # the saved net adds, not the peak of training it.
    subprocess.run(
        [sys.executable, "-c", "from bot.redflags import learned; learned.default_model()"], cwd=ROOT, check=True
    )
    detect("warm up")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model = learned.default_model()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    nets.assess("warm up", model)
    texts = messages()
    report("rules alone", timed(detect, texts, args.repeat))
    report("both nets joined (the bot)", timed(lambda t: nets.assess(t, model), texts, args.repeat))
    long_text = ("My knee has been sore around the kneecap after runs and on the stairs. " * 150)[:9_950]
    report("a 10,000-character message, joined", timed(lambda t: nets.assess(t, model), [long_text], 5))
    print(f"learned net loaded: about {(after - before) / 1024:.0f} MB more resident memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
