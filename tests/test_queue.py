"""The training queue: a Start while a training runs waits its turn, first in first out.

Through the services the Train tab calls, on the tiny model: a second Start is queued with its
place in line, starts by itself when the first ends, a person past the limit is refused with the
reason, a waiting Start can be cancelled by its owner, and a restarted studio restores the line.
"""

from __future__ import annotations

import time

import pytest

from studio.runs.directory import new_run
from studio.runs.owners import claim, owner_of
from studio.services import QueueFull, Studio
from studio.train.jobs.queue import ordinal

from .conftest import tiny_recipe


def long_config(tiny_model_dir):
    return tiny_recipe(tiny_model_dir, max_steps=500)


def wait_until_idle(studio: Studio, timeout: float = 300) -> None:
    """Until the job and everything queued behind it have ended."""
    deadline = time.time() + timeout
    while time.time() < deadline and (studio.jobs.active or studio.queue.waiting() or studio.queue._dispatcher):
        studio.jobs.wait(0.2)
    assert not studio.queue.waiting(), "the queue did not drain"


def wait_for_step(studio: Studio, step: int = 1, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while studio.jobs.snapshot().step < step and time.time() < deadline:
        time.sleep(0.05)
    assert studio.jobs.snapshot().step >= step, studio.jobs.snapshot().error


def test_ordinals():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"
    ]  # fmt: skip


def test_a_second_start_waits_and_trains_when_the_first_ends(tiny_model_dir, runs_dir):
    studio = Studio(runs_dir)
    first = studio.start_training(long_config(tiny_model_dir))
    second = studio.start_training(tiny_recipe(tiny_model_dir, max_steps=2))
    try:
        assert studio.queue.position(first.id) == 0 and studio.queue.position(second.id) == 1
        assert studio.queued(second.id) == "queued: 1st in line"
        assert second.status()["status"] == "queued" and (second.path / "config.yaml").is_file()
        assert studio.progress().run_id == first.id  # the one person of a local studio sees the running job
        wait_for_step(studio)
    finally:
        assert studio.stop_training()
    wait_until_idle(studio)
    assert first.status()["status"] == "stopped"
    assert second.status()["status"] == "completed" and second.has_adapter()
    assert owner_of(second) == "local"


def test_one_job_per_person_and_cancel(tiny_model_dir, runs_dir, monkeypatch):
    monkeypatch.delenv("STUDIO_QUEUE_PER_PERSON", raising=False)
    studio = Studio(runs_dir)
    alices = studio.start_training(long_config(tiny_model_dir), "alice")
    try:
        with pytest.raises(QueueFull, match=rf"1 training running or waiting \({alices.id}\).*allows 1 per person"):
            studio.start_training(long_config(tiny_model_dir), "alice")
        bobs = studio.start_training(tiny_recipe(tiny_model_dir), "bob")
        assert studio.queued(bobs.id) == "queued: 1st in line"
        with pytest.raises(QueueFull, match="allows 1 per person"):
            studio.start_training(tiny_recipe(tiny_model_dir), "bob")
        # Bob sees his place in line, not Alice's run.
        progress = studio.progress("bob")
        assert progress.status == "queued" and progress.run_id == bobs.id and progress.waiting
        assert progress.message == "queued: 1st in line"
        assert not studio.stop_training("bob")  # not his to stop
        with pytest.raises(ValueError, match="is not a run in the runs folder"):
            studio.cancel_queued(bobs.id, "alice")
        assert studio.stop("bob") == f"Took {bobs.id} out of the queue."  # his Stop: his waiting Start goes
        assert studio.queue.waiting() == [] and not bobs.path.exists()  # it never trained: nothing is left
        assert studio.jobs.active and studio.stop("bob") == "No training of yours is running or waiting."
        assert "Another person's training" in studio.progress("bob").message
        monkeypatch.setenv("STUDIO_QUEUE_PER_PERSON", "2")
        again = studio.start_training(tiny_recipe(tiny_model_dir), "alice")
        studio.delete_run(again.id, "alice")  # deleting a waiting run takes it out of the line
        assert studio.queue.waiting() == []
    finally:
        assert studio.stop_training("alice")
        studio.jobs.wait(120)


def test_three_starts_from_two_people_train_in_order(tiny_model_dir, runs_dir, monkeypatch):
    monkeypatch.setenv("STUDIO_QUEUE_PER_PERSON", "2")
    studio = Studio(runs_dir)
    a1 = studio.start_training(long_config(tiny_model_dir), "alice")
    try:
        b1 = studio.start_training(tiny_recipe(tiny_model_dir, max_steps=1), "bob")
        a2 = studio.start_training(tiny_recipe(tiny_model_dir, max_steps=1), "alice")
        assert [studio.queue.position(r.id) for r in (a1, b1, a2)] == [0, 1, 2]
        assert studio.waiting_runs("alice") == [a2.id] and studio.waiting_runs("bob") == [b1.id]
        assert studio.progress("alice").run_id == a1.id  # her running job comes before her waiting one
        wait_for_step(studio)
    finally:
        studio.stop_training("alice")
    wait_until_idle(studio)
    statuses = [r.status() for r in (a1, b1, a2)]
    assert [s["status"] for s in statuses] == ["stopped", "completed", "completed"]
    assert statuses[0]["started"] < statuses[1]["started"] < statuses[2]["started"]
    assert [owner_of(r) for r in (a1, b1, a2)] == ["alice", "bob", "alice"]


def test_a_restarted_studio_restores_the_line(tiny_model_dir, runs_dir):
    """What a killed app left queued (status.json says so) waits again, oldest first, and trains."""
    runs = []
    for n, user in enumerate(["carol", "dave"]):
        config = tiny_recipe(tiny_model_dir, max_steps=1)
        config.run_name = f"q{n}"
        run = new_run(config, runs_dir)
        claim(run, user)
        run.set_status(status="queued", queued_at=1000.0 - n)  # dave joined the line first
        runs.append(run)
    studio = Studio(runs_dir)
    assert studio.progress().status == "idle"  # building a studio restores nothing by itself
    assert studio.restore_queue() == [runs[1].id, runs[0].id]
    wait_until_idle(studio)
    first, second = (r.status() for r in (runs[1], runs[0]))
    assert first["status"] == second["status"] == "completed"
    assert first["started"] < second["started"]


def test_a_bad_config_is_refused_before_it_joins_the_line(tiny_model_dir, runs_dir):
    studio = Studio(runs_dir)
    first = studio.start_training(long_config(tiny_model_dir))
    try:
        with pytest.raises(ValueError, match="lora_r"):
            studio.start_training(tiny_recipe(tiny_model_dir, lora_r=0))
        assert studio.queue.waiting() == [] and [r.id for r in studio.runs()] == [first.id]
    finally:
        studio.stop_training()
        studio.jobs.wait(120)
