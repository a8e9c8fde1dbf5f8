"""An Ollama ``Modelfile`` beside an exported GGUF, so ``ollama create`` needs nothing else.

    cd exports/gguf && ollama create tuned -f Modelfile && ollama run tuned

It names the file (FROM), the prompt format (TEMPLATE, in Ollama's Go-template form), the chat
template's default system prompt (SYSTEM), the end-of-turn token as a stop (PARAMETER stop, so
answers end where the model was trained to end them; the family's own end of turn too, from
studio.models.families, when the vocabulary has it) and the sampling chosen in the Chat tab.
The Go template is written only for ChatML-style templates, and only after the model's own
Jinja template has been rendered and found to frame each turn exactly as ChatML does; for any
other template the TEMPLATE line is left out and Ollama falls back on the template inside the GGUF.
"""

from __future__ import annotations

from pathlib import Path

from transformers import AutoConfig, AutoTokenizer

from studio.chat.sampling import Sampling
from studio.data.render import end_of_turn_token
from studio.models.families import family_of

CHATML_TEMPLATE = """{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""


def chatml_turn(role: str, content: str) -> str:
    return f"<|im_start|>{role}\n{content}<|im_end|>\n"


def default_system(tokenizer) -> str | None:
    """The system prompt the chat template adds when the conversation has none (SmolLM2 has one)."""
    plain = tokenizer.apply_chat_template([{"role": "user", "content": "u"}], tokenize=False)
    head = "<|im_start|>system\n"
    if plain.startswith(head):
        return plain[len(head) :].split("<|im_end|>", 1)[0]
    return None


def is_chatml(tokenizer) -> bool:
    """The template frames system, user and assistant turns (and the reply prompt) exactly as ChatML."""
    if "<|im_start|>" not in (tokenizer.chat_template or ""):
        return False
    messages = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "U"},
        {"role": "assistant", "content": "A"},
        {"role": "user", "content": "V"},
    ]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    expected = "".join(chatml_turn(m["role"], m["content"]) for m in messages) + "<|im_start|>assistant\n"
    return rendered == expected


def modelfile_text(gguf_name: str, tokenizer, sampling=None, model_type: str = "") -> str:

    s = sampling or Sampling()
    lines = [f"FROM ./{gguf_name}", ""]
    if is_chatml(tokenizer):
        lines += [f'TEMPLATE """{CHATML_TEMPLATE}"""', ""]
        system = default_system(tokenizer)
        if system:
            lines += [f'SYSTEM """{system}"""', ""]
    else:
        lines += ["# No TEMPLATE: Ollama uses the chat template stored in the GGUF file.", ""]
    end = end_of_turn_token(tokenizer)
    family = family_of(model_type)
    own = family.end_of_turn if family and family.end_of_turn in tokenizer.get_vocab() else None
    stops = dict.fromkeys(t for t in (end, own, tokenizer.eos_token) if t)
    lines += [f'PARAMETER stop "{token}"' for token in stops]
    lines += [
        f"PARAMETER temperature {0 if s.greedy else s.temperature:g}",
        f"PARAMETER top_p {s.top_p:g}",
        f"PARAMETER top_k {s.top_k}",
        f"PARAMETER repeat_penalty {s.repetition_penalty:g}",
        f"PARAMETER num_predict {s.max_new_tokens}",
    ]
    if s.seed:
        lines.append(f"PARAMETER seed {s.seed}")
    return "\n".join(lines) + "\n"


def write_modelfile(path: str | Path, gguf_name: str, model_dir: str | Path, sampling=None) -> Path:
    path = Path(path)
    model_type = AutoConfig.from_pretrained(model_dir).model_type
    path.write_text(modelfile_text(gguf_name, AutoTokenizer.from_pretrained(model_dir), sampling, model_type))
    return path
