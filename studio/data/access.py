"""Which folders the studio may read data from: the one policy every file read goes through.

    from studio.data.access import check_readable
    check_readable("assets/sample_sft.jsonl")     # the resolved path, or DataError
    check_readable("../../etc/passwd")            # DataError: outside the folders the studio reads

A studio on a Space (or on ``--host 0.0.0.0``) is a page anyone with the link or the login can
type paths into, so a dataset path is read only from:

- the uploads folder (Gradio's, ``$GRADIO_TEMP_DIR`` or ``<tmp>/gradio``);
- the studio's own assets, its runs folder and the folder cleaned datasets are saved in;
- the folders the operator allows: ``python app.py --data-dir FOLDER`` (repeatable), or
  ``$STUDIO_DATA_DIRS`` (folders joined with ``os.pathsep``) for the CLI and tests. Without
  either, local use allows the current folder and a Space only ``/data``.

Paths are resolved (``..`` and symbolic links followed) before they are compared, and the
refusal reads the same whether the file exists or not, so nothing outside can be probed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ENV = "STUDIO_DATA_DIRS"
ASSETS = Path(__file__).resolve().parents[2] / "assets"
SPACE_DATA = Path("/data")


class NotReadable(ValueError):
    """A path outside the folders the studio may read (a DataError subclass is raised by loading)."""


def operator_dirs() -> list[Path]:
    """The folders the operator allows: $STUDIO_DATA_DIRS, else the current folder (a Space: /data)."""
    given = [Path(p).expanduser() for p in os.environ.get(ENV, "").split(os.pathsep) if p.strip()]
    if given:
        return given
    return [SPACE_DATA] if os.environ.get("SPACE_ID") else [Path.cwd()]


def cache_dir() -> Path:
    """The studio's cache: converted models (``models/``) and cleaned datasets (``datasets/``)."""
    root = os.environ.get("STUDIO_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "studio"
    )
    return Path(root)


def uploads_dir() -> Path:
    """Where Gradio keeps uploaded files (the same rule as gradio.utils.get_upload_folder)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")


def _studio_dirs() -> list[Path]:
    from studio.runs.directory import runs_root  # import cycle: runs -> config -> data

    return [uploads_dir(), ASSETS, runs_root()]


def _cleaned_dir() -> Path:
    """The folder the Data tab saves cleaned datasets in (studio.data.clean.default_output)."""
    from studio.data.clean import default_output  # import cycle: clean reads data through this module

    return default_output("dataset", "0").parent


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.is_relative_to(folder.expanduser().resolve())
    except OSError:
        return False


def readable(path: str | Path) -> bool:
    """Whether the studio may read ``path`` (resolved, so ``..`` and links cannot leave a folder)."""
    try:
        resolved = Path(path).expanduser().resolve()
    except (OSError, RuntimeError):  # a symbolic link loop
        return False
    if any(_inside(resolved, folder) for folder in _studio_dirs() + operator_dirs()):
        return True
    return _inside(resolved, _cleaned_dir())


def allowed_text() -> str:
    """The allowed folders, for a message: uploads, assets, runs, and the operator's own."""
    folders = ", ".join(str(p) for p in operator_dirs())
    return f"uploads, the studio's assets, the runs folder, cleaned datasets and {folders}"


def check_readable(path: str | Path, what: str = "dataset") -> Path:
    """``path`` expanded, or NotReadable; the message is the same whether the file exists or not."""
    if readable(path):
        return Path(path).expanduser()
    raise NotReadable(
        f"{what}: {path} is outside the folders the studio reads ({allowed_text()}); "
        f"upload the file instead, or start the app with --data-dir FOLDER (${ENV} for the CLI)"
    )
