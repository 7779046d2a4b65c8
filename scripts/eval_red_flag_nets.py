"""How the two red-flag nets do on material each was not shaped by.

usage: python scripts/eval_red_flag_nets.py [--sweep]

1. Leave one writer out: the learned net is trained on every other writer of data/red_flag_corpus
   (plus the NLU examples as "none") and scored on the writer it never saw; the rules are scored
   on the same messages (they were never tuned on the corpus). Per code: recall of rules, model
   and both joined, clarifying questions, and quiet messages flagged.
2. Our vignettes (tests/vignettes/red_flags.yml: the rules were tuned on them, the net never saw
   them) with the net trained on the whole corpus.
--sweep prints how recall and false alarms move with the thresholds (choose them here, on the
corpus, never on a blind batch).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.contract import RED_FLAG_CODES  # noqa: E402  (path set above)
from bot.redflags import analyse, learned, nets  # noqa: E402  (path set above)
from bot.redflags.findings import asserted_codes  # noqa: E402  (path set above)

VIGNETTES = REPO / "tests" / "vignettes" / "red_flags.yml"


def rules_findings(texts: list[str]) -> list:
    return [analyse(t).findings for t in texts]


def model_scores(model: learned.LearnedModel, texts: list[str]) -> np.ndarray:
    rows = []
    for text in texts:
        scores = model.scores(text)
        rows.append([scores[c] for c in RED_FLAG_CODES])
    return np.array(rows)


def report(
    name: str, gold: list[tuple], rules: list[list[str]], scores: np.ndarray, limits: learned.Thresholds
) -> dict[str, float]:
    need, by_rules, by_model, joined, asked = Counter(), Counter(), Counter(), Counter(), Counter()
    quiet = flagged_rules = flagged_model = flagged_joined = asked_quiet = 0
    for codes, findings, row in zip(gold, rules, scores, strict=True):
        ruled = asserted_codes(findings)
        p = dict(zip(RED_FLAG_CODES, row, strict=True))
        sure = {c for c in RED_FLAG_CODES if p[c] >= limits.escalate[c]}
        both, doubt = map(set, nets.decide(findings, p, limits))
        if codes:
            for c in codes:
                need[c] += 1
                by_rules[c] += c in ruled
                by_model[c] += c in sure
                joined[c] += c in both
                asked[c] += c not in both and c in doubt
        else:
            quiet += 1
            flagged_rules += bool(ruled)
            flagged_model += bool(sure)
            flagged_joined += bool(both)
            asked_quiet += not both and bool(doubt)
    print(f"\n=== {name} ===")
    print(f"{'code':26s}{'rules':>10s}{'model':>10s}{'joined':>10s}{'+asked':>8s}")
    for c in RED_FLAG_CODES:
        print(
            f"{c:26s}{by_rules[c]:>6d}/{need[c]:<3d}{by_model[c]:>6d}/{need[c]:<3d}{joined[c]:>6d}/{need[c]:<3d}{asked[c]:>6d}"
        )
    total = sum(need.values())
    print(
        f"{'all':26s}{sum(by_rules.values()):>6d}/{total:<3d}{sum(by_model.values()):>6d}/{total:<3d}"
        f"{sum(joined.values()):>6d}/{total:<3d}{sum(asked.values()):>6d}"
    )
    print(
        f"quiet messages flagged: rules {flagged_rules}/{quiet}, model {flagged_model}/{quiet}, "
        f"joined {flagged_joined}/{quiet}; asked a clarifying question {asked_quiet}/{quiet}"
    )
    return {"recall": sum(joined.values()) / max(total, 1), "false": flagged_joined / max(quiet, 1)}


def leave_one_writer_out(
    sweep: bool, cache: Path | None = None, c: float | None = None, hard_weight: float = 1.0
) -> None:
    corpus = learned.read_corpus()
    if cache and cache.exists():
        data = np.load(cache, allow_pickle=False)
        gold = [tuple(c for c in row.split(",") if c) for row in data["gold"].tolist()]
        texts = data["texts"].tolist()
        scores = data["scores"]
        writers = sorted({e.source for e in corpus})
    else:
        gold, texts, scores, writers = _score_left_out(corpus, c, hard_weight)
        if cache:
            np.savez(cache, gold=np.array([",".join(g) for g in gold]), texts=np.array(texts), scores=scores)
    rules = rules_findings(texts)
    report(
        f"leave one writer out ({len(writers)} writers, {len(texts)} messages)", gold, rules, scores, nets.thresholds()
    )
    if sweep:
        _sweep(gold, rules, scores)


def _score_left_out(corpus, c: float | None = None, hard_weight: float = 1.0):
    writers = sorted({e.source for e in corpus})
    # the NLU examples and the spent blind batches are trained on in every round
    everyday = [e for e in learned.training_examples(learned.CORPUS_DIR) if e.source not in writers]
    gold: list[tuple] = []
    texts: list[str] = []
    rows = []
    for writer in writers:
        train = [e for e in corpus if e.source != writer] + everyday
        test = [e for e in corpus if e.source == writer]
        options = {"hard_negative_weight": hard_weight} | ({} if c is None else {"c": c})
        model = learned.train(train, **options)
        rows.append(model_scores(model, [e.text for e in test]))
        gold += [e.codes for e in test]
        texts += [e.text for e in test]
        print(f"  trained without {writer}: {len(train)} examples, scored {len(test)}", flush=True)
    return gold, texts, np.vstack(rows), writers


def _sweep(gold, rules, scores) -> None:
    if True:
        print(
            "\nthreshold sweep (the same thresholds for every code; a rule finding escalates when the "
            "model gives it at least `support`, or for codes the rules always escalate):"
        )
        base = nets.thresholds()
        for esc in (0.6, 0.7, 0.8, 0.9):
            for cla in (0.3, 0.4, 0.5):
                for support, alone in (
                    (0.0, base.rules_alone),
                    (0.1, base.rules_alone),
                    (0.2, base.rules_alone),
                    (0.3, base.rules_alone),
                    (0.1, ()),
                    (0.2, ()),
                    (0.3, ()),
                ):
                    limits = learned.Thresholds(
                        {c: esc for c in RED_FLAG_CODES},
                        {c: cla for c in RED_FLAG_CODES},
                        {c: support for c in RED_FLAG_CODES},
                        tuple(alone),
                    )
                    need = hit = ask = quiet = fa = qa = 0
                    for codes, findings, row in zip(gold, rules, scores, strict=True):
                        sure, doubt = nets.decide(findings, dict(zip(RED_FLAG_CODES, row, strict=True)), limits)
                        if codes:
                            need += len(codes)
                            hit += sum(c in sure for c in codes)
                            ask += sum(c in doubt for c in codes)
                        else:
                            quiet += 1
                            fa += bool(sure)
                            qa += bool(doubt)
                    print(
                        f"  escalate {esc:.2f} clarify {cla:.2f} support {support:.2f}"
                        f"{' (chest and self-harm too)' if not alone else ''}: recall {100 * hit / need:.1f}% "
                        f"(+{100 * ask / need:.1f}% asked), "
                        f"quiet flagged {100 * fa / quiet:.1f}% (+{100 * qa / quiet:.1f}% asked)"
                    )


def vignettes() -> None:
    items = [
        i
        for i in yaml.safe_load(VIGNETTES.read_text())
        if isinstance(i, dict)
        and i.get("expect") in ("red_flag", "none")
        and not i.get("question")
        and not i.get("patient_under_16")
    ]
    model = learned.default_model()
    gold = [tuple(i.get("red_flags") or ()) if i["expect"] == "red_flag" else () for i in items]
    texts = [i["text"] for i in items]
    report(
        f"our vignettes, single messages ({len(items)}; the rules were tuned on them)",
        gold,
        rules_findings(texts),
        model_scores(model, texts),
        nets.thresholds(),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--cache", type=Path, help="keep the left-out scores here and reuse them")
    parser.add_argument("--c", type=float, help="the logistic regressions' C (default: learned.train's)")
    parser.add_argument("--hard-weight", type=float, default=1.0, help="weight of the corpus's hard negatives")
    args = parser.parse_args(argv)
    leave_one_writer_out(args.sweep, args.cache, args.c, args.hard_weight)
    vignettes()
    return 0


if __name__ == "__main__":
    sys.exit(main())
