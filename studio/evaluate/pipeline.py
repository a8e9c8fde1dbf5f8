"""Did the fine-tune help? Base versus adapter on the run's own held-out rows.

    python -m studio eval --run runs/<id> [--json]
    evaluate_run(engine, open_run("runs/<id>"), EvalOptions())   # -> {"base": {...}, "adapter": {...}, ...}

The rows are the run's validation split: ``dataset.json`` records the source row numbers
(``val_row_numbers``) and the data are reloaded from the run's config, so evaluation sees
exactly what training held out. Every run gets perplexity on the answers (the tokens that
carried loss); SFT runs also answer the held-out prompts greedily and are scored against the
references with ROUGE-L, BLEU and exact match; DPO and ORPO runs get preference accuracy and
margins on the held-out pairs; GRPO, reward-model and KTO runs their own measures
(studio.evaluate.methods). Results go into the run directory: ``eval.json`` and
``eval_generations.csv``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict

import torch

from studio.chat.engine import ChatEngine
from studio.chat.sampling import Sampling
from studio.chat.sources import source_kind
from studio.config import METHODS
from studio.data import load_data
from studio.data.render import render_chat, render_row
from studio.evaluate import methods, scores
from studio.evaluate.options import HELD_OUT_PROMPTS, EvalOptions
from studio.evaluate.report import save_results
from studio.models import loading
from studio.runs.directory import Run
from studio.train.plan import load_validation

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
TOKENS_PER_BATCH = 2048  # padded tokens per scoring forward pass: bounds the logits' memory


class NoValidationSplit(ValueError):
    """The run held nothing out; the message offers the ways forward."""


def held_out_rows(run: Run, options: EvalOptions) -> tuple[list[dict], str, list[str]]:
    """The rows to score, what they are ('validation' or 'training sample'), and warnings."""
    config, record = run.config(), run.read_json("dataset.json")
    if not record:
        raise ValueError(f"run {run.id} has no dataset.json: it never started training, so nothing was held out")
    d = config.data
    data = load_data(d.dataset, d.format, d.columns, d.system_prompt, d.max_rows)
    warnings = []
    if record.get("fingerprint") and record["fingerprint"] != data.fingerprint:
        warnings.append(
            f"{d.dataset} changed since training (fingerprint {data.fingerprint}, trained on {record['fingerprint']}); "
            "the held-out row numbers may point at other rows"
        )
    by_number = dict(zip(data.row_numbers, data.rows, strict=True))
    wanted = record.get("val_row_numbers") or []
    if record.get("val_source"):  # a separate validation file: all of it is held out
        val = load_validation(d, data.kind)
        if record.get("val_fingerprint") not in (None, val.fingerprint):
            warnings.append(f"{record['val_source']} changed since training (fingerprint {val.fingerprint})")
        rows, split = val.rows, "validation"
    elif wanted:
        rows, split = [by_number[n] for n in wanted if n in by_number], "validation"
    elif options.train_sample > 0:
        numbers = record.get("train_row_numbers") or list(by_number)
        picked = sorted(random.Random(config.train.seed).sample(numbers, min(options.train_sample, len(numbers))))
        rows, split = [by_number[n] for n in picked if n in by_number], "training sample"
        warnings.append(
            f"no validation split: scored {len(rows)} training rows (seed {config.train.seed}); "
            "the adapter was trained on them, so its numbers are optimistic"
        )
    else:
        raise NoValidationSplit(
            f"run {run.id} has no validation split (val_fraction was {d.val_fraction}): every row trained. "
            "Evaluate on a seeded sample of its training rows instead (train sample > 0; --train-sample 32 "
            "on the command line), knowing the adapter has seen them, or train again with val_fraction 0.1."
        )
    if not rows:
        raise ValueError(f"run {run.id}: none of its held-out rows are in {d.dataset} any more")
    if options.max_rows:
        rows = rows[: options.max_rows]
    return rows, split, warnings


def held_out_prompts(run: Run, n: int = HELD_OUT_PROMPTS, train_sample: int = 0) -> list[str]:
    """The user's last question of the first ``n`` held-out rows (for batch compare)."""
    rows, _, _ = held_out_rows(run, EvalOptions(max_rows=0, train_sample=train_sample))
    prompts = []
    for row in rows:
        turns = row.get("messages") or row.get("prompt") or []
        if "messages" in row:
            last = max((i for i, m in enumerate(turns) if m["role"] == "assistant"), default=len(turns))
            turns = turns[:last]
        question = next((m["content"] for m in reversed(turns) if m["role"] == "user"), "")
        if question.strip():
            prompts.append(" ".join(question.split()))  # one line each: the prompts box is one per line
    return prompts[:n]


# -- scoring -------------------------------------------------------------------------------------


def _batches(encoded: list[tuple[list[int], list[int]]]):
    """Right-padded batches of (row indices, input_ids, loss mask, attention mask) within the
    token budget; rows sorted by length so little is spent on padding."""
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
    batch: list[int] = []
    for i in order:
        if batch and len(encoded[i][0]) * (len(batch) + 1) > TOKENS_PER_BATCH:
            yield _pad(encoded, batch)
            batch = []
        batch.append(i)
    if batch:
        yield _pad(encoded, batch)


def _pad(encoded, batch: list[int]):
    width = max(len(encoded[j][0]) for j in batch)
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    attention = torch.zeros_like(ids)
    for row, j in enumerate(batch):
        tokens, loss_mask = encoded[j]
        ids[row, : len(tokens)] = torch.tensor(tokens)
        mask[row, : len(tokens)] = torch.tensor(loss_mask)
        attention[row, : len(tokens)] = 1
    return batch, ids, mask, attention


def score(engine: ChatEngine, key, encoded: list[tuple[list[int], list[int]]]) -> tuple[float, int, list[float]]:
    """Summed NLL, scored tokens, and each sequence's summed log-probability of its masked tokens."""
    nll, count, per_row = 0.0, 0, [0.0] * len(encoded)
    with engine.lock, torch.inference_mode():
        model = engine.use(key)
        for rows, ids, mask, attention in _batches(encoded):
            device = model.device
            logits = model(input_ids=ids.to(device), attention_mask=attention.to(device)).logits.cpu()
            batch_nll, batch_count = scores.token_nll(logits, ids, mask)
            nll, count = nll + batch_nll, count + batch_count
            for row, logp in zip(rows, scores.sequence_logps(logits, ids, mask).tolist(), strict=True):
                per_row[row] = logp
    return nll, count, per_row


def _encode_answers(tokenizer, rows: list[dict], max_length: int, assistant_only: bool) -> list:
    out = []
    for row in rows:
        if "prompt" in row:  # a preference pair: the chosen conversation
            rendered = render_chat(tokenizer, row["prompt"] + row["chosen"], max_length, True)
        else:
            rendered = render_row(tokenizer, row, max_length, assistant_only)
        out.append((rendered.input_ids, rendered.assistant_masks))
    return out


def _perplexities(engine, keys: dict, rows, config, progress: Progress) -> dict:
    encoded = _encode_answers(engine.tokenizer, rows, config.train.max_length, config.train.assistant_only_loss)
    out = {}
    for i, (label, key) in enumerate(keys.items()):
        progress(0.05 + 0.25 * i, f"perplexity of the {label} on {len(rows)} rows")
        nll, count, _ = score(engine, key, encoded)
        out[label] = {"perplexity": scores.perplexity(nll, count), "scored_tokens": count}
    return out


def _preferences(engine, keys: dict, rows, config, progress: Progress, implicit_reward: bool) -> dict:
    """Summed log-probabilities of chosen and rejected answers; with ``implicit_reward`` (DPO) the
    reward margin against the base, which is its reference."""
    pairs = [r for r in rows if "prompt" in r]
    if not pairs:
        return {}
    max_length = config.train.max_length
    chosen = [render_chat(engine.tokenizer, r["prompt"] + r["chosen"], max_length) for r in pairs]
    rejected = [render_chat(engine.tokenizer, r["prompt"] + r["rejected"], max_length) for r in pairs]
    logps = {}
    for i, (label, key) in enumerate(keys.items()):
        progress(0.55 + 0.2 * i, f"preference scores of the {label} on {len(pairs)} pairs")
        _, _, c = score(engine, key, [(x.input_ids, x.assistant_masks) for x in chosen])
        _, _, r = score(engine, key, [(x.input_ids, x.assistant_masks) for x in rejected])
        logps[label] = (c, r)
    (bc, br), (ac, ar) = logps["base"], logps["adapter"]
    refs = (bc, br) if implicit_reward else (None, None)
    return {
        "base": scores.preference_stats(bc, br),
        "adapter": scores.preference_stats(ac, ar, *refs, beta=config.dpo.beta),
    }


def _generations(engine, sources: list, rows, options: EvalOptions, progress: Progress) -> list[dict]:
    """Greedy answers of base and adapter (side by side, one pass) to held-out prompts."""
    out = []
    chats = [r for r in rows if "messages" in r and any(m["role"] == "assistant" for m in r["messages"])]
    chats = chats[: options.generate_rows]
    greedy = Sampling(greedy=True, max_new_tokens=options.max_new_tokens)
    for i, row in enumerate(chats):
        progress(0.55 + 0.4 * i / max(1, len(chats)), f"answering held-out prompt {i + 1} of {len(chats)}")
        messages = row["messages"]
        last = max(j for j, m in enumerate(messages) if m["role"] == "assistant")
        prompt = messages[:last]
        texts = engine.replies(prompt, sources, greedy)
        user = next((m["content"] for m in reversed(prompt) if m["role"] == "user"), "")
        out.append({"prompt": user, "reference": messages[last]["content"], "base": texts[0], "adapter": texts[1]})
    return out


def _generation_scores(generations: list[dict], label: str) -> dict:
    predictions = [g[label] for g in generations]
    references = [g["reference"] for g in generations]
    return {
        "rouge_l": scores.rouge_l(predictions, references),
        "bleu": scores.bleu(predictions, references),
        "exact_match": scores.exact_match(predictions, references),
    }


def _measure(engine: ChatEngine, run: Run, rows, source: str, options: EvalOptions, progress: Progress):
    """(result, generations): the method's own measure, base vs adapter (studio.evaluate.methods)."""
    config = run.config()
    measures = METHODS[config.train.method].measures  # what this method's evaluation scores
    if "score_accuracy" in measures:  # a score head, not a language model: no perplexity, no answers
        result = methods.reward_model_accuracy(run, source, rows, progress)
        if not result:
            raise ValueError(f"run {run.id}: no held-out preference pairs to score the reward model on")
        return result, []
    with engine.lock:
        engine.ensure_base(loading.base_model_id(config.model.model))
        keys = {"base": engine.load_source(None), "adapter": engine.load_source(source)}
        if "rewards" in measures:  # prompts only: no answers to take a perplexity of
            result, generations = methods.grpo_rewards(engine, [None, source], rows, run, options, progress)
            if not result:
                raise ValueError(
                    f"run {run.id}: no held-out prompts to answer (generate rows is {options.generate_rows})"
                )
            return result, generations
        result, generations, extra = _perplexities(engine, keys, rows, config, progress), [], {}
        if "preference" in measures:
            extra = _preferences(engine, keys, rows, config, progress, "implicit_reward" in measures)
        if "kto_gap" in measures:
            extra = methods.kto_gap(engine, keys, rows, config, progress, score)
        if "answers" in measures:
            generations = _generations(engine, [None, source], rows, options, progress)
            extra = (
                {label: _generation_scores(generations, label) for label in ("base", "adapter")} if generations else {}
            )
    for label, stats in extra.items():
        result[label].update(stats)
    return result, generations


def evaluate_run(
    engine: ChatEngine,
    run: Run,
    options: EvalOptions | None = None,
    adapter: str | None = None,
    progress: Progress | None = None,
) -> dict:
    """Score base and adapter on the run's held-out rows; saves and returns the results."""

    options = options or EvalOptions()
    progress = progress or (lambda fraction, message: log.info("%3.0f%% %s", 100 * fraction, message))
    source = adapter or str(run.adapter_dir)
    if not adapter and not run.has_adapter():
        raise ValueError(f"run {run.id} has no saved adapter yet; wait for it to finish or pick a checkpoint")
    config = run.config()
    started = time.time()
    progress(0.0, "reading the held-out rows")
    rows, split, warnings = held_out_rows(run, options)
    result, generations = _measure(engine, run, rows, source, options, progress)
    result.update(
        run=run.id,
        method=config.train.method,
        split=split,
        rows=len(rows),
        generated=len(generations),
        adapter_dir=source,
        adapter_kind=source_kind(source),
        warnings=warnings,
        options=asdict(options),
        created=time.time(),
        seconds=round(time.time() - started, 2),
    )
    save_results(run, result, generations)
    progress(1.0, "done")
    result["generations"] = generations
    return result
