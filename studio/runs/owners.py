"""Who a run belongs to, and who may see or change it: the studio's one sharing rule.

    claim(run, "alice")        # <run>/owner.json: {"owner": "alice", "shared": false}
    visible(run, "bob")        # False: people see their own runs and the shared ones
    share(run, True)           # read-only for the others: list, open, chat with, read its evaluation
    may_change(run, "bob")     # False: delete, resume, evaluate, export and push stay the owner's

The owner is the signed-in person who started the run: the studio's own login (Gradio's
``request.username``) or the Hugging Face account of "Sign in with Hugging Face". A studio
without logins has one person, LOCAL; a run without owner.json (made by the CLI, or before
owners existed) is LOCAL's. ``user=None`` is the operator at the command line: every run is
theirs. owner.json sits beside config.yaml and not in it, so a config copied to a new run never
carries an owner, and sharing never rewrites the config.
"""

from __future__ import annotations

from studio.runs.directory import Run

LOCAL = "local"
OWNER_FILE = "owner.json"


def owner_of(run: Run) -> str:
    return str(run.read_json(OWNER_FILE).get("owner") or LOCAL)


def is_shared(run: Run) -> bool:
    return bool(run.read_json(OWNER_FILE).get("shared"))


def claim(run: Run, user: str | None) -> None:
    """Record ``user`` (None: LOCAL) as the owner of a new run, not shared."""
    run.write_json(OWNER_FILE, {"owner": user or LOCAL, "shared": False})


def share(run: Run, shared: bool) -> None:
    run.write_json(OWNER_FILE, {"owner": owner_of(run), "shared": bool(shared)})


def visible(run: Run, user: str | None) -> bool:
    """Whether ``user`` may list, open, chat with and read the evaluation of ``run``."""
    return user is None or owner_of(run) == user or is_shared(run)


def may_change(run: Run, user: str | None) -> bool:
    """Whether ``user`` may delete, resume, stop, evaluate, export, push or share ``run``."""
    return user is None or owner_of(run) == user


def unknown(ref) -> ValueError:
    """The refusal for a run one may not see: the same words as for a run that does not exist,
    so run ids cannot probe other people's runs."""
    return ValueError(f"run: {ref} is not a run in the runs folder; pick one from the run list")


def check_visible(run: Run, user: str | None, ref=None) -> Run:
    if not visible(run, user):
        raise unknown(ref if ref is not None else run.id)
    return run


def check_change(run: Run, user: str | None, action: str, ref=None) -> Run:
    """``run`` when ``user`` may change it; else ValueError naming what they may do instead."""
    check_visible(run, user, ref)
    if not may_change(run, user):
        raise ValueError(
            f"run {run.id} is shared read-only by {owner_of(run)}: you may open it, chat with it and read "
            f"its evaluation, not {action} it; start your own run to do that"
        )
    return run
