"""Where the studio keeps things, and whether a path lies inside given folders: one leaf module
(it imports nothing of the studio's) that data/, models/, runs/, chat/ and the entry points ask.

    from studio.paths import runs_root, cache_dir, cleaned_dir, uploads_dir, allowed_dirs, inside
    runs_root()                       # runs/ (or $STUDIO_RUNS_DIR, or /data/runs on a Space)
    inside(path, [runs_root(), *allowed_dirs()])   # resolved: ``..`` and links cannot leave

The environment, read at each call (so a test or ``--data-dir`` may change it at any time):

=======================  ===========================================================================
``STUDIO_RUNS_DIR``      the runs root; else ``/data/runs`` on a Space with persistent storage, else ``./runs``
``STUDIO_CACHE_DIR``     the cache (converted models, chat GGUFs); else ``$XDG_CACHE_HOME/studio``
``STUDIO_CLEANED_DIR``   where the Data tab saves cleaned datasets; else ``<cache>/datasets``
``STUDIO_ALLOWED_DIRS``  the folders the operator lets the app read data and models from, joined with
                         ``os.pathsep`` (``python app.py --data-dir``); else the current folder (a Space: ``/data``)
``GRADIO_TEMP_DIR``      Gradio's uploads; else ``<tmp>/gradio``
=======================  ===========================================================================

``STUDIO_DATA_DIR`` and ``STUDIO_DATA_DIRS``, one letter apart, were the old names of the cleaned
folder and the allowed folders; they still work, with a one-line deprecation warning.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

RUNS_ENV = "STUDIO_RUNS_DIR"
CACHE_ENV = "STUDIO_CACHE_DIR"
CLEANED_ENV = "STUDIO_CLEANED_DIR"
ALLOWED_ENV = "STUDIO_ALLOWED_DIRS"
RENAMED = {"STUDIO_DATA_DIR": CLEANED_ENV, "STUDIO_DATA_DIRS": ALLOWED_ENV}  # old name: new name
ENV_NAMES = (RUNS_ENV, CACHE_ENV, CLEANED_ENV, ALLOWED_ENV, *RENAMED)  # what a worker process inherits

ASSETS = Path(__file__).resolve().parents[1] / "assets"
SPACE_DATA = Path("/data")

_warned: set[str] = set()


def env(name: str) -> str:
    """``$name``, else the value of its old name (``RENAMED``) with a deprecation line, once a process."""
    if value := os.environ.get(name, ""):
        return value
    for old, new in RENAMED.items():
        if new == name and (value := os.environ.get(old, "")):
            if old not in _warned:
                _warned.add(old)
                log.warning("$%s is deprecated: set $%s instead (the same value)", old, new)
            return value
    return ""


def runs_root() -> Path:
    """The folder run directories are made in (studio.runs.directory)."""
    if given := env(RUNS_ENV):
        return Path(given)
    if os.environ.get("SPACE_ID") and SPACE_DATA.is_dir() and os.access(SPACE_DATA, os.W_OK):
        return SPACE_DATA / "runs"
    return Path("runs")


def cache_dir() -> Path:
    """The studio's cache: converted models (``models/``), chat GGUFs, cleaned datasets (``datasets/``)."""
    root = env(CACHE_ENV) or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "studio")
    return Path(root)


def converted_models_dir() -> Path:
    """Where models converted into plain Hugging Face folders are kept, one folder each (the embedded one among them)."""
    return cache_dir() / "models"


def cleaned_dir() -> Path:
    """The folder the Data tab saves cleaned datasets in (studio.data.clean.default_output)."""
    return Path(env(CLEANED_ENV) or cache_dir() / "datasets")


def uploads_dir() -> Path:
    """Where Gradio keeps uploaded files (the same rule as gradio.utils.get_upload_folder)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")


def allowed_dirs() -> list[Path]:
    """The folders the operator allows: $STUDIO_ALLOWED_DIRS, else the current folder (a Space: /data)."""
    given = [Path(p).expanduser() for p in env(ALLOWED_ENV).split(os.pathsep) if p.strip()]
    if given:
        return given
    return [SPACE_DATA] if os.environ.get("SPACE_ID") else [Path.cwd()]


def resolved(path: str | Path) -> Path | None:
    """``path`` with ``~``, ``..`` and symbolic links followed; None for a link loop or an unreadable part."""
    try:
        return Path(path).expanduser().resolve()
    except (OSError, RuntimeError):  # a symbolic link loop
        return None


def inside(path: str | Path, folders: Iterable[str | Path]) -> bool:
    """Whether ``path``, resolved, lies in one of ``folders`` (each resolved too)."""
    target = resolved(path)
    if target is None:
        return False
    for folder in folders:
        root = resolved(folder)
        if root is not None and target.is_relative_to(root):
            return True
    return False
