"""The Chat tab's door: side-by-side replies, the sampling window, arena votes, batch compare.

A part of :class:`studio.services.Studio` (the UI's one door); ``self`` is that object.
"""

from __future__ import annotations

from pathlib import Path

from studio.chat.arena import arena_path, record_vote
from studio.chat.compare import compare_prompts
from studio.chat.sampling import Sampling, distribution_figure
from studio.chat.sources import base_of
from studio.runs.owners import LOCAL


class ChatDoor:
    # -- chat ------------------------------------------------------------------------------------
    def chat_stream(self, messages: list[dict], sources: list[str | None], sampling: Sampling, user: str | None = None):
        """Replies side by side, the adapters' own base beside them; ``messages``: one conversation,
        or one per column. ``user``'s next turn continues from this one's (studio.chat.prefix_cache)."""
        sources = self._sources(sources, user)
        base = base_of(sources)
        if base:
            self.chat.ensure_base(base)
        yield from self.chat.stream(messages, sources, sampling, owner=user or LOCAL)

    # -- playground and evaluation (studio.chat.sampling, arena, compare, evaluate) ----------------------
    def next_token_figure(self, messages: list, sources: list, labels: list[str], sampling: Sampling, user=None):
        """The sampling window: each source's candidates for its reply's first token."""
        sources = self._sources(sources, user)
        base = base_of(sources)
        if base:
            self.chat.ensure_base(base)
        return distribution_figure(self.chat.distributions(messages, sources, sampling, labels), sampling)

    @property
    def arena_path(self) -> Path:
        return arena_path(self.runs_root)

    def vote(self, prompt: list[dict], answers: list[tuple[str, str]], winner: int, extra: dict | None = None) -> int:
        return record_vote(self.arena_path, prompt, answers, winner, extra)

    def compare(self, prompts: list[str], adapter: str, sampling: Sampling, system: str = "", user=None) -> list[dict]:
        adapter = self._sources([adapter], user)[0]
        self.chat.ensure_base(base_of([adapter]))
        return compare_prompts(self.chat, prompts, adapter, sampling, system)

    def chat_memory(self) -> dict:
        """What the chat engine holds, and whether a training (with its own copy) runs beside it."""
        return {**self.chat.memory(), "training": self.jobs.active}

    def unload_models(self) -> int:
        return self.chat.unload()
