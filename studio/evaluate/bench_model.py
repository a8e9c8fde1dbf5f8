"""The harness's HF model over the studio's model object, with progress, an ETA and a cooperative stop.

    watch = RequestWatch(stop_event, lambda done, total, kind: ...)
    lm = StudioLM(engine.use(key), engine.tokenizer, watch, batch_size=8)
    lm_eval.simple_evaluate(lm, tasks=[...])      # the harness scores; the watch counts and may stop it

``StudioLM`` is lm-eval's ``HFLM`` given the model the chat engine already holds (the base, or the
base with the run's adapter switched in), so a benchmark loads nothing twice and scores exactly
the weights chat answers with. The harness reports each answered request to its cache hook
(``LM.set_cache_hook``; caching itself stays off): the watch counts them there, which is per
request even where the harness shares one forward pass between the choices of a question, and
raises :class:`Stopped` there when Stop was pressed, so a stop takes effect after the batch under
way. Each request kind (log-likelihood, generation) announces its count first, in
``loglikelihood`` / ``generate_until``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from lm_eval.api.model import CacheHook
from lm_eval.models.huggingface import HFLM

# The harness warns whenever it is handed a model object rather than a name; that is what the studio means.
HANDED_A_MODEL = ("`pretrained` model kwarg is not of type `str`", "Passed an already-initialized model")


def _not_handed_a_model(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(HANDED_A_MODEL)


Counter = Callable[[int, int, str], None]  # (requests done, requests announced, request kind)


class Stopped(Exception):  # noqa: N818 - a stop is asked for, not an error
    """Stop was pressed: the benchmark ends after the batch under way."""


class RequestWatch(CacheHook):
    """Counts the harness's answered requests and stops it cooperatively."""

    def __init__(self, stop: threading.Event | None = None, counter: Counter | None = None):
        super().__init__(None)  # no cache database: nothing is stored
        self.stop = stop or threading.Event()
        self.counter = counter or (lambda done, total, kind: None)
        self.done = 0
        self.total = 0
        self.kind = ""

    def announce(self, count: int, kind: str) -> None:
        self.check()
        self.total += count
        self.kind = kind
        self.counter(self.done, self.total, kind)

    def check(self) -> None:
        if self.stop.is_set():
            raise Stopped

    def add_partial(self, attr, req, res) -> None:
        self.done += 1
        self.counter(self.done, self.total, self.kind)
        self.check()


class StudioLM(HFLM):
    """HFLM over an already loaded model and tokenizer, reporting to a :class:`RequestWatch`."""

    def __init__(self, model, tokenizer, watch: RequestWatch, batch_size: int = 8, max_length: int | None = None):
        logging.getLogger("lm_eval.models.huggingface").addFilter(_not_handed_a_model)  # once: a set
        super().__init__(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, max_length=max_length)
        self.watch = watch
        self.set_cache_hook(watch)

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        self.watch.announce(len(requests), "log-likelihood")
        return super().loglikelihood(requests, disable_tqdm=True)

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        self.watch.announce(len(requests), "rolling log-likelihood")
        return super().loglikelihood_rolling(requests, disable_tqdm=True)

    def generate_until(self, requests, disable_tqdm: bool = False):
        self.watch.announce(len(requests), "generation")
        return super().generate_until(requests, disable_tqdm=True)

    def get_model_info(self) -> dict:
        """The harness asks the Hub for the model's commit; the studio's model object has none to ask for."""
        model = self.model
        return {
            "model_num_parameters": sum(p.numel() for p in model.parameters()),
            "model_dtype": str(model.dtype),
        }
