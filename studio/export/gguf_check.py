"""Is a written GGUF the merged model? Read it back with an independent reader and compare.

    figures = check(merged_dir, "out/run-q8_0.gguf", "q8_0", prompts_for(run))

The reader is transformers' GGUF loader (``from_pretrained(folder, gguf_file=name)``), which
parses the metadata, rebuilds the tokenizer and dequantizes every tensor to fp32 with no studio
code in between. On each prompt (the run's probe and a few held-out questions) both models score
the same token ids and answer greedily with their own tokenizer. The file fails, with the figures
in the message, when:

- the tokenizer read back lost the chat template, the end-of-turn token (GGUF ``eot_token_id``) or
  the end-of-sequence token, or tokenizes a prompt differently;
- the next-token distribution drifts from the merged model's by more than ``TOLERANCES[type]``
  (KL divergence in nats, the measure llama.cpp's own quantization reports use; the largest logit
  difference is reported beside it);
- the most likely next token differs on more than half of the prompts;
- for the unquantized types (f32, f16), a greedy answer differs.

Quantized types whose greedy answers drift apart after a few tokens pass with a warning saying how many.
"""

from __future__ import annotations

import logging
from pathlib import Path

import gguf
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from studio.config.choices import GGUF_TYPES
from studio.data.render import end_of_turn_token
from studio.evaluate.pipeline import held_out_prompts
from studio.export import verify
from studio.runs.directory import Run

log = logging.getLogger(__name__)

# The largest KL(merged || GGUF) of the next-token distribution allowed per type, in nats, and the
# types whose greedy answers must match: columns of the one GGUF table (studio.config.choices).
TOLERANCES = {name: t.tolerance for name, t in GGUF_TYPES.items()}
EXACT = {name for name, t in GGUF_TYPES.items() if t.exact}
PROMPTS = 4


class GGUFCheckError(ValueError):
    """The GGUF file does not read back as the merged model; it was not kept."""


def prompts_for(run: Run, n: int = PROMPTS) -> list[list[dict]]:
    """The run's probe prompt and its first held-out questions, as one-turn conversations."""

    try:
        held = held_out_prompts(run, n=n)
    except (ValueError, OSError):
        held = []
    texts = list(dict.fromkeys([verify.probe_messages(run)[-1]["content"], *held]))[:n]
    return [[{"role": "user", "content": text}] for text in texts]


def load_gguf(path: str | Path):
    """(model, tokenizer) as transformers reads the file, dequantized to fp32."""
    path = Path(path)
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    return model.eval(), tokenizer


def gguf_metadata(path: str | Path, keys: tuple[str, ...]) -> dict:
    """Scalar and string metadata fields of a GGUF file, read with the gguf package."""
    reader = gguf.GGUFReader(str(path))
    return {key: reader.fields[key].contents() for key in keys if key in reader.fields}


def tokenizer_problems(reference, read_back, path: str | Path) -> list[str]:
    """What a user of the file would lose: the template, the end-of-turn and end-of-sequence tokens."""

    problems = []
    if read_back.chat_template != reference.chat_template:
        problems.append("the chat template read back differs from the model's")
    end = end_of_turn_token(reference)
    eot_id = gguf_metadata(path, ("tokenizer.ggml.eot_token_id",)).get("tokenizer.ggml.eot_token_id")
    if eot_id is None or read_back.convert_ids_to_tokens(int(eot_id)) != end:
        problems.append(f"the end-of-turn token {end!r} is not the file's eot_token_id ({eot_id})")
    elif read_back(end, add_special_tokens=False)["input_ids"] != [int(eot_id)]:
        problems.append(f"the end-of-turn token {end!r} is not read back as one special token")
    if read_back.eos_token != reference.eos_token:
        problems.append(f"the end-of-sequence token is {read_back.eos_token!r}, not {reference.eos_token!r}")
    return problems


def _compare(reference, ref_tok, model, tok, messages: list[dict]) -> dict:
    ids = verify.prompt_ids(ref_tok, messages)
    # A file that lost its template is already failed (tokenizer_problems); its figures still count.
    tok = tok if tok.chat_template else ref_tok
    with torch.inference_mode():
        want = reference(input_ids=ids).logits[0, -1].float()
        got = model(input_ids=ids).logits[0, -1].float()
    diff = float((want - got).abs().max())
    kl = torch.nn.functional.kl_div(got.log_softmax(-1), want.log_softmax(-1), log_target=True, reduction="sum")
    return {
        "prompt": messages[-1]["content"],
        "same_token_ids": verify.prompt_ids(tok, messages).tolist() == ids.tolist(),
        "max_logit_diff": diff,
        "relative_diff": diff / max(float(want.std()), 1e-12),
        "kl": max(float(kl), 0.0),
        "same_next_token": int(want.argmax()) == int(got.argmax()),
        "reference_answer": verify.greedy_answer(reference, ref_tok, messages),
        "gguf_answer": verify.greedy_answer(model, tok, messages),
    }


def check(reference_dir: str | Path, path: str | Path, gguf_type: str, conversations: list[list[dict]]) -> dict:
    """Figures of the comparison; ``GGUFCheckError`` (with them) when the file fails."""
    reference, ref_tok = verify.load_plain(reference_dir, "fp32")
    model, tok = load_gguf(path)
    try:
        problems = tokenizer_problems(ref_tok, tok, path)
        rows = [_compare(reference, ref_tok, model, tok, messages) for messages in conversations]
    finally:
        del reference, model
    same = sum(r["reference_answer"] == r["gguf_answer"] for r in rows)
    figures = {
        "reader": "transformers (from_pretrained gguf_file=..., dequantized to fp32)",
        "prompts": len(rows),
        "max_logit_diff": max(r["max_logit_diff"] for r in rows),
        "relative_diff": max(r["relative_diff"] for r in rows),
        "kl": max(r["kl"] for r in rows),
        "tolerance": TOLERANCES[gguf_type],
        "greedy_agreement": f"{same}/{len(rows)}",
        "next_token_agreement": f"{sum(r['same_next_token'] for r in rows)}/{len(rows)}",
        "rows": rows,
        "warnings": [],
    }
    problems += [f"the prompt {r['prompt']!r} tokenizes differently" for r in rows if not r["same_token_ids"]]
    if figures["kl"] > TOLERANCES[gguf_type]:
        problems.append(
            f"the next-token distribution drifts by KL {figures['kl']:.3g} nats "
            f"(tolerance {TOLERANCES[gguf_type]:g} for {gguf_type})"
        )
    if 2 * sum(r["same_next_token"] for r in rows) < len(rows):
        problems.append("the most likely next token differs on most prompts")
    if same < len(rows):
        message = f"{len(rows) - same} of {len(rows)} greedy answers differ from the merged model's"
        (problems if gguf_type in EXACT else figures["warnings"]).append(message)
    if problems:
        raise GGUFCheckError(f"{Path(path).name} failed its check: " + "; ".join(problems) + _summary(figures))
    return figures


def _summary(figures: dict) -> str:
    return (
        f" (max logit difference {figures['max_logit_diff']:.4g}, greedy agreement {figures['greedy_agreement']}, "
        f"next-token agreement {figures['next_token_agreement']}); the file was not kept"
    )
