"""A person's next chat turn computes only what the conversation added (studio.chat.prefix_cache):
the same replies as a turn computed from its first token, and never another person's cache."""

from __future__ import annotations

import copy

import pytest
import torch

from studio.chat.engine import ChatEngine
from studio.chat.prefix_cache import PrefixCaches, cache_bytes, reusable, shared_prefix
from studio.chat.sampling import Sampling

FIRST = [{"role": "user", "content": "Who are you?"}]
GREEDY = Sampling(greedy=True, max_new_tokens=10)


def _second_turn(reply: str) -> list[dict]:
    return [*FIRST, {"role": "assistant", "content": reply}, {"role": "user", "content": "Say it again, shorter."}]


class _Fed:
    """Records how many tokens each prompt pass (the first call of a turn's column) feeds the model."""

    def __init__(self, model):
        self.lengths: list[int] = []
        self.handle = model.register_forward_pre_hook(self._record, with_kwargs=True)

    def _record(self, module, args, kwargs):
        ids = kwargs.get("input_ids")
        if ids is not None and ids.shape[-1] > 1:  # a decode step feeds one token
            self.lengths.append(int(ids.shape[-1]))

    def close(self):
        self.handle.remove()


@pytest.fixture
def engine(tiny_model_dir):
    engine = ChatEngine(str(tiny_model_dir), dtype="fp32", backend="torch")
    engine.ensure_base()
    return engine


def test_the_reusable_prefix_leaves_the_last_prompt_token_to_compute():
    assert shared_prefix([1, 2, 3, 9], [1, 2, 3, 4, 5]) == 3
    assert reusable([1, 2, 3, 9], [1, 2, 3, 4, 5]) == 3
    assert reusable([1, 2, 3, 4, 5, 6], [1, 2, 3]) == 2  # all of it cached: the last one again
    assert reusable([7], [1, 2]) == 0


def test_a_next_turn_computes_only_the_new_tokens_and_replies_as_from_scratch(engine, tiny_sft_run):
    sources = [None, str(tiny_sft_run.adapter_dir)]
    first = engine.replies(FIRST, sources, GREEDY, owner="ann")
    talks = [_second_turn(reply) for reply in first]
    fresh = ChatEngine(engine.base_name, dtype="fp32", backend="torch").replies(talks, sources, GREEDY)
    lengths = [engine.prompt_ids(t).shape[-1] for t in talks]
    fed = _Fed(engine.model)
    try:
        again = engine.replies(talks, sources, GREEDY, owner="ann")
    finally:
        fed.close()
    assert again == fresh  # base and adapter, each from its own cache
    assert len(fed.lengths) == 2 and all(n < length / 2 for n, length in zip(fed.lengths, lengths, strict=True))
    assert len(engine.prefixes) == 2


def test_the_next_turn_s_scores_equal_a_from_scratch_pass(engine):
    first = engine.replies(FIRST, [None], GREEDY, owner="ann")[0]
    prompt = engine.prompt_ids(_second_turn(first))
    key = engine.load_source(None)
    cache, kept = engine.prefixes.take("ann", key, prompt[0].tolist())
    assert 0 < kept < prompt.shape[-1]
    with torch.inference_mode():
        model = engine.use(key)
        continued = model(input_ids=prompt[:, kept:], past_key_values=cache, use_cache=True).logits[0, -1]
        scratch = model(input_ids=prompt).logits[0, -1]
    torch.testing.assert_close(continued, scratch, rtol=1e-4, atol=1e-4)


def test_another_person_never_continues_from_someone_else_s_turn(engine):
    engine.replies(FIRST, [None], GREEDY, owner="ann")
    fed = _Fed(engine.model)
    try:
        engine.replies(FIRST, [None], GREEDY, owner="bob")
        engine.replies(FIRST, [None], GREEDY)  # no owner: every prompt from its first token
        engine.replies(FIRST, [None], GREEDY, owner="ann")  # her own: all but the last prompt token reused
    finally:
        fed.close()
    full = engine.prompt_ids(FIRST).shape[-1]
    assert fed.lengths == [full, full]  # the one-token pass of ann's retry is a decode-sized step


def test_a_stopped_reply_still_leaves_its_cache_and_unload_drops_them(engine):
    stream = engine.stream(FIRST, [None], Sampling(greedy=True, max_new_tokens=10), owner="ann")
    next(stream), next(stream)
    stream.close()
    assert len(engine.prefixes) == 1
    (kept_ids, cache) = next(iter(engine.prefixes._entries.values()))
    assert cache.get_seq_length() == len(kept_ids) == engine.prompt_ids(FIRST).shape[-1] + 1
    engine.unload()
    assert len(engine.prefixes) == 0


def test_the_store_keeps_the_most_recent_and_refuses_a_cache_that_does_not_match_its_ids(engine):
    from transformers import DynamicCache

    caches = PrefixCaches(keep=2)
    prompt = engine.prompt_ids(FIRST)
    for owner in ("a", "b", "c"):
        cache = DynamicCache()
        with torch.inference_mode():
            engine.model(input_ids=prompt, past_key_values=cache, use_cache=True)
        caches.put(owner, ("base", None), prompt[0].tolist(), cache)
    assert len(caches) == 2 and caches.take("a", ("base", None), prompt[0].tolist()) == (None, 0)
    cache, kept = caches.take("c", ("base", None), prompt[0].tolist())
    assert kept == prompt.shape[-1] - 1 and cache.get_seq_length() == kept
    caches.put("d", ("base", None), [1, 2], cache)  # holds more tokens than it names
    assert caches.take("d", ("base", None), [1, 2, 3]) == (None, 0)
    one = cache_bytes(cache)
    assert one > 0
    caches = PrefixCaches(budget=one * 3 // 2)  # room for one cache of this size, not two
    caches.put("e", ("base", None), prompt[0].tolist()[:kept], cache)
    caches.put("f", ("base", None), prompt[0].tolist()[:kept], copy.deepcopy(cache))
    assert len(caches) == 1 and caches.nbytes() == one
    assert caches.take("e", ("base", None), prompt[0].tolist()) == (None, 0)  # the older one went
    assert caches.take("f", ("base", None), prompt[0].tolist())[1] == kept


def test_the_studio_keeps_each_person_s_turn_under_their_name(tiny_model_dir, tmp_path):
    from studio.runs.owners import LOCAL
    from studio.services import Studio

    studio = Studio(tmp_path / "runs")
    studio.chat = ChatEngine(str(tiny_model_dir), dtype="fp32", backend="torch")
    for user in ("ann", None):  # None: the operator at the command line, the local person
        *_, texts = studio.chat_stream(FIRST, [None], GREEDY, user)
        assert texts[0]
    assert {owner for owner, _ in studio.chat.prefixes._entries} == {"ann", LOCAL}
