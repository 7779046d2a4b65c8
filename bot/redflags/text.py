"""Clean-up of a user message before matching, with a map back to what the person typed."""

from __future__ import annotations

import re

_TAG = re.compile(r"<[^<>]{0,500}>")
_ENTITIES = {
    "&nbsp;": " ",
    "&amp;": "&",
    "&#39;": "'",
    "&apos;": "'",
    "&rsquo;": "'",
    "&lsquo;": "'",
    "&quot;": '"',
    "&lt;": "<",
    "&gt;": ">",
}
_ENTITY = re.compile("|".join(re.escape(e) for e in _ENTITIES), re.IGNORECASE)
_CHAR_MAP = {
    "\u2019": "'",
    "\u2018": "'",
    "\u02bc": "'",
    "\u0060": "'",
    "\u00b4": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": "-",
    "\u2014": "-",
}
_HORIZONTAL_SPACE = " \t\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\f\v"
_INVISIBLE = "\u200b\u200c\u200d\ufeff"


def normalise(text: str) -> tuple[str, list[int], list[int]]:
    """Strip HTML tags, decode common entities, straighten quotes and collapse spaces.

    Returns the clean text and, for each clean character, the start and end offsets in the
    original text, so findings point at what the person typed.
    """
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "<":
            tag = _TAG.match(text, i)
            if tag:
                _emit_space(out, starts, ends, i, tag.end())
                i = tag.end()
                continue
        if ch == "&":
            entity = _ENTITY.match(text, i)
            if entity:
                value = _ENTITIES[entity.group(0).lower()]
                if value == " ":
                    _emit_space(out, starts, ends, i, entity.end())
                else:
                    out.append(value)
                    starts.append(i)
                    ends.append(entity.end())
                i = entity.end()
                continue
        if ch in _INVISIBLE:
            i += 1
            continue
        if ch in _HORIZONTAL_SPACE:
            _emit_space(out, starts, ends, i, i + 1)
            i += 1
            continue
        if ch == "\r":
            ch = "\n"
            if i + 1 < n and text[i + 1] == "\n":
                i += 1
        out.append(_CHAR_MAP.get(ch, ch))
        starts.append(i)
        ends.append(i + 1)
        i += 1
    return "".join(out), starts, ends


def _emit_space(out: list[str], starts: list[int], ends: list[int], start: int, end: int) -> None:
    if out and out[-1] in (" ", "\n"):
        ends[-1] = max(ends[-1], end) if out[-1] == " " else ends[-1]
        return
    out.append(" ")
    starts.append(start)
    ends.append(end)
