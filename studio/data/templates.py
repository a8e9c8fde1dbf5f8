"""Chat templates of the supported families, written from each family's documented format.

    from studio.data.templates import TEMPLATES, use_template
    use_template(tokenizer, "llama3")     # a model without a template of its own gets the one chosen
    TEMPLATES["gemma"].end_of_turn        # "<end_of_turn>": where an assistant turn stops

A model folder normally carries its own template (``tokenizer.chat_template``), and the studio
trains with it. A base model often has none: the Train form's ``chat_template`` then asks which
one, instead of guessing, and these are the choices. studio.models.families names each family's.
tests/test_templates.py holds the training text and the assistant-only mask of each to the format.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    jinja: str
    end_of_turn: str  # the token that closes an assistant turn
    markers: tuple[str, ...]  # the special tokens the template writes (the tokenizer must know them)
    doc: str


_CHATML = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

# Qwen3: the reasoning of the turns after the last question is kept in <think> tags; earlier
# turns keep only their answer; a generation prompt with enable_thinking=false closes an empty block.
_QWEN3 = (
    "{%- set ns = namespace(last_user=-1) %}"
    "{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.last_user = loop.index0 %}"
    "{%- endif %}{%- endfor %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{%- set content = message['content'] %}{%- set reasoning = '' %}"
    "{%- if '</think>' in content %}"
    "{%- set reasoning = content.split('</think>')[0].split('<think>')[-1].strip('\\n') %}"
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') %}"
    "{%- endif %}"
    "{%- if loop.index0 > ns.last_user %}"
    "{{- '<|im_start|>assistant\\n<think>\\n' + reasoning + '\\n</think>\\n\\n' + content + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>assistant\\n' + content + '<|im_end|>\\n' }}{%- endif %}"
    "{%- else %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endif %}"
)

_LLAMA3 = (
    "{{- '<|begin_of_text|>' }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim"
    " + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)

# Gemma has no system role: the system prompt opens the first user turn; the assistant is "model".
_GEMMA = (
    "{{- '<bos>' }}"
    "{%- if messages[0]['role'] == 'system' %}{%- set first = messages[0]['content'] + '\\n\\n' %}"
    "{%- set turns = messages[1:] %}{%- else %}{%- set first = '' %}{%- set turns = messages %}{%- endif %}"
    "{%- for message in turns %}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{- '<start_of_turn>' + role + '\\n' + (first if loop.first else '') + message['content'] | trim"
    " + '<end_of_turn>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<start_of_turn>model\\n' }}{%- endif %}"
)

_PHI3 = (
    "{%- for message in messages %}"
    "{{- '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|assistant|>\\n' }}{%- endif %}"
)

# Mistral's [INST] format: no system role (it opens the first question); an answer ends with </s>.
_MISTRAL = (
    "{{- '<s>' }}"
    "{%- if messages[0]['role'] == 'system' %}{%- set first = messages[0]['content'] + '\\n\\n' %}"
    "{%- set turns = messages[1:] %}{%- else %}{%- set first = '' %}{%- set turns = messages %}{%- endif %}"
    "{%- for message in turns %}"
    "{%- if message['role'] == 'user' %}"
    "{{- '[INST] ' + (first if loop.first else '') + message['content'] + ' [/INST]' }}"
    "{%- else %}{{- ' ' + message['content'] + '</s>' }}{%- endif %}"
    "{%- endfor %}"
)

_GRANITE = (
    "{%- for message in messages %}"
    "{{- '<|start_of_role|>' + message['role'] + '<|end_of_role|>' + message['content'] + '<|end_of_text|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_of_role|>assistant<|end_of_role|>' }}{%- endif %}"
)

# Tulu (OLMo 2 Instruct): role tags on their own line; only an answer ends with the end-of-text token.
_TULU = (
    "{%- for message in messages %}"
    "{{- '<|' + message['role'] + '|>\\n' + message['content'] }}"
    "{%- if message['role'] == 'assistant' %}{{- '<|endoftext|>' }}{%- endif %}{{- '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|assistant|>\\n' }}{%- endif %}"
)

TEMPLATES: dict[str, Template] = {
    "chatml": Template(_CHATML, "<|im_end|>", ("<|im_start|>", "<|im_end|>"), "ChatML (Qwen2.5, SmolLM)"),
    "qwen3": Template(_QWEN3, "<|im_end|>", ("<|im_start|>", "<|im_end|>"), "Qwen3 (ChatML, <think> reasoning)"),
    "llama3": Template(
        _LLAMA3,
        "<|eot_id|>",
        ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
        "Llama 3 headers",
    ),
    "gemma": Template(_GEMMA, "<end_of_turn>", ("<bos>", "<start_of_turn>", "<end_of_turn>"), "Gemma turns"),
    "phi3": Template(_PHI3, "<|end|>", ("<|user|>", "<|assistant|>", "<|system|>", "<|end|>"), "Phi-3 / Phi-4 tags"),
    "mistral": Template(_MISTRAL, "</s>", ("<s>", "</s>"), "Mistral [INST]"),
    "granite": Template(
        _GRANITE, "<|end_of_text|>", ("<|start_of_role|>", "<|end_of_role|>", "<|end_of_text|>"), "Granite roles"
    ),
    "tulu": Template(_TULU, "<|endoftext|>", ("<|endoftext|>",), "Tulu (OLMo 2)"),
}


def use_template(tokenizer, name: str) -> None:
    """Give ``tokenizer`` the template ``name`` ("auto": keep its own)."""
    if name and name != "auto":
        tokenizer.chat_template = TEMPLATES[name].jinja


def unknown_markers(tokenizer, name: str) -> list[str]:
    """The template's special tokens that ``tokenizer`` would split into pieces (it does not know them)."""
    vocab = tokenizer.get_vocab()
    return [marker for marker in TEMPLATES[name].markers if marker not in vocab]
