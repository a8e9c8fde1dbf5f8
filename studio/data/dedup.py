"""Exact duplicates by a normalised hash; near duplicates by MinHash/LSH (datasketch).

    from studio.data.dedup import exact_duplicates, near_duplicates, benchmark
    exact_duplicates(["Hi  there", "hi there"])       # {1: 0}: text 1 repeats text 0
    near_duplicates(texts, threshold=0.8)             # {i: (j, estimated Jaccard)}, j < i kept
    benchmark(100_000)["rows_per_s"]                  # python -c "from studio.data.dedup import ..."

A text's set is its character 5-grams (of its UTF-8 bytes, after case, punctuation and spacing
are normalised), which suits short rows where word n-grams are too few. Signatures are
computed for all texts at once with numpy, exactly as datasketch's ``MinHash`` (scheme
"affine32") computes them one shingle at a time with ``shingle_hash`` (a test checks that they
agree); candidates come from datasketch's ``MinHashLSH`` and are kept only when the estimated
Jaccard reaches the threshold. The first text of a group is kept.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re
import time
import unicodedata

import numpy as np

from studio.data.rowtext import content_text, row_text

NUM_PERM = 128
SHINGLE = 5  # bytes; at most 8 (a shingle is packed into 64 bits)
SEED = 1
CHUNK = 20_000  # texts per block of signature computation (bounds memory)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_PUNCT = re.compile(r"[^\w\s]+")


def normalize(text: str) -> str:
    """Unicode-normalised, case-folded, with runs of whitespace made one space."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def exact_duplicates(texts: list[str]) -> dict[int, int]:
    """{index: index of the first text with the same normalised form}."""
    first: dict[bytes, int] = {}
    found = {}
    for i, text in enumerate(texts):
        key = hashlib.blake2b(normalize(text).encode(), digest_size=16).digest()
        j = first.setdefault(key, i)
        if j != i:
            found[i] = j
    return found


def _near_form(text: str) -> bytes:
    return " ".join(_PUNCT.sub(" ", normalize(text)).split()).encode().ljust(SHINGLE)


def shingles(text: str) -> list[bytes]:
    """The byte 5-grams of a text's normalised form (one padded shingle for a shorter text)."""
    data = _near_form(text)
    return [data[i : i + SHINGLE] for i in range(len(data) - SHINGLE + 1)]


def shingle_hash(shingle: bytes) -> int:
    """The 32-bit hash of one shingle: its bytes as an integer, times the golden ratio, high half."""
    return ((int.from_bytes(shingle, "big") * int(_GOLDEN)) % 2**64) >> 32


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's finaliser, as datasketch applies it before its permutations."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _shingle_hashes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every shingle of every text, and where each text's run of hashes starts."""
    data = [_near_form(t) for t in texts]
    lengths = np.fromiter(map(len, data), dtype=np.int64, count=len(data))
    buf = np.frombuffer(b"".join(data), dtype=np.uint8).astype(np.uint64)
    packed = np.zeros(len(buf) - SHINGLE + 1, dtype=np.uint64)
    for j in range(SHINGLE):  # big-endian: the first byte is the most significant
        packed = (packed << np.uint64(8)) | buf[j : len(buf) - SHINGLE + 1 + j]
    hashes = ((packed * _GOLDEN) >> np.uint64(32)).astype(np.uint32)
    # Windows that start in the last SHINGLE-1 bytes of a text run into the next one: drop them.
    ends = np.cumsum(lengths)
    valid = np.ones(len(packed), dtype=bool)
    crossing = (ends[:, None] - np.arange(1, SHINGLE)[None, :]).ravel()
    valid[crossing[crossing < len(valid)]] = False
    counts = lengths - SHINGLE + 1
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return hashes[valid], starts


def signatures(texts: list[str], num_perm: int = NUM_PERM, seed: int = SEED) -> np.ndarray:
    """(len(texts), num_perm) MinHash values, equal to datasketch's with ``hashfunc=shingle_hash``."""
    # lazy: cli-startup - datasketch loads scipy (seconds); python -m studio --help builds the
    # data command's flags from this package
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed).permutations
    out = np.empty((len(texts), num_perm), dtype=np.uint32)
    for lo in range(0, len(texts), CHUNK):
        hashes, starts = _shingle_hashes(texts[lo : lo + CHUNK])
        hashes = _fmix32(hashes)
        block = out[lo : lo + CHUNK]
        for p in range(num_perm):
            block[:, p] = np.minimum.reduceat(hashes * a[p] + b[p], starts)
    return out


def near_duplicates(
    texts: list[str], threshold: float = 0.8, num_perm: int = NUM_PERM, seed: int = SEED
) -> dict[int, tuple[int, float]]:
    """{index: (earlier kept index, estimated Jaccard)} for texts whose 5-gram sets overlap enough."""
    from datasketch import LeanMinHash, MinHashLSH  # lazy: cli-startup - scipy, as above

    if not 0 < threshold <= 1:
        raise ValueError(f"near_threshold: {threshold} should be between 0 and 1 (e.g. 0.8)")
    sigs = signatures(texts, num_perm, seed)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    found = {}
    for i in range(len(texts)):
        sketch = LeanMinHash(seed=seed, hashvalues=sigs[i], scheme="affine32")
        best = None
        for j in lsh.query(sketch):
            similarity = np.count_nonzero(sigs[i] == sigs[j]) / num_perm
            if similarity >= threshold and (best is None or (similarity, -j) > (best[1], -best[0])):
                best = (j, similarity)
        if best is None:
            lsh.insert(i, sketch, check_duplication=False)
        else:
            found[i] = (best[0], round(float(best[1]), 3))
    return found


def dedup_rows(rows: list[dict], methods: tuple[str, ...] = ("exact", "near"), threshold: float = 0.8) -> dict:
    """{"exact": {i: j}, "near": {i: (j, jaccard)}} over canonical rows, as the cleaning step runs it."""
    out: dict = {"exact": {}, "near": {}}
    alive = list(range(len(rows)))
    if "exact" in methods:
        out["exact"] = exact_duplicates([row_text(r) for r in rows])
        alive = [i for i in alive if i not in out["exact"]]
    if "near" in methods:
        found = near_duplicates([content_text(rows[i]) for i in alive], threshold)
        out["near"] = {alive[k]: (alive[j], s) for k, (j, s) in found.items()}
    return out


def synthetic_rows(n_rows: int, seed: int = 0) -> tuple[list[dict], set[int], set[int]]:
    """Short chat rows (about 30-60 words), 10% exact copies re-cased, 10% copies with one word changed."""
    rng = random.Random(seed)
    syllables = [c + v for c in "bdfghklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
    vocab = ["".join(rng.choices(syllables, k=rng.randint(1, 3))) for _ in range(5000)]
    cum_weights = list(itertools.accumulate(1 / (r + 1) for r in range(len(vocab))))  # Zipf-like, as words are

    def sentence(lo, hi):
        return " ".join(rng.choices(vocab, cum_weights=cum_weights, k=rng.randint(lo, hi)))

    rows, exact, near = [], set(), set()
    for i in range(n_rows):
        roll = rng.random()
        if rows and roll < 0.1:
            user, answer = (m["content"] for m in rng.choice(rows)["messages"])
            user, answer = user.upper(), "  " + answer
            exact.add(i)
        elif rows and roll < 0.2:
            user, answer = (m["content"] for m in rng.choice(rows)["messages"])
            words = answer.split()
            words[rng.randrange(len(words))] = rng.choice(vocab)
            answer = " ".join(words)
            near.add(i)
        else:
            user, answer = sentence(10, 20) + "?", sentence(20, 40) + "."
        rows.append({"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]})
    return rows, exact, near


def benchmark(n_rows: int = 100_000, threshold: float = 0.8, seed: int = 0) -> dict:
    """Exact + near-duplicate removal over ``n_rows`` synthetic short rows; rows_per_s is the figure."""
    rows, exact, near = synthetic_rows(n_rows, seed)
    start = time.perf_counter()
    found = dedup_rows(rows, ("exact", "near"), threshold)
    seconds = time.perf_counter() - start
    removed_near = set(found["near"])
    # A planted near copy may repeat a row that was itself a planted copy; either way it is found.
    return {
        "rows": n_rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(n_rows / seconds),
        "exact_removed": len(found["exact"]),
        "near_removed": len(removed_near),
        "planted_exact": len(exact),
        "planted_near": len(near),
        "near_recall": round(len(removed_near & near) / max(1, len(near)), 3),
        "threshold": threshold,
        "num_perm": NUM_PERM,
    }
