"""What a judge is asked, and how its reply becomes a verdict.

    messages = judge_messages("Name a prime.", "7.", "Nine.")   # the question and answers A and B
    parse_verdict("A is right, 9 is not prime.\\nVerdict: A")   # ("A", "")
    parse_verdict("Both are fine I guess")                      # (None, "no verdict found ...")

The prompt follows the pairwise judge of MT-Bench (Zheng et al., 2023): an impartial judge, the
answers' order and length not to sway it, a short explanation first, then the verdict on a line
of its own. Replies are read by explicit marks only, strongest first: ``[[A]]`` (MT-Bench's own
form, ``[[C]]`` a tie), ``Verdict: A``, a reply that is nothing but the verdict, a first line
that is only the verdict, "A is better". Two different verdicts in the strongest mark found, or
none at all, is no verdict: it is counted and shown, never guessed and never taken as a tie.
"""

from __future__ import annotations

import re

JUDGE_SYSTEM = (
    "You are an impartial judge. Compare two AI assistants' answers to the user's question and "
    "decide which is better: more helpful, correct, relevant and clear. Do not let the order of the "
    "answers, their length or the assistants' names sway you. Explain your reasoning in one or two "
    "sentences, then give your verdict on a last line of its own, exactly one of:\n"
    "Verdict: A\nVerdict: B\nVerdict: tie"
)

_LABEL = r"(?:assistant|answer|response)?\s*(a|b|tie|draw|equal)"
# Each pattern's group 1 is a label; the first pattern with any match decides.
_MARKS = [
    re.compile(r"\[\[\s*(a|b|c|tie)\s*\]\]", re.IGNORECASE),
    re.compile(r"\bverdict\s*(?:is)?\s*[:=\-]?\s*[*\"'`]*\s*" + _LABEL + r"\b", re.IGNORECASE),
    re.compile(r"^\W*" + _LABEL + r"\W*$", re.IGNORECASE),  # the whole reply
    re.compile(r"\A\W*" + _LABEL + r"\s*(?:[.:)\-]|\n|$)", re.IGNORECASE),  # "B. Because ..." or "A\n..."
    re.compile(r"\b(?:assistant|answer|response)?\s*\b(a|b)\b\s+is\s+(?:better|the better)", re.IGNORECASE),
]
_NORMAL = {"a": "A", "b": "B", "c": "tie", "tie": "tie", "draw": "tie", "equal": "tie"}


def judge_messages(question: str, answer_a: str, answer_b: str) -> list[dict]:
    """The conversation that asks a judge which of two answers is better."""
    user = (
        f"[Question]\n{question.strip()}\n\n"
        f"[Answer A]\n{answer_a.strip()}\n[End of answer A]\n\n"
        f"[Answer B]\n{answer_b.strip()}\n[End of answer B]"
    )
    # One user turn: some chat templates (Gemma's) refuse a system turn, and every server takes this.
    return [{"role": "user", "content": f"{JUDGE_SYSTEM}\n\n{user}"}]


def parse_verdict(reply: str) -> tuple[str | None, str]:
    """("A" | "B" | "tie", "") from a judge's reply, or (None, why no verdict was read)."""
    text = (reply or "").strip()
    if not text:
        return None, "empty reply"
    for pattern in _MARKS:
        found = {_NORMAL[m.lower()] for m in pattern.findall(text)}
        if len(found) == 1:
            return found.pop(), ""
        if len(found) > 1:
            return None, f"contradictory verdicts ({', '.join(sorted(found))})"
    return None, "no verdict found (expected a last line 'Verdict: A', 'Verdict: B' or 'Verdict: tie')"


def outcome(verdict: str | None, first_is_a: bool) -> str:
    """A verdict on positions (A, B) as one on the pair's answers: 'first', 'second', 'tie' or 'none'."""
    if verdict is None:
        return "none"
    if verdict == "tie":
        return "tie"
    return "first" if (verdict == "A") == first_is_a else "second"
