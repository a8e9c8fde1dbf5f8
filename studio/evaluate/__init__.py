"""Evaluation: base vs adapter on held-out rows.

- ``pipeline``: held-out prompts, generation and loss, ``evaluate_run``; ``options``: what an
  evaluation scores (EvalOptions), apart from the pipeline so the CLI builds its flags without torch;
- ``scores``: ROUGE-L, BLEU, exact match, perplexity; ``methods``: each method's own measure (GRPO's
  rewards, the reward model's pairwise accuracy, KTO's good-bad gap), base versus trained;
- ``report``: eval.json, the results table and figure, the run history row;
- ``benchmarks``: lm-evaluation-harness tasks, base vs adapter (``bench_options``, ``bench_tasks``,
  ``bench_model``, ``bench_results``, ``bench_report``, ``bench_job``).

LLM judges, and scores for dataset rows:

- ``judges``: judges compare the base's and the adapter's answers on held-out prompts, each pair in
  both orders; ``verdicts``: what a judge is asked and how its reply becomes a verdict;
- ``agreement``: the arithmetic of judging (confidence intervals, a jury's majority, agreement with
  people, Cohen's kappa); ``judge_report``: the summary of judgements.jsonl, its tables and chart;
- ``row_scores``: a judge's 1-10 or a reward run's score for each dataset row, and a threshold that
  drops the rows below it through the Data tab's clean path.
"""
