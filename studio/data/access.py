"""Which files the studio may read, and for whom: the one policy every file read goes through.

    from studio.data.access import check_readable
    check_readable("assets/sample_sft.jsonl")                 # the path, or NotReadable
    check_readable("../../etc/passwd")                        # NotReadable: outside the folders the app reads
    check_readable("runs/<alice's run>/probes.jsonl", user="bob")   # NotReadable, in the same words

Two questions, asked of every path before anything about the file is looked at:

**Where.** The app on a Space (or on ``--host 0.0.0.0``) is a page anyone with the link or the
login can type paths into, so it reads a path only from:

- the uploads folder (Gradio's, ``$GRADIO_TEMP_DIR`` or ``<tmp>/gradio``);
- the studio's own assets, its runs folder and the folder cleaned datasets are saved in;
- the folders the operator allows: ``python app.py --data-dir FOLDER`` (repeatable), or
  ``$STUDIO_ALLOWED_DIRS`` (folders joined with ``os.pathsep``; studio.paths). Without either, local use allows
  the current folder and a Space only ``/data``.

The command line is not such a page: a command runs with its user's rights and reads any path
the system lets it (``studio.cli.main`` turns that on with ``read_anywhere``, for one command).

**Whose.** A file inside a run folder is another person's when the run is (studio.runs.owners):
``user`` reads it only when ``visible(run, user)``, its own or a shared run. ``user=None`` is the
operator (the CLI, scripts), who reads every run.

Paths are resolved (``..`` and symbolic links followed) before they are compared. In the app a
refusal reads the same for a file outside, another person's file and a missing file, so nothing
can be probed; at the command line a missing file is named as missing.
"""

from __future__ import annotations

from pathlib import Path

from studio.paths import ASSETS, allowed_dirs, cleaned_dir, inside, resolved, runs_root, uploads_dir
from studio.runs.directory import Run
from studio.runs.owners import OWNER_FILE, visible


class NotReadable(ValueError):
    """A path the studio may not read for this person (a DataError subclass is raised by loading)."""


_anywhere = False  # the command line's policy (read_anywhere); the app never sets it


def read_anywhere(on: bool = True) -> None:
    """Let this process read any path the system lets it (the CLI, for the command it runs)."""
    global _anywhere
    _anywhere = bool(on)


def reads_anywhere() -> bool:
    return _anywhere


def in_allowed_folder(where: Path) -> bool:
    """Whether a resolved path lies in a folder the app reads (always, at the command line)."""
    return _anywhere or inside(where, [uploads_dir(), ASSETS, runs_root(), cleaned_dir(), *allowed_dirs()])


def owner_allows(where: Path, user: str | None) -> bool:
    """Whether ``user`` may read a resolved path as far as run owners go: anything outside a run
    folder, and inside one only their own or a shared run's files (None: the operator, all)."""
    if user is None:
        return True
    root = resolved(runs_root())
    if root is None or not where.is_relative_to(root):
        return True
    parts = where.relative_to(root).parts
    if not parts:
        return False  # the runs folder itself lists everyone's runs
    run = Run(root / parts[0])
    # Beside the runs: the arena's votes (studio.chat.arena), which every person adds to.
    is_run = (run.path / "config.yaml").exists() or (run.path / OWNER_FILE).exists()
    return not is_run or visible(run, user)


def readable(path: str | Path, user: str | None = None) -> bool:
    """Whether the studio may read ``path`` for ``user`` (resolved, so ``..`` and links cannot
    leave a folder); in the app also whether it exists, so that a refusal tells nothing."""
    where = resolved(path)
    if where is None or not in_allowed_folder(where) or not owner_allows(where, user):
        return False
    return _anywhere or where.exists()


def allowed_text() -> str:
    """The allowed folders, for a message: uploads, assets, runs, and the operator's own."""
    folders = ", ".join(str(p) for p in allowed_dirs())
    return f"uploads, the studio's assets, your runs, cleaned datasets and {folders}"


def refusal(path: str | Path, what: str = "dataset") -> NotReadable:
    """The one refusal, in the same words for a file outside, another person's and a missing one."""
    return NotReadable(
        f"{what}: {path} is no file the studio reads here: it does not exist, or it is outside the folders "
        f"the studio reads ({allowed_text()}), or in another person's run. Check the path or upload the file; "
        "the operator allows a folder by starting the app with --data-dir FOLDER"
    )


def check_readable(path: str | Path, what: str = "dataset", user: str | None = None) -> Path:
    """``path`` expanded when ``user`` may read it; else the one refusal (``refusal``)."""
    if readable(path, user):
        return Path(path).expanduser()
    raise refusal(path, what)
