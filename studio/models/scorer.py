"""A reward model as a scorer: one number per conversation, higher for the better answer.

    scorer = RewardScorer.from_run_folder(run.path)        # a completed studio run of method reward
    scorer.score([[{"role": "user", ...}, {"role": "assistant", ...}], ...])   # -> [0.83, -1.2, ...]
    scorer = RewardScorer.initial(base, seed)               # the base with the run's fresh score head

A reward run saves a LoRA adapter with its score head (PEFT's SEQ_CLS task, the head in
``modules_to_save``) or, for a full fine-tune, the whole classifier. Loading merges the adapter,
so scoring costs one forward pass of the base. Conversations are rendered with the reward run's
own chat template, as its trainer saw them; GRPO's completions are scored the same way (the
prompt's messages plus the sampled answer as the assistant's turn).
"""

from __future__ import annotations

import threading
from pathlib import Path

import torch
from peft import PeftModel
from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed

from studio.config import RunConfig
from studio.models import loading

TOKENS_PER_BATCH = 4096  # padded tokens per forward pass


class RewardScorer:
    def __init__(self, model, tokenizer, max_length: int = 1024):
        self.model, self.tokenizer, self.max_length = model.eval(), tokenizer, max_length
        self.lock = threading.Lock()

    @classmethod
    def initial(cls, base: str, seed: int, max_length: int = 1024) -> RewardScorer:
        """The base with a new score head drawn from ``seed``: what a reward run starts from."""
        set_seed(seed)
        tokenizer = loading.load_tokenizer(base)
        return cls(_classifier(base, tokenizer), tokenizer, max_length)

    @classmethod
    def from_run_folder(cls, run_path: str | Path, source: str | Path | None = None) -> RewardScorer:
        """The trained reward model of a run (its adapter/, or ``source``: one of its checkpoints)."""
        run_path = Path(run_path)
        config = RunConfig.load(run_path / "config.yaml")
        folder = Path(source) if source else run_path / "adapter"
        if (folder / "tokenizer_config.json").exists():  # the reward trainer saved the one it trained with
            tokenizer = AutoTokenizer.from_pretrained(str(folder))
        else:
            tokenizer = loading.load_tokenizer(config.model.model)
        if (folder / "adapter_config.json").exists():
            base = _classifier(config.model.model, tokenizer)
            model = PeftModel.from_pretrained(base, str(folder)).merge_and_unload()
        else:
            model = _classifier(str(folder), tokenizer)
        return cls(model, tokenizer, config.train.max_length)

    def texts(self, conversations: list[list[dict]]) -> list[str]:
        return [self.tokenizer.apply_chat_template(c, tokenize=False) for c in conversations]

    def score(self, conversations: list[list[dict]]) -> list[float]:
        """The reward of each conversation (its last assistant turn is the answer scored)."""
        encoded = [
            self.tokenizer(text, add_special_tokens=False, truncation=True, max_length=self.max_length)["input_ids"]
            for text in self.texts(conversations)
        ]
        out = [0.0] * len(encoded)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        pad = self.tokenizer.pad_token_id or 0
        rows = max(1, TOKENS_PER_BATCH // max([1, *map(len, encoded)]))
        with self.lock, torch.inference_mode():
            for start in range(0, len(order), rows):
                batch = order[start : start + rows]
                width = max(len(encoded[i]) for i in batch)
                ids = torch.full((len(batch), width), pad, dtype=torch.long)
                attention = torch.zeros_like(ids)
                for row, i in enumerate(batch):
                    ids[row, : len(encoded[i])] = torch.tensor(encoded[i])
                    attention[row, : len(encoded[i])] = 1
                logits = self.model(input_ids=ids, attention_mask=attention).logits[:, 0].float()
                for row, i in enumerate(batch):
                    out[i] = float(logits[row])
        return out


def _classifier(name: str, tokenizer):
    model = AutoModelForSequenceClassification.from_pretrained(
        loading.resolve_model(name), num_labels=1, dtype=torch.float32
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    return model
