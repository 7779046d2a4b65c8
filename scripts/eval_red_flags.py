"""Evaluate the red-flag detector on our vignettes and the held-out external set.

Run from the repository root:  python scripts/eval_red_flags.py [--quiet]

Prints recall and false alarms per red-flag code, every miss and false alarm, per-message timing,
and whether the safety targets hold:
  1. recall: every red-flag case is detected (100%), in both sets;
  2. false alarms: at most 5% of messages that must raise nothing (negated, family, hypothetical,
     historical, uncertain, ordinary kneecap pain, off-topic) raise a red flag;
  3. the external set's off-topic ("other") phrases raise no knee red flag (anything but
     cardiorespiratory and self_harm) - and at most 5% raise any flag.
Exits 1 when a target fails, so a test can call it. The external set is read, never copied.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.contract import RED_FLAG_CODES  # noqa: E402  (after the sys.path set-up above)
from bot.redflags import asserted_codes, codes_to_clarify, detect  # noqa: E402  (after the sys.path set-up above)

VIGNETTES = REPO / "tests" / "vignettes" / "red_flags.yml"
EXTERNAL_DIR = REPO.parent / "shared" / "eval"
NON_KNEE_CODES = frozenset({"cardiorespiratory", "self_harm"})
MAX_FALSE_ALARM_RATE = 0.05
# A 100 kB paste takes about 1.5 s on an idle core of this 2-core machine; the limit leaves room
# for a busy one. (A chat message of a few hundred characters takes about 1 ms.)
HUGE_LIMIT_SECONDS = 5.0


class Report:
    def __init__(self, name: str):
        self.name = name
        self.needed = Counter()  # code -> red-flag items needing it
        self.found = Counter()
        self.false_alarm = Counter()  # code -> items that must not raise it but did
        self.quiet_items = 0
        self.quiet_items_flagged = 0
        self.by_kind = defaultdict(lambda: [0, 0])  # kind -> [items, flagged]
        self.misses: list[str] = []
        self.false_alarms: list[str] = []
        self.other_items = 0
        self.other_any_flag = 0
        self.other_knee_flag: list[str] = []
        self.knee_flagged: list[str] = []
        self.knee_items = 0
        self.allowed_flags: list[str] = []
        self.clarify_items = 0
        self.seconds: list[float] = []

    def timed_detect(self, item: dict):
        start = time.perf_counter()
        findings = detect(
            item.get("text") or "",
            question=item.get("question"),
            patient_under_16=item.get("patient_under_16"),
        )
        self.seconds.append(time.perf_counter() - start)
        return findings

    def add(self, item: dict) -> None:
        findings = self.timed_detect(item)
        codes = asserted_codes(findings)
        expect = item["expect"]
        text = item.get("text") or ""
        shown = f"{text!r}" + (f" [question={item['question']}]" if item.get("question") else "")
        if expect == "red_flag":
            need_all = list(item.get("red_flags") or [])
            need_any = list(item.get("red_flags_any") or [])
            for code in need_all:
                self.needed[code] += 1
                if code in codes:
                    self.found[code] += 1
            ok_all = all(code in codes for code in need_all)
            ok_any = not need_any or any(code in codes for code in need_any)
            if need_any:
                label = "any:" + "|".join(need_any)
                self.needed[label] += 1
                if ok_any:
                    self.found[label] += 1
            if not (ok_all and ok_any):
                self.misses.append(f"{shown} needs {need_all or need_any}, got {codes}")
        elif expect in ("none", "other"):
            self.quiet_items += 1
            kind = item.get("kind", "other")
            self.by_kind[kind][0] += 1
            if expect == "other":
                # over-triage of chest or mood symptoms is safe on off-topic phrases (set header)
                self.other_items += 1
                if codes:
                    self.other_any_flag += 1
                    self.allowed_flags.append(f"{shown} raised {codes}")
                codes = [c for c in codes if c not in NON_KNEE_CODES]
                if codes:
                    self.other_knee_flag.append(f"{shown} raised {codes}")
            if codes:
                self.quiet_items_flagged += 1
                self.by_kind[kind][1] += 1
                for code in codes:
                    self.false_alarm[code] += 1
                self.false_alarms.append(f"{shown} raised {codes}")
        elif expect == "clarify":
            # not asserted (a body part outside the knee region, or unsure), but never dropped:
            # the bot must ask one clarifying question (asserting it would be safe too)
            self.clarify_items += 1
            raised = set(codes) | set(codes_to_clarify(findings))
            if not set(item.get("red_flags") or []) <= raised:
                self.misses.append(f"{shown} needs a clarifying question about {item.get('red_flags')}, got none")
        elif expect == "knee":
            self.knee_items += 1
            if codes:
                self.knee_flagged.append(f"{shown} raised {codes}")

    # -- output ----------------------------------------------------------------------------
    def recall_ok(self) -> bool:
        return not self.misses

    def false_alarm_rate(self) -> float:
        return self.quiet_items_flagged / self.quiet_items if self.quiet_items else 0.0

    def print(self, quiet: bool) -> None:
        print(f"\n=== {self.name} ===")
        total_needed = sum(v for k, v in self.needed.items() if not k.startswith("any:"))
        print(f"{'code':28s} {'recall':>14s} {'false alarms':>14s}")
        for code in list(RED_FLAG_CODES) + sorted(k for k in self.needed if k.startswith("any:")):
            need = self.needed.get(code, 0)
            got = self.found.get(code, 0)
            recall = f"{got}/{need} ({100 * got / need:.0f}%)" if need else "-"
            fa = self.false_alarm.get(code, 0)
            fa_text = f"{fa}/{self.quiet_items} ({100 * fa / self.quiet_items:.1f}%)" if self.quiet_items else "-"
            print(f"{code:28s} {recall:>14s} {fa_text:>14s}")
        print(f"red-flag items missed: {len(self.misses)} (of {total_needed} code requirements)")
        if self.clarify_items:
            print(f"items that must lead to a clarifying question: {self.clarify_items}")
        print(
            f"messages that must raise nothing: {self.quiet_items}, flagged: {self.quiet_items_flagged} "
            f"({100 * self.false_alarm_rate():.1f}%)"
        )
        for kind, (items, flagged) in sorted(self.by_kind.items()):
            print(f"  {kind:14s} {flagged}/{items}")
        if self.other_items:
            print(
                f"off-topic ('other') phrases: {self.other_items}, any flag: {self.other_any_flag}, "
                f"knee red flag: {len(self.other_knee_flag)} (chest and mood flags are allowed there)"
            )
        if self.knee_items:
            print(f"in-scope knee phrases (informational): {self.knee_items}, flagged: {len(self.knee_flagged)}")
        if self.seconds:
            ms = sorted(s * 1000 for s in self.seconds)
            p95 = ms[int(0.95 * (len(ms) - 1))]
            print(
                f"time per message: mean {statistics.mean(ms):.2f} ms, median {statistics.median(ms):.2f} ms, "
                f"p95 {p95:.2f} ms, max {ms[-1]:.2f} ms over {len(ms)} messages"
            )
        sections = [("MISSED", self.misses), ("FALSE ALARM", self.false_alarms)]
        if not quiet:
            sections.append(("KNEE PHRASE FLAGGED (informational)", self.knee_flagged))
            sections.append(("ALLOWED CHEST/MOOD FLAG ON OFF-TOPIC (informational)", self.allowed_flags))
        for title, lines in sections:
            for line in lines:
                print(f"  {title}: {line}")


def load_items(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        items = yaml.safe_load(handle) or []
    return [item for item in items if isinstance(item, dict) and "expect" in item]


def huge_input_seconds() -> float:
    text = ("my knee aches on stairs and after sitting, no swelling really. " * 1700)[:100_000]
    text += " and now my calf is swollen since the flight"
    start = time.perf_counter()
    codes = asserted_codes(detect(text))
    seconds = time.perf_counter() - start
    if "dvt" not in codes:
        print("  MISSED: a red flag at the end of a 100 kB message")
        return float("inf")
    return seconds


def evaluate(external_dir: Path | None, quiet: bool, huge_limit: float = HUGE_LIMIT_SECONDS) -> bool:
    detect("warm up")  # build the pipeline outside the timings
    reports = []
    ours = Report(f"our vignettes ({VIGNETTES.relative_to(REPO)})")
    for item in load_items(VIGNETTES):
        ours.add(item)
    reports.append(ours)
    external_files = sorted(external_dir.glob("*.yml")) if external_dir and external_dir.is_dir() else []
    for path in external_files:
        report = Report(f"external set ({path.name})")
        for item in load_items(path):
            report.add(item)
        reports.append(report)
    for report in reports:
        report.print(quiet)

    print("\n=== targets ===")
    results = []
    for report in reports:
        results.append((f"{report.name}: 100% recall on red-flag cases (and clarify items asked)", report.recall_ok()))
        results.append(
            (
                f"{report.name}: <= 5% of must-stay-quiet messages flagged ({100 * report.false_alarm_rate():.1f}%)",
                report.false_alarm_rate() <= MAX_FALSE_ALARM_RATE,
            )
        )
        if report.other_items:
            results.append(
                (
                    f"{report.name}: no knee red flag on off-topic phrases ({len(report.other_knee_flag)})",
                    not report.other_knee_flag,
                )
            )
    if not external_files:
        print(f"  (external set not found under {external_dir}: only our vignettes were checked)")
    huge = huge_input_seconds()
    label = f"100 kB message handled and flagged in {huge:.2f} s (limit {huge_limit:.0f} s)"
    results.append((label, huge <= huge_limit))
    for label, ok in results:
        print(f"  [{'PASS' if ok else 'FAIL'}] {label}")
    return all(ok for _, ok in results)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--external-dir", type=Path, default=EXTERNAL_DIR)
    parser.add_argument("--quiet", action="store_true", help="leave out informational lists")
    parser.add_argument("--huge-limit", type=float, default=HUGE_LIMIT_SECONDS, help="seconds allowed for 100 kB")
    args = parser.parse_args(list(argv) if argv is not None else None)
    return 0 if evaluate(args.external_dir, args.quiet, args.huge_limit) else 1


if __name__ == "__main__":
    sys.exit(main())
