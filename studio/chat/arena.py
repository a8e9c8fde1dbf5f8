"""Arena: votes on side-by-side answers become a preference dataset for DPO.

    record_vote(path, conversation, [("base", "Paris."), ("run-x", "Arr, Paris!")], winner=1)
    # appends {"prompt": [...], "chosen": "Arr, Paris!", "rejected": "Paris.", ...} to path

Each line is one pair in the preference format ``studio.data`` reads (prompt as a message list,
chosen and rejected as answers), so the file goes straight into the Data and Train tabs for a
DPO run: ``python -m studio train configs/quick_dpo.yaml --dataset <runs>/arena/preferences.jsonl``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

from studio.runs.directory import runs_root

_lock = threading.Lock()


def arena_path(root: str | Path | None = None) -> Path:
    """Where votes accumulate: beside the runs, so they persist where runs persist."""
    return Path(root or runs_root()) / "arena" / "preferences.jsonl"


def _pair_id(prompt: list[dict], chosen: str, rejected: str) -> str:
    blob = json.dumps([prompt, chosen, rejected], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _known_ids(path: Path) -> set[str]:
    ids = set()
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                ids.add(json.loads(line).get("pair_id", ""))
            except json.JSONDecodeError:
                continue
    return ids


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
    with _lock:
        known = _known_ids(path)
        fresh = [p for p in pairs if p["pair_id"] not in known]
        if fresh:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                for pair in fresh:
                    fh.write(json.dumps(pair, ensure_ascii=False) + "\n")
    return len(fresh)


def count_pairs(path: str | Path) -> int:
    path = Path(path)
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
