"""What a benchmark run is asked to do: the tasks, the examples per task, the batch and the prompt form.

Kept apart from the harness (studio.evaluate.benchmarks) so the CLI builds its flags and the UI
its form without importing lm-eval or torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.schema import option


@dataclass
class BenchOptions:
    tasks: list[str] = option(
        default_factory=lambda: ["studio_facts", "studio_arithmetic"],
        help="Benchmark tasks: the offline ones shipped in assets/benchmarks, or any task of lm-evaluation-harness "
        "by name (mmlu, hellaswag, arc_easy, gsm8k, truthfulqa_mc2, ...; these fetch their data from the Hub).",
    )
    limit: int = option(
        20, "Examples per task (per subtask of a group such as mmlu); 0: all of them.", minimum=0, maximum=10**6
    )
    batch_size: int = option(8, "Requests per forward pass.", minimum=1, maximum=512)
    chat_template: bool = option(
        False,
        "Wrap each prompt in the model's chat template (the harness's apply_chat_template). Off: plain text "
        "prompts, as benchmarks are usually reported.",
    )
