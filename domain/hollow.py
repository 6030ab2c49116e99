"""Hollow text (内容空泛): a written section that says nothing.

One rule for everything that judges what a township wrote: the 零上报 trigger (a village list with a hollow
reason), the hollow-report trigger (a quarterly or weekly report with a hollow section) and the checks of
plans. 000_a28a7778217e042c.txt §四(三) asks the townships not to report perfunctorily (切忌敷衍塞责或应付了是);
§四(二) fixes the four parts a quarterly report must have.

A section is hollow when it is empty, a stock phrase ("无", "暂无", "见附件" …, repeated or not), its own
heading repeated, or shorter than ``min_chars`` meaningful characters. A finding quotes what was written
(cut at ``QUOTE_CHARS``) and says 为空 only when nothing at all was written.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_BOILERPLATE = ("无", "暂无", "没有", "无。", "/", "—", "——", "略", "同上", "见附件", "详见附件", "正常", "良好", "无问题")
"""Stock phrases that say nothing on their own (a definition's trigger may list others)."""
DEFAULT_MIN_CHARS = 4
"""A section with fewer meaningful characters says nothing (a definition's trigger may set another number)."""
QUOTE_CHARS = 40
"""How much of a hollow section a finding quotes."""

_NOISE = set(" \t\r\n　,，.。;；:：!！?？、·…-—_~()（）[]【】\"'“”‘’")


def meaningful(text: str) -> str:
    """The text without whitespace and punctuation: what is left to judge a section by."""
    return "".join(ch for ch in text if ch not in _NOISE)


def is_hollow(text: str, boilerplate: Sequence[str] = DEFAULT_BOILERPLATE, min_chars: int = DEFAULT_MIN_CHARS) -> bool:
    """Whether ``text`` says nothing: empty, stock phrases only, or shorter than ``min_chars`` meaningful
    characters. Pass the section's own label among ``boilerplate`` to catch a heading repeated as its content."""
    core = meaningful(text)
    if not core:
        return True
    phrases = sorted({meaningful(p) for p in boilerplate if meaningful(p)}, key=len, reverse=True)
    rest = core
    for phrase in phrases:
        rest = rest.replace(phrase, "")
    return not rest or len(core) < min_chars


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """What was written, trimmed, cut at ``limit`` characters (marked with “……”)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "……"


def hollow_finding(label: str, value: object, *, boilerplate: Sequence[str] = DEFAULT_BOILERPLATE,
                   min_chars: int = DEFAULT_MIN_CHARS) -> str | None:
    """Why the section ``label`` is hollow, quoting what was written; None when it says something.

    “…”为空 only when nothing was written; otherwise “…”只填写了“<what was written>”，没有实际内容.
    """
    text = value if isinstance(value, str) else ""
    if not text.strip():
        return f"“{label}”为空"
    if is_hollow(text, [*boilerplate, label], min_chars):
        return f"“{label}”只填写了“{quote(text)}”，没有实际内容"
    return None
