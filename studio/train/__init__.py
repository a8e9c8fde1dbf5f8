"""Training: from a RunConfig to a finished run directory.

The path of a Start: config -> ``checks`` (pre-flight problems; ``placement``: where it may train,
from the config and this machine) -> ``plan`` (data, split, steps; each row through ``preflight``,
``preflight_rl`` for KTO and GRPO) -> ``trainer`` (one TRL trainer per method, a module each in
``methods``, what each needs in studio.config.method_table; on the model ``model`` builds:
LoRA/QLoRA/full) -> ``jobs`` (the background job and what surrounds it) -> ``callbacks`` and
``probes`` write ``metrics.jsonl``; ``trackers`` also log to TensorBoard, MLflow, W&B or Trackio.

Before Start: ``review`` (what the form shows), ``guide`` and ``method_data`` (method against data),
``presets``, ``estimate`` and ``activations`` (memory and time), ``peak_memory`` (measured),
``command_line`` (the equivalent CLI call).

Packages: ``jobs`` (the job manager, queue, admission, faults, shutdown, progress, disk);
``methods`` (one builder per method; GRPO's rewards and answer log beside its builder). Where a run
trains other than here is studio.launch, which uses this package and is not used by it.
"""
