"""Many people on one studio: each sees and changes only their own runs; a shared run is read-only.

The rule lives in studio.runs.owners; these tests go through the services the tabs call.
"""

from __future__ import annotations

import shutil

import pytest

from studio.runs.directory import new_run
from studio.runs.owners import LOCAL, OWNER_FILE, claim, owner_of
from studio.services import Studio

HIDDEN = "is not a run in the runs folder"


@pytest.fixture
def studio(tiny_sft_run, tmp_path):
    """A studio with two finished runs with adapters: bob's and (made by the CLI, no owner.json) local's."""
    root = tmp_path / "runs"
    shutil.copytree(tiny_sft_run.path, root / "20990101-000000-bobs")
    shutil.copytree(tiny_sft_run.path, root / "20990101-000001-locals")
    (root / "20990101-000001-locals" / OWNER_FILE).unlink(missing_ok=True)
    studio = Studio(root)
    claim(studio.run("20990101-000000-bobs"), "bob")
    return studio


def test_people_see_only_their_own_runs(studio):
    assert [r["run"] for r in studio.run_summaries("bob")] == ["20990101-000000-bobs"]
    assert studio.run_summaries("bob")[0]["owner"] == "bob"
    assert [r.id for r in studio.runs(LOCAL)] == ["20990101-000001-locals"]
    assert [r.id for r in studio.runs("alice")] == []
    assert len(studio.runs()) == 2  # the operator (no user) sees every run
    assert owner_of(studio.run("20990101-000001-locals")) == LOCAL  # a run without owner.json


def test_another_persons_run_is_refused_as_if_it_did_not_exist(studio):
    bobs = "20990101-000000-bobs"
    calls = [
        lambda: studio.run(bobs, "alice"),
        lambda: studio.run_view(bobs, "alice"),
        lambda: studio.delete_run(bobs, "alice"),
        lambda: studio.resume_training(bobs, "alice"),
        lambda: studio.eval_results(bobs, "alice"),
        lambda: studio.export_zip(bobs, "alice"),
        lambda: studio.share_run(bobs, True, "alice"),
        lambda: studio.compare_runs([bobs], "loss", "alice"),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=HIDDEN):
            call()
    assert studio.adapter_choices("alice") == []
    adapter = str(studio.run(bobs).adapter_dir)
    with pytest.raises(ValueError, match="not a run's adapter or checkpoint"):
        list(studio.chat_stream([{"role": "user", "content": "Hi"}], [adapter], None, user="alice"))
    assert studio.run(bobs, "bob").path.is_dir()  # untouched


def test_a_shared_run_is_visible_read_only(studio):
    bobs = "20990101-000000-bobs"
    studio.share_run(bobs, True, "bob")
    assert bobs in [r["run"] for r in studio.run_summaries("alice")]
    assert studio.run_view(bobs, "alice")["summary"]["shared"] is True
    assert any(folder.endswith("/adapter") for _, folder in studio.adapter_choices("alice"))  # alice may chat with it
    assert studio.resumable_runs("alice") == []
    for action, call in [
        ("delete", lambda: studio.delete_run(bobs, "alice")),
        ("resume", lambda: studio.resume_training(bobs, "alice")),
        ("push", lambda: studio.push(bobs, "alice/x", user="alice")),
        ("export", lambda: studio.export_zip(bobs, "alice")),
        ("evaluate", lambda: studio.evaluate(bobs, user="alice")),
        ("share", lambda: studio.share_run(bobs, False, "alice")),
    ]:
        with pytest.raises(ValueError, match=f"shared read-only by bob.*not {action} it"):
            call()
    studio.share_run(bobs, False, "bob")
    assert studio.runs("alice") == []
    studio.delete_run(bobs, "bob")
    assert [r.id for r in studio.runs()] == ["20990101-000001-locals"]


def test_a_new_run_belongs_to_whoever_started_it(tiny_config, runs_dir):
    run = new_run(tiny_config, runs_dir)
    assert owner_of(run) == LOCAL and not (run.path / OWNER_FILE).exists()
    claim(run, "alice")
    assert owner_of(run) == "alice"
    assert "alice" not in run.config_path.read_text()  # beside the config, never in it


# -- who is behind a request (studio.ui.space) ---------------------------------------------------------


def test_several_logins_one_per_person(monkeypatch):
    from studio.ui.login import LoginLimiter
    from studio.ui.space import access

    monkeypatch.setenv("STUDIO_AUTH", "alice:pw-a,bob:pw-b")
    granted = access("0.0.0.0", False)
    assert granted.logins == [("alice", "pw-a"), ("bob", "pw-b")] and granted.credentials == ("alice", "pw-a")
    assert access("0.0.0.0", False, auth=["c:p,w", "d:q"]).logins == [("c", "p,w"), ("d", "q")]  # repeated --auth
    with pytest.raises(ValueError, match="alice is given twice"):
        access("0.0.0.0", False, auth="alice:x,alice:y")
    limiter = LoginLimiter(granted.logins)
    assert limiter.check("bob", "pw-b") and limiter.check("alice", "pw-a")
    assert not limiter.check("bob", "pw-a")  # one person's name with the other's password


def test_user_of_a_request():
    from types import SimpleNamespace

    from studio.ui.space import user_of

    def request(username=None, session=None):
        scope = {"session": session} if session is not None else {}
        return SimpleNamespace(username=username, request=SimpleNamespace(scope=scope))

    assert user_of(None) == user_of(request()) == LOCAL  # a studio without logins: one person
    assert user_of(request("alice")) == "alice"
    signed_in = {"oauth_info": {"userinfo": {"preferred_username": "hf-carol"}, "expires_at": 4e9}}
    assert user_of(request("alice", signed_in)) == "hf-carol"  # Sign in with Hugging Face comes first
    expired = {"oauth_info": {"userinfo": {"preferred_username": "hf-carol"}, "expires_at": 1.0}}
    assert user_of(request("alice", expired)) == "alice"


def test_sign_in_with_hugging_face_only_on_a_space_with_oauth(monkeypatch):
    from studio.ui.space import hf_sign_in

    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.setenv("OAUTH_CLIENT_ID", "x")
    assert not hf_sign_in()
    monkeypatch.setenv("SPACE_ID", "me/studio")
    monkeypatch.delenv("OAUTH_CLIENT_ID")
    assert not hf_sign_in()
