"""Evaluation: base vs adapter on held-out rows.

- ``pipeline``: options, held-out prompts, generation and loss, ``evaluate_run``;
- ``scores``: ROUGE-L, BLEU, exact match, perplexity;
- ``report``: eval.json, the results table and figure, the run history row;
- ``benchmarks``: lm-evaluation-harness tasks, base vs adapter (``bench_options``, ``bench_tasks``,
  ``bench_model``, ``bench_results``, ``bench_report``, ``bench_job``).
"""
