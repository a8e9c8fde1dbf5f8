"""The arithmetic of judging: confidence intervals, a jury's majority, agreement with people and
Cohen's kappa, and how many people's votes a judge's agreement needs before it can be read.

    wilson(7, 10)                          # (0.397, 0.892): the 95% interval of 7 wins in 10
    majority(["second", "second", "tie"])  # "second"
    cohen_kappa(["A", "B", "A"], ["A", "B", "B"])   # 0.4

Outcomes are the words every verdict is reduced to: ``first`` or ``second`` (which of the two
answers is better), ``tie``, and ``none`` (no verdict could be read: counted, never guessed).

The guides aim for a judge that agrees with people about 80% of the time (``TARGET``). A share
of n votes is known to about ±z·sqrt(p(1-p)/n); at p = 0.8 that is within ±10 points once
n >= 1.96²·0.8·0.2/0.1² = 61.5, so ``MIN_VOTES`` is 62: with fewer, the report says how many
more people's votes are needed before a judge's agreement is read against the line.
"""

from __future__ import annotations

import math
from collections import Counter

Z95 = 1.959963984540054
TARGET = 0.8  # the guides' line: a judge should agree with people about this often
MARGIN = 0.10  # the interval's half-width at TARGET that makes an agreement readable
MIN_VOTES = math.ceil(Z95**2 * TARGET * (1 - TARGET) / MARGIN**2)  # 62
OUTCOMES = ("first", "second", "tie", "none")


def wilson(k: int, n: int, z: float = Z95) -> list[float] | None:
    """The Wilson score interval of k successes in n trials (None when n is 0).

    Unlike the normal approximation it stays inside [0, 1] and is honest at 0 or n successes,
    which small judge runs (8 prompts) hit often."""
    if n <= 0:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def combine(first_order: str, second_order: str) -> tuple[str, bool]:
    """One pair's outcome from its two asks (answers in one order, then swapped), and whether
    the verdict flipped with the order. A flip is position bias: the pair counts as a tie, so
    a judge that always names the answer in one position cancels out. A missing verdict in
    either order leaves the pair without one."""
    if "none" in (first_order, second_order):
        return "none", False
    if first_order == second_order:
        return first_order, False
    return "tie", True


def majority(outcomes: list[str]) -> str:
    """A jury's outcome: the verdict most judges gave, among those that gave one; a draw at the
    top is a tie; no verdict at all is none."""
    counts = Counter(o for o in outcomes if o != "none").most_common()
    if not counts:
        return "none"
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return "tie"
    return counts[0][0]


def tally(outcomes: list[str], flips: int, both_orders: int) -> dict:
    """Win/tie/loss of the SECOND answer (the adapter, the challenger) with 95% Wilson intervals
    over the pairs with a verdict, the pairs without one, and the position-bias rate."""
    counts = Counter(outcomes)
    decided = counts["first"] + counts["second"] + counts["tie"]
    out = {"pairs": len(outcomes), "no_verdict": counts["none"]}
    for name, key in (("win", "second"), ("tie", "tie"), ("loss", "first")):
        out[name] = counts[key]
        out[f"{name}_rate"] = round(counts[key] / decided, 4) if decided else None
        out[f"{name}_ci"] = wilson(counts[key], decided)
    out["flips"] = flips
    out["both_orders"] = both_orders  # pairs with a verdict in each order: the bias rate's base
    out["position_bias"] = round(flips / both_orders, 4) if both_orders else None
    return out


def cohen_kappa(a: list[str], b: list[str]) -> float | None:
    """Cohen's kappa of two raters' labels on the same items: (p_o - p_e) / (1 - p_e), where p_e
    is the agreement expected from each rater's label shares alone. None when p_e is 1 (both
    raters always gave the same one label), where kappa is undefined."""
    if len(a) != len(b):
        raise ValueError(f"kappa: {len(a)} labels against {len(b)}; rate the same items")
    n = len(a)
    if not n:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    share_a, share_b = Counter(a), Counter(b)
    expected = sum(share_a[label] * share_b[label] for label in share_a) / (n * n)
    if expected >= 1:
        return None
    return round((observed - expected) / (1 - expected), 4)


def votes_needed(votes: int) -> int:
    """People's votes still needed before an agreement is read against the line (MIN_VOTES)."""
    return max(0, MIN_VOTES - votes)


def agreement(people: list[str], judge: list[str]) -> dict:
    """How often a judge (or the jury) decided a people's vote the way people did, and kappa.

    ``people`` holds "first"/"second" per vote; ``judge`` its outcome on the same vote. A judge's
    tie disagrees with a person's choice; its "none" leaves the vote out of both figures (and is
    counted). ``reaches`` is True or False only once the Wilson interval lies wholly on one side
    of TARGET, else None (undecided)."""
    pairs = [(p, j) for p, j in zip(people, judge, strict=True) if j != "none"]
    agree = sum(p == j for p, j in pairs)
    n = len(pairs)
    share = round(agree / n, 4) if n else None
    interval = wilson(agree, n)
    reaches = None
    if interval and interval[0] >= TARGET:
        reaches = True
    elif interval and interval[1] < TARGET:
        reaches = False
    return {
        "votes": len(people),
        "judged": n,
        "no_verdict": len(people) - n,
        "agree": agree,
        "agreement": share,
        "agreement_ci": interval,
        "kappa": cohen_kappa([p for p, _ in pairs], [j for _, j in pairs]),
        "reaches_target": reaches,
    }
