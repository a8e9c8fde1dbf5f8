"""A llama.cpp context continues a person's last turn: its cache after the shared prefix is dropped.

    if kept and drop_after(llm, kept):
        llm.n_tokens = kept          # the context holds the first ``kept`` tokens; evaluate the rest

llama-cpp-python keeps no public call for this; its own prefix reuse (``Llama.generate``) drops the
tail through the context's ``kv_cache_seq_rm``. studio.patches' table holds the versions this
is proven on; elsewhere the turn starts from an empty context.
"""

from __future__ import annotations

from studio.patches import enabled


def drop_after(llm, kept: int) -> bool:
    """Drop the context's keys and values after its first ``kept`` tokens, as llama-cpp-python's
    own prefix reuse does (its context's ``kv_cache_seq_rm``); False where it cannot (a recurrent
    model, another version): the turn then starts from an empty context."""
    if not enabled("llamacpp_prefix"):
        return False
    drop = getattr(getattr(llm, "_ctx", None), "kv_cache_seq_rm", None)
    return bool(drop and drop(-1, kept, -1))
