"""A chat turn computes only what its conversation added since that person's last turn.

Every turn sends the whole conversation again (the chat template renders the history), so
without this a column's prompt pass grows with each turn: on this two-core CPU the PyTorch pass
reads ~200 prompt tokens a second, so the third turn of a conversation waits about a second
before its first token, per column. Here the KV cache a column's turn leaves (its prompt and its
reply) is kept per person and source; that person's next turn on that source keeps the cache up to
the longest run of token ids it shares with the new prompt and computes only the rest, as
llama.cpp's server does with its prompt cache. The next turn's time to first token is then the
new message's, however long the conversation.

A cache is reused only by the person whose turn made it: a shorter first token would tell anyone
else how another person's conversation began. The last prompt token is always computed again:
its scores pick the reply's first token. The reused prefix holds the keys and values the earlier
turn computed (its reply's one token at a time), so a reply can differ from a from-scratch pass in
the last digits of its scores (tests/test_prefix_cache.py: greedy replies are the same).

    caches = PrefixCaches()
    cache, start = caches.take(owner, key, ids)   # (None, 0): nothing to reuse
    ...                                           # compute ids[start:] on top of the cache
    caches.put(owner, key, ids_in_the_cache, cache)
"""

from __future__ import annotations

import threading
from collections import OrderedDict

KEEP = 8  # (person, source) caches kept; the least recently used go first
BUDGET = 256 * 2**20  # bytes of keys and values kept in all (SmolLM2-135M in fp16: ~11,000 tokens)


def shared_prefix(kept, ids) -> int:
    """How many leading token ids the two sequences have in common."""
    n = 0
    for a, b in zip(kept, ids, strict=False):
        if int(a) != int(b):
            break
        n += 1
    return n


def reusable(kept, ids) -> int:
    """Leading tokens of ``ids`` whose keys and values ``kept`` already holds, leaving at least
    the last prompt token to compute (its scores pick the first new token)."""
    return min(shared_prefix(kept, ids), len(ids) - 1)


def cache_bytes(cache) -> int:
    """Bytes of a transformers cache's key and value tensors."""
    tensors = [getattr(layer, name, None) for layer in getattr(cache, "layers", []) for name in ("keys", "values")]
    return sum(t.numel() * t.element_size() for t in tensors if hasattr(t, "element_size"))


class PrefixCaches:
    """The last turn's KV cache (transformers' DynamicCache) of each (person, source)."""

    def __init__(self, keep: int = KEEP, budget: int = BUDGET):
        self.keep, self.budget = keep, budget
        self._entries: OrderedDict = OrderedDict()  # (owner, key) -> (token ids in the cache, cache)
        self._lock = threading.Lock()

    def take(self, owner: str, key, ids: list[int]):
        """(cache cropped to the reusable prefix, its length) for a turn of ``owner`` on ``key``;
        (None, 0) when there is nothing to reuse. The cache leaves the store: a second column on
        the same source in the same turn computes its own."""
        with self._lock:
            entry = self._entries.pop((owner, key), None)
        if entry is None:
            return None, 0
        kept, cache = entry
        start = reusable(kept, ids)
        if start <= 0 or not getattr(cache, "is_croppable", True):
            return None, 0
        cache.crop(start - cache.get_seq_length())  # transformers: a negative count of tokens to drop
        return cache, start

    def put(self, owner: str, key, ids: list[int], cache) -> None:
        """Keep ``cache`` (holding the keys and values of ``ids``) for ``owner``'s next turn on ``key``."""
        if cache is None or cache.get_seq_length() != len(ids):
            return
        with self._lock:
            self._entries[(owner, key)] = (list(ids), cache)
            self._entries.move_to_end((owner, key))
            while len(self._entries) > self.keep or self.nbytes() > self.budget:
                self._entries.popitem(last=False)

    def nbytes(self) -> int:
        """Bytes of the keys and values kept."""
        return sum(cache_bytes(cache) for _, cache in list(self._entries.values()))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
