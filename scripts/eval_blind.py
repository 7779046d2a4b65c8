"""Score a blind batch of first messages once: rules alone, the learned net alone, both joined.

usage: python scripts/eval_blind.py BATCH.yml [BATCH.yml ...] [--show-texts]

A batch is a YAML list of {text, codes: [...], level, kind} written by someone who has seen neither
the rules nor the training data (README, "Blind batches"). Prints per-code recall, how often the
level reached the contract minimum, quiet messages flagged, and which net caught what. Texts are
not printed unless --show-texts: a first-sight score is taken before anyone reads the misses.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot import safety  # noqa: E402  (path set above)
from bot.contract import RED_FLAG_CODES, RED_FLAG_MIN_LEVEL, highest_level, level_rank  # noqa: E402  (path set above)
from bot.redflags import analyse, learned, nets  # noqa: E402  (path set above)
from bot.redflags.findings import Finding, asserted_codes, codes_to_clarify  # noqa: E402  (path set above)

MODES = ("rules", "model", "joined")


def verdict_codes(verdict: nets.Verdict, rules_only: list[Finding], mode: str):
    """What each net alone, and both joined, would do with a message: codes escalated, codes
    asked about, and the level reached."""
    if mode == "rules":
        findings = rules_only
    elif mode == "model":
        limits = nets.thresholds()
        sure = list(verdict.model_codes)
        doubt = [c for c, p in verdict.model_scores.items() if limits.clarify[c] <= p < limits.escalate[c]]
        return sure, doubt, highest_level(RED_FLAG_MIN_LEVEL[c] for c in sure)
    else:
        findings = verdict.findings
        as_dicts = [f.to_dict() for f in findings if f.asserted]
        if safety.net_self_harm_beside_another_flag(as_dicts, []):
            # The bot gives the other flag's instruction and asks the self-harm question next
            # (bot/safety.py): asked, not escalated.
            findings = [f for f in findings if f.code != "self_harm"]
            sure = asserted_codes(findings)
            level = highest_level(f.level for f in findings if f.asserted)
            return sure, [*codes_to_clarify(findings), "self_harm"], level
    sure = asserted_codes(findings)
    level = highest_level(f.level for f in findings if f.asserted)
    return sure, codes_to_clarify(findings), level


def score(items: list[dict], model, show_texts: bool) -> dict[str, dict]:
    results: dict[str, dict] = {}
    verdicts = [nets.assess(item["text"], model) for item in items]
    rules = [analyse(item["text"]).findings for item in items]
    for mode in MODES:
        if mode != "rules" and model is None:
            continue
        need, found, asked, level_ok, flagged, quiet, rf = Counter(), Counter(), Counter(), 0, 0, 0, 0
        extra: Counter = Counter()  # codes escalated that the writer did not write (a red-flag message)
        quiet_kinds: Counter = Counter()
        lines = []
        for item, verdict, rule_findings in zip(items, verdicts, rules, strict=True):
            sure, doubt, level = verdict_codes(verdict, rule_findings, mode)
            codes = list(item.get("codes") or [])
            if codes:
                rf += 1
                for code in codes:
                    need[code] += 1
                    found[code] += code in sure
                    asked[code] += code not in sure and code in doubt
                for code in sure:
                    if code not in codes:
                        extra[code] += 1
                        if show_texts:
                            lines.append(f"  EXTRA {code} beside {codes}: {item['text']!r}")
                want = item.get("level")
                level_ok += level_rank(level) >= level_rank(want)
                if show_texts and not all(c in sure for c in codes):
                    lines.append(f"  MISSED {codes} got {sure} asked {doubt}: {item['text']!r}")
            else:
                quiet += 1
                if sure:
                    flagged += 1
                    quiet_kinds[item.get("kind", "?")] += 1
                    if show_texts:
                        lines.append(f"  FLAGGED {sure}: {item['text']!r}")
        results[mode] = dict(
            need=need,
            found=found,
            asked=asked,
            level_ok=level_ok,
            rf=rf,
            flagged=flagged,
            quiet=quiet,
            quiet_kinds=quiet_kinds,
            extra=extra,
            lines=lines,
        )
    return results


def print_results(results: dict[str, dict]) -> None:
    modes = list(results)
    print(f"{'code':26s}" + "".join(f"{m:>16s}" for m in modes) + "   (joined: + asked)")
    for code in RED_FLAG_CODES:
        row = f"{code:26s}"
        for mode in modes:
            r = results[mode]
            row += f"{r['found'][code]:>10d}/{r['need'][code]:<5d}"
        row += f"   +{results[modes[-1]]['asked'][code]}"
        print(row)
    for mode in modes:
        r = results[mode]
        total_need, total_found = sum(r["need"].values()), sum(r["found"].values())
        print(
            f"{mode:7s} recall {total_found}/{total_need} ({100 * total_found / max(total_need, 1):.1f}%), "
            f"level at least the minimum {r['level_ok']}/{r['rf']} ({100 * r['level_ok'] / max(r['rf'], 1):.1f}%), "
            f"quiet flagged {r['flagged']}/{r['quiet']} ({100 * r['flagged'] / max(r['quiet'], 1):.1f}%) "
            f"{dict(r['quiet_kinds'])}, codes escalated beside another red flag that the writer did not write "
            f"{sum(r['extra'].values())} {dict(r['extra'])}"
        )
        for line in r["lines"]:
            print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("batches", nargs="+", type=Path)
    parser.add_argument("--show-texts", action="store_true")
    parser.add_argument("--rules-only", action="store_true", help="score without the learned net")
    args = parser.parse_args(argv)
    items: list[dict] = []
    for path in args.batches:
        items += learned.batch_items(path)
    model = None if args.rules_only else learned.default_model()
    print(
        f"{len(items)} messages from {', '.join(p.name for p in args.batches)}; "
        f"model: {'none' if model is None else model.digest}"
    )
    print_results(score(items, model, args.show_texts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
