"""Training: from a RunConfig to a finished run directory.

config -> ``checks`` (pre-flight problems) -> ``plan`` (data, split, steps; each row through
``preflight``) -> ``trainer`` (one TRL trainer per method, one module each in ``methods``, what each
needs in studio.config.method_table; on the model ``model`` builds: LoRA/QLoRA/full) -> ``jobs`` (the background
job, stop and resume) -> ``callbacks`` / ``probes`` write ``metrics.jsonl`` and the ``progress``
snapshot. Before Start: ``review`` (what the form shows), ``estimate`` (memory and time),
``peak_memory`` (measured), ``command_line`` (the equivalent CLI call), ``presets``.
``logprobs`` is the plain log-probability path where TRL's kernel needs Triton.
"""
