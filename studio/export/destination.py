"""Where an export writes: a new or empty folder, or one an earlier export made; never a run.

    out = prepare_out("exports/tuned", overwrite=True, run=run, kind="adapter")
    zip_path = prepare_zip(Path("exports/tuned.zip"), overwrite=True)

Every folder an export creates holds ``MARKER`` (``.studio-export.json``: what was exported, from
which run, when), and so does its zip. ``overwrite`` replaces only such a folder (or one of the
studio's own under ``<run>/export/``, which exports wrote before the marker existed): a folder of
someone's files is refused with what to do, whatever the flags say, so ``--out . --overwrite``
can no longer empty the folder it was typed in. The current folder, a run, the runs folder and
any folder holding one are refused outright. An empty existing folder is used as it is.
"""

from __future__ import annotations

import json
import shutil
import time
import zipfile
from pathlib import Path

from studio.paths import inside, runs_root
from studio.runs.directory import Run

MARKER = ".studio-export.json"


def is_run(folder: Path) -> bool:
    return (folder / "config.yaml").is_file() and (folder / "status.json").is_file()


def guard_runs(out: Path, run: Run | None = None) -> None:
    """Refuse an output folder inside a run (its export/ folder aside) or holding runs: an export
    never writes into a run, and ``overwrite`` never deletes one."""
    target = out.resolve()
    for folder in (target, *target.parents):
        if is_run(folder) and target.relative_to(folder).parts[:1] != ("export",):
            raise ValueError(
                f"out: {out} is inside the run {folder.name}; exporting there would overwrite the run's own files. "
                "Choose a folder outside the run (the studio's own exports go to <run>/export/)"
            )
    held = [p for p in (run.path if run else None, runs_root()) if p is not None and inside(p, [target])]
    if held or (target.is_dir() and any(is_run(child) for child in target.iterdir() if child.is_dir())):
        raise ValueError(f"out: {out} holds runs; exporting there could delete them. Choose a new, empty folder")


def guard_cwd(out: Path) -> None:
    """Refuse the folder the command runs in, or one holding it: an export never replaces it."""
    if inside(Path.cwd(), [out]):
        raise ValueError(
            f"out: {out} is the current folder or holds it; an export never writes there. "
            "Give a new folder, e.g. --out exports/tuned"
        )


def made_by_export(folder: Path) -> bool:
    """The folder holds the export marker, or is one of the studio's own, ``<run>/export/<name>``."""
    return (folder / MARKER).is_file() or (folder.parent.name == "export" and is_run(folder.parent.parent))


def prepare_out(out: str | Path, overwrite: bool = False, run: Run | None = None, kind: str = "adapter") -> Path:
    """An empty output folder holding the marker. A non-empty one is replaced only with ``overwrite``
    and only when an export made it; any other is refused; a run or the current folder never."""
    out = Path(out).expanduser()
    guard_cwd(out)
    guard_runs(out, run)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out: {out} is a file; give a folder")
    if out.is_dir() and any(out.iterdir()):
        if not made_by_export(out):
            raise ValueError(
                f"out: {out} is not empty and holds files no studio export wrote (it has no {MARKER}), so the "
                "export leaves them alone, --overwrite too. Choose a new folder, or empty this one yourself"
            )
        if not overwrite:
            raise ValueError(f"out: {out} is not empty (an earlier export); choose a new folder, or --overwrite it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    write_marker(out, run, kind)
    return out


def write_marker(folder: Path, run: Run | None, kind: str) -> Path:
    """``folder/MARKER``: what this export holds and from which run; a later --overwrite looks for it."""
    record = {"kind": kind, "run": run.id if run else None, "run_dir": str(run.path) if run else None}
    path = folder / MARKER
    path.write_text(json.dumps({**record, "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=2) + "\n")
    return path


def prepare_zip(zip_path: Path, overwrite: bool = False) -> Path:
    """Where an export's zip may go: a new path, or (with ``overwrite``) a zip an export wrote."""
    zip_path = Path(zip_path).expanduser()
    if zip_path.exists() or zip_path.is_symlink():
        if not _export_zip(zip_path):
            raise ValueError(
                f"zip: {zip_path} exists and is no studio export's zip; the export leaves it alone. "
                "Move or delete it yourself, or give --out another name"
            )
        if not overwrite:
            raise ValueError(f"zip: {zip_path} exists (an earlier export); --overwrite replaces it")
    return zip_path


def _export_zip(path: Path) -> bool:
    if path.is_symlink() or not path.is_file() or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return MARKER in archive.namelist()
