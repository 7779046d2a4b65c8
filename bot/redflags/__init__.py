"""Red-flag safety detector for the knee triage bot.

    from bot.redflags import detect, Finding, asserted_codes
    findings = detect("I can't put weight on it since the fall")
    asserted_codes(findings)  # ["fracture_or_dislocation"]

Rules live in bot/redflags/rules/*.yml (clinician-readable); the pipeline is built once, lazily.
"""

from bot.redflags.detector import Analysis, analyse, detect
from bot.redflags.findings import Finding, asserted_codes, codes_to_clarify

__all__ = ["analyse", "Analysis", "detect", "Finding", "asserted_codes", "codes_to_clarify", "warm_up"]


def warm_up() -> None:
    """Build the pipeline now (for server start-up) instead of on the first message."""
    detect("warm up")
