"""A separate validation file (what `data clean --val-fraction` writes) trains, evaluates and resumes."""

import json
import shutil
from pathlib import Path

import pytest

from studio.evaluate.pipeline import EvalOptions, held_out_rows
from studio.schema import ConfigError
from studio.train.jobs.manager import JobManager
from studio.train.plan import plan_run

ROOT = Path(__file__).resolve().parents[1]


def _files(tmp_path):
    rows = (ROOT / "assets" / "sample_sft.jsonl").read_text().splitlines()
    train, val = tmp_path / "clean.jsonl", tmp_path / "clean.val.jsonl"
    train.write_text("\n".join(rows[:20]) + "\n")
    val.write_text("\n".join(rows[20:26]) + "\n")
    return train, val


def test_every_training_row_trains_and_the_file_is_the_validation(tiny_config, tmp_path):
    train, val = _files(tmp_path)
    tiny_config.data.dataset, tiny_config.data.val_dataset = str(train), str(val)
    tiny_config.data.val_fraction = 0.25  # not used when a file is given
    tiny_config.data.max_rows = None
    tiny_config.train.eval_steps = 2
    plan = plan_run(tiny_config)
    assert len(plan.train.examples) == 20
    assert len(plan.val.examples) == 6
    first_val = json.loads(val.read_text().splitlines()[0])
    assert first_val["output"] in plan.tokenizer.decode(plan.val.examples[0]["input_ids"])


def test_eval_steps_accept_a_validation_file_instead_of_a_share(tiny_config, tmp_path):
    train, val = _files(tmp_path)
    tiny_config.data.dataset = str(train)
    tiny_config.data.val_fraction = 0.0
    tiny_config.train.eval_steps = 2
    with pytest.raises(ConfigError, match="val_dataset"):
        plan_run(tiny_config)
    tiny_config.data.val_dataset = str(val)
    assert plan_run(tiny_config).val.examples


def test_a_validation_file_of_another_kind_or_unreadable_is_named(tiny_config, tmp_path):
    train, _ = _files(tmp_path)
    tiny_config.data.dataset = str(train)
    tiny_config.data.val_dataset = str(ROOT / "assets" / "sample_dpo.jsonl")
    with pytest.raises(ConfigError) as err:
        plan_run(tiny_config)
    assert err.value.problems[0].field == "val_dataset"
    assert "preference" in str(err.value) and "chat" in str(err.value)

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"instruction": "hi", "output": "ho"}\n{"instruction": \n')
    tiny_config.data.val_dataset = str(broken)
    with pytest.raises(ConfigError, match="line 2") as err:
        plan_run(tiny_config)
    assert err.value.problems[0].field == "val_dataset"


def test_the_run_records_evaluates_on_and_guards_the_validation_file(tiny_config, runs_dir, tmp_path):
    train, val = _files(tmp_path)
    tiny_config.data.dataset, tiny_config.data.val_dataset = str(train), str(val)
    tiny_config.data.max_rows = None
    tiny_config.train.max_steps, tiny_config.train.save_steps = 4, 2
    jobs = JobManager()
    run = jobs.start(tiny_config)
    assert jobs.wait(180).status == "completed"
    record = run.read_json("dataset.json")
    assert record["val_source"] == str(val) and record["val_rows"] == 6 and record["train_rows"] == 20

    rows, split, warnings = held_out_rows(run, EvalOptions(max_rows=0))
    assert (len(rows), split, warnings) == (6, "validation", [])

    # A run stopped after step 2 does not resume onto a validation file that changed under it.
    shutil.rmtree(run.checkpoints_dir / "checkpoint-4")
    run.set_status(status="stopped")
    shutil.copy(train, val)
    with pytest.raises(ConfigError, match="changed since"):
        jobs.start(None, resume=run.path)


def test_the_review_counts_the_rows_and_steps_the_training_will_use(tiny_config, tmp_path):
    """With a validation file every training row trains: the form's review must say so too."""
    from studio.models.device import DeviceInfo
    from studio.train.review import review

    rows = (ROOT / "assets" / "sample_sft.jsonl").read_text().splitlines()
    train, val = tmp_path / "train.jsonl", tmp_path / "val.jsonl"
    train.write_text("\n".join(rows[:24]) + "\n")
    val.write_text("\n".join(rows[24:30]) + "\n")
    tiny_config.data.dataset, tiny_config.data.val_dataset = str(train), str(val)
    tiny_config.data.val_fraction = 0.25  # ignored: the file is the validation split
    tiny_config.train.max_steps, tiny_config.train.epochs = -1, 1.0
    cpu = DeviceInfo("cpu", "cpu", 8 * 2**30, 8 * 2**30, False)
    plan = plan_run(tiny_config, cpu)
    r = review(tiny_config, cpu)
    assert (r.train_rows, r.steps) == (len(plan.train.examples), plan.total_steps) == (24, 6)
    assert "24 training rows" in r.batch_text

    tiny_config.data.val_dataset = str(ROOT / "assets" / "sample_dpo.jsonl")  # another kind: named, as plan_run does
    problems = {p.field: p.message for p in review(tiny_config, cpu).errors}
    assert "preference" in problems["val_dataset"] and review(tiny_config, cpu).train_rows == 24

    tiny_config.data.val_dataset = ""  # a held-out share: the same seeded split as the training
    plan = plan_run(tiny_config, cpu)
    r = review(tiny_config, cpu)
    assert (r.train_rows, r.steps) == (len(plan.train.examples), plan.total_steps) == (18, 5)
