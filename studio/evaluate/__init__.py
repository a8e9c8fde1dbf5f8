"""Evaluation: base vs adapter on held-out rows.

- ``pipeline``: options, held-out prompts, generation and loss, ``evaluate_run``;
- ``scores``: ROUGE-L, BLEU, exact match, perplexity;
- ``report``: eval.json, the results table and figure, the run history row.
"""
