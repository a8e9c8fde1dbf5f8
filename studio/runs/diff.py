"""What differs between runs' configs: the rows beside an overlay of their curves.

    config_differences({"run-a": config_a.to_dict(), "run-b": config_b.to_dict()})
    # [{"field": "train.learning_rate", "run-a": 0.0002, "run-b": 0.0005}, ...]

Only the fields whose values are not all equal are listed, by their dotted path in config.yaml,
in the file's order; a field a run does not have (an older config) shows as None.
"""

from __future__ import annotations

_MISSING = object()


def flatten(config: dict, prefix: str = "") -> dict[str, object]:
    """{"train": {"learning_rate": 2e-4}} -> {"train.learning_rate": 2e-4}"""
    out: dict[str, object] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{path}."))
        else:
            out[path] = value
    return out


def config_differences(configs: dict[str, dict]) -> list[dict]:
    """One row per config field whose value differs between the runs: field, then one column per run."""
    flat = {run_id: flatten(config) for run_id, config in configs.items()}
    fields = list(dict.fromkeys(path for one in flat.values() for path in one))
    rows = []
    for path in fields:
        values = [one.get(path, _MISSING) for one in flat.values()]
        if len(flat) > 1 and any(v != values[0] for v in values[1:]):
            rows.append({"field": path, **{r: (None if v is _MISSING else v) for r, v in zip(flat, values)}})
    return rows
