"""Arena: votes on side-by-side answers become a preference dataset for DPO (and ORPO, a reward
model) and an unpaired one for KTO.

    record_vote(path, conversation, [("base", "Paris."), ("run-x", "Arr, Paris!")], winner=1)
    # appends {"prompt": [...], "chosen": "Arr, Paris!", "rejected": "Paris.", ...} to path

Each line is one pair in the preference format ``studio.data`` reads (prompt as a message list,
chosen and rejected as answers), so the file goes straight into the Data and Train tabs for a
DPO run: ``python -m studio train configs/quick_dpo.yaml --dataset <runs>/arena/preferences.jsonl``.
Beside it, ``kto.jsonl`` holds each voted answer once as a KTO row (the conversation with the
answer, label true for the winner, false for the others) for ``--method kto``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

from studio.paths import runs_root

_lock = threading.Lock()


def arena_path(root: str | Path | None = None) -> Path:
    """Where votes accumulate: beside the runs, so they persist where runs persist."""
    return Path(root or runs_root()) / "arena" / "preferences.jsonl"


def kto_path(root: str | Path | None = None) -> Path:
    """The same votes as unpaired KTO rows."""
    return arena_path(root).with_name("kto.jsonl")


def _pair_id(prompt: list[dict], chosen: str, rejected: str) -> str:
    blob = json.dumps([prompt, chosen, rejected], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _known_ids(path: Path, key: str = "pair_id") -> set[str]:
    ids = set()
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                ids.add(json.loads(line).get(key, ""))
            except json.JSONDecodeError:
                continue
    return ids


def _kto_rows(prompt: list[dict], answers: list[tuple[str, str, bool]], extra: dict) -> list[dict]:
    """(model label, answer, good) -> KTO rows: the conversation ending with the answer, and its label."""
    return [
        {
            "messages": [*prompt, {"role": "assistant", "content": text}],
            "label": good,
            "model": label,
            "row_id": _pair_id(prompt, text, str(good)),
            **extra,
        }
        for label, text, good in answers
    ]


def _append(path: Path, rows: list[dict], key: str) -> list[dict]:
    """Append the rows whose ``key`` the file does not hold yet; returns them."""
    known = _known_ids(path, key)
    fresh = [r for r in rows if r[key] not in known]
    if fresh:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            for row in fresh:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return fresh


def record_vote(
    path: str | Path,
    prompt: list[dict],
    answers: list[tuple[str, str]],
    winner: int,
    extra: dict | None = None,
) -> int:
    """Append one pair per losing answer (winner vs each other column); returns pairs written.

    ``prompt`` is the conversation the winner answered, ending with the user's turn;
    ``answers`` are (model label, reply) per column. Identical answers and a vote already
    recorded are skipped.
    """
    if not prompt or prompt[-1].get("role") != "user":
        raise ValueError("vote: there is no answered user turn yet; send a message first")
    if not 0 <= winner < len(answers):
        raise ValueError(f"vote: column {winner + 1} does not exist; there are {len(answers)} columns")
    chosen_label, chosen = answers[winner]
    if not chosen.strip():
        raise ValueError(f"vote: {chosen_label} gave an empty answer; it cannot be the better one")
    path = Path(path)
    pairs = []
    for i, (label, text) in enumerate(answers):
        if i == winner or not text.strip() or text.strip() == chosen.strip():
            continue
        pairs.append(
            {
                "prompt": prompt,
                "chosen": chosen,
                "rejected": text,
                "chosen_model": chosen_label,
                "rejected_model": label,
                "pair_id": _pair_id(prompt, chosen, text),
                "voted": time.strftime("%Y-%m-%dT%H:%M:%S"),
                **(extra or {}),
            }
        )
    if not pairs:
        raise ValueError("vote: the other answers are empty or identical to this one; there is nothing to prefer")
    voted = [(chosen_label, chosen, True)] + [(p["rejected_model"], p["rejected"], False) for p in pairs]
    with _lock:
        fresh = _append(path, pairs, "pair_id")
        if fresh:
            stamp = {"voted": pairs[0]["voted"], **(extra or {})}
            _append(path.with_name("kto.jsonl"), _kto_rows(prompt, voted, stamp), "row_id")
    return len(fresh)


def count_pairs(path: str | Path) -> int:
    path = Path(path)
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
