"""Read a dataset file or Hub dataset into plain rows, with messages that name what is wrong.

``datasets`` does the reading (JSON, JSONL, CSV, Parquet, Hub ids). Before it runs, a file is
checked for what it reports badly (size against free memory, encoding, byte-order marks, a
malformed line), so the message can name the line and the fix instead of an Arrow traceback.
A local path is read only where studio.data.access lets ``user`` read (the folders the app reads,
their own runs and the shared ones), checked before anything about the file is looked at.

    from studio.data.sources import read_source
    source = read_source("data.jsonl")          # source.rows, source.notes
    read_source("org/name:test")                # a Hub dataset and its split
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from huggingface_hub import HfApi, constants
from huggingface_hub.errors import GatedRepoError, HTTPError, RepositoryNotFoundError

from studio.data.access import NotReadable, check_readable, readable

log = logging.getLogger(__name__)

READERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
# A file is refused, before anything is read, when its rows would take more than this share
# of the free memory. Parquet is compressed: its rows take about this many times the file.
MEMORY_SHARE = 0.5
PARQUET_EXPANSION = 4
UTF8_BOM = b"\xef\xbb\xbf"
OTHER_BOMS = {  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


class DataError(ValueError):
    """A dataset that cannot be read; the message names the file, the place and the fix."""


@dataclass
class Source:
    rows: list[dict]
    notes: list[str] = field(default_factory=list)  # harmless oddities fixed on the way (a BOM...)


def free_memory_bytes() -> int:
    """Memory the system can give this process now (RAM, also on a GPU machine)."""
    return int(psutil.virtual_memory().available)


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def check_size(path: Path, reader: str, memory_bytes: int | None = None) -> None:
    """Refuse a file whose rows would not fit in memory, before reading a byte of it."""
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{path.name} is empty (0 bytes)")
    available = free_memory_bytes() if memory_bytes is None else memory_bytes
    needed = size * (PARQUET_EXPANSION if reader == "parquet" else 1)
    if needed > MEMORY_SHARE * available:
        limit = MEMORY_SHARE * available / (PARQUET_EXPANSION if reader == "parquet" else 1)
        raise DataError(
            f"{path.name} is {_size(size)}, too large for the {_size(available)} of free memory; "
            f"split it into files under {_size(limit)} (e.g. `split -l 100000 {path.name} part_`) "
            "or free memory"
        )


def decode(path: Path, raw: bytes) -> tuple[str, list[str]]:
    """The text of a JSON or CSV file: UTF-8, a UTF-8 byte-order mark dropped; anything else refused."""
    for bom, encoding in OTHER_BOMS.items():
        if raw.startswith(bom):
            raise DataError(
                f"{path.name} is {encoding} (it starts with a {encoding} byte-order mark); "
                "re-save it as UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8`)"
            )
    notes = []
    if raw.startswith(UTF8_BOM):
        notes.append(f"{path.name} starts with a UTF-8 byte-order mark; it was ignored")
        raw = raw[len(UTF8_BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path.name} is not UTF-8 (byte 0x{raw[exc.start]:02x} at line {line}); "
            "re-save it as UTF-8 (e.g. `iconv -f latin1 -t UTF-8`)"
        ) from None
    if not text.strip():
        raise DataError(f"{path.name} is empty (only whitespace)")
    return text, notes


def diagnose_json(name: str, text: str) -> str | None:
    """A precise message for JSON/JSONL text that is not an array of objects or one object per line."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            return f"{name}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        bad = next((i for i, r in enumerate(data) if not isinstance(r, dict)), None)
        if bad is not None:
            return f"{name}: item {bad + 1} of the array is a {type(data[bad]).__name__}, expected an object per row"
        return None if data else f"{name} holds an empty array: no rows"
    if stripped.startswith("{") and "\n" in stripped.strip():
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            whole = None
        if isinstance(whole, dict):  # one pretty-printed object, not one object per line
            lists = [k for k, v in whole.items() if isinstance(v, list)]
            hint = f"; the rows may be the list under {lists[0]!r}: save that list alone" if lists else ""
            return f"{name} holds a single JSON object, expected an array of rows or one object per line{hint}"
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            return f"{name}: line {number} is not valid JSON ({exc.msg}, column {exc.colno}); fix or delete that line"
        if not isinstance(value, dict):
            return f"{name}: line {number} is a {type(value).__name__}, expected an object per line"
    return None


def _plain_json(text: str) -> list[dict]:
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class _Reported(logging.Filter):
    """datasets logs a file it fails to parse as an ERROR and then raises; read_file names the
    problem in one clear line (or reads mixed JSON rows as plain JSON), so the log is dropped."""

    LOGGERS = [f"datasets.packaged_modules.{kind}.{kind}" for kind in ("csv", "json", "parquet")]

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to")

    @classmethod
    def install(cls) -> None:
        for name in cls.LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(f, cls) for f in logger.filters):
                logger.addFilter(cls())


def _with_datasets(path: Path, reader: str, max_rows: int | None) -> list[dict]:
    import datasets  # lazy: cli-startup - datasets takes seconds; the CLI imports this package to build its flags

    _Reported.install()
    # A throwaway cache (on the datasets cache's disk, not a small /tmp): datasets copies the
    # whole file into Arrow, and the shared cache would keep a full-size copy of every file read.
    Path(datasets.config.HF_DATASETS_CACHE).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="studio-read-", dir=datasets.config.HF_DATASETS_CACHE) as cache:
        dataset = datasets.load_dataset(reader, data_files=str(path), split="train", cache_dir=cache)
        if max_rows is not None:
            dataset = dataset.select(range(min(max_rows, len(dataset))))
        return dataset.to_list()


def read_file(
    path: str | Path, max_rows: int | None = None, memory_bytes: int | None = None, user: str | None = None
) -> Source:
    """Rows of a local JSON, JSONL, CSV or Parquet file ``user`` may read; ``memory_bytes``
    overrides the free memory."""
    import datasets  # lazy: cli-startup

    try:
        path = check_readable(path, user=user)  # before anything is looked at: nothing can be probed
    except NotReadable as exc:
        raise DataError(str(exc)) from None
    if not path.exists():  # only at the command line: the app's refusal above covers a missing file
        raise DataError(f"dataset file not found: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a folder; pick a .json, .jsonl, .csv or .parquet file")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path.name}: unsupported file type {path.suffix!r}; use .json, .jsonl, .csv or .parquet")
    check_size(path, reader, memory_bytes)
    text, notes = decode(path, path.read_bytes()) if reader != "parquet" else ("", [])
    if reader == "json":
        problem = diagnose_json(path.name, text)
        if problem:
            raise DataError(problem)
    if reader == "csv" and len(text.strip().splitlines()) < 2:
        raise DataError(f"{path.name} has a header ({text.strip()[:200]}) but no rows")
    try:
        rows = _with_datasets(path, reader, max_rows)
    except (datasets.exceptions.DatasetsError, ValueError, TypeError) as exc:
        if reader != "json":
            raise DataError(f"{path.name} could not be read as {reader.upper()}: {_root_cause(exc)}") from exc
        # Arrow wants one type per column; rows of mixed shapes still read as plain JSON.
        log.info("datasets could not read %s (%s); reading it as plain JSON", path, exc)
        rows = _plain_json(text)[:max_rows]
    if not rows:
        raise DataError(f"{path.name} has no rows")
    if reader == "csv" and notes:
        rows = [{k.lstrip("\ufeff"): v for k, v in row.items()} for row in rows]
    return Source(rows, notes)


RAGGED_CSV = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _root_cause(exc: BaseException) -> str:
    """The innermost reason: datasets wraps the parser's error (which names the line) in a generic one."""
    while exc.__cause__ or exc.__context__:
        exc = exc.__cause__ or exc.__context__
    ragged = RAGGED_CSV.search(str(exc))
    if ragged:
        expected, line, saw = ragged.groups()
        return (
            f"line {line} has {saw} fields where the header has {expected}; "
            "quote values that contain a comma, or fix that line"
        )
    return str(exc)


def hub_offline() -> bool:
    """HF_HUB_OFFLINE, read now (huggingface_hub reads it once, at import)."""
    value = os.environ.get("HF_HUB_OFFLINE", "").upper()
    return value in {"1", "ON", "YES", "TRUE"} or bool(constants.HF_HUB_OFFLINE)


def _probe_hub(dataset_id: str) -> None:
    """Ask the Hub about the dataset first: a missing network fails in seconds, not after retries."""
    try:
        HfApi().dataset_info(dataset_id, timeout=10)
    except GatedRepoError as exc:
        raise DataError(f"Hub dataset {dataset_id!r} is gated: accept its terms on the Hub and log in") from exc
    except RepositoryNotFoundError as exc:
        raise DataError(
            f"{dataset_id!r} is neither a local file nor a dataset on the Hub (private ones need a login); "
            "check the path or the id"
        ) from exc
    except (HTTPError, OSError) as exc:  # HTTPError: the client's, network failures included
        raise DataError(
            f"{dataset_id!r} is not a local file, and the Hub cannot be reached to fetch it "
            f"({type(exc).__name__}: {exc}). Check the network, or download the dataset and open its file."
        ) from exc


def read_hub(dataset_id: str, split: str = "train", max_rows: int | None = None) -> Source:
    """Rows of a Hub dataset; a clear message when the id is wrong or the Hub cannot be reached."""
    import datasets  # lazy: cli-startup

    if not HUB_ID.fullmatch(dataset_id):
        raise DataError(f"{dataset_id!r} is neither a local file nor a Hub dataset id like 'org/name'")
    if hub_offline():
        raise DataError(
            f"{dataset_id!r} (split {split!r}) is not a local file, and the Hub is switched off (HF_HUB_OFFLINE is set); "
            "unset it when online, or download the dataset and open its file"
        )
    _probe_hub(dataset_id)
    try:
        dataset = datasets.load_dataset(dataset_id, split=split)
    except ValueError as exc:  # an unknown split names the ones that exist
        raise DataError(f"Hub dataset {dataset_id!r}, split {split!r}: {exc}") from exc
    except (datasets.exceptions.DatasetsError, OSError) as exc:
        raise DataError(
            f"could not load Hub dataset {dataset_id!r} (split {split!r}): {type(exc).__name__}: {exc}"
        ) from exc
    if max_rows:
        dataset = dataset.select(range(min(max_rows, len(dataset))))
    rows = dataset.to_list()
    if not rows:
        raise DataError(f"Hub dataset {dataset_id!r}, split {split!r} has no rows")
    return Source(rows)


def is_local(source: str, user: str | None = None) -> bool:
    """Whether ``source`` names a local file (else a Hub id). Whether a path exists is asked only
    where ``user`` may read, so the answer cannot tell anything about other places."""
    path = Path(source).expanduser()
    looks_local = path.suffix.lower() in READERS or source.startswith((".", "/", "~")) or ".." in path.parts
    return looks_local or (readable(path, user) and path.exists())


def check_source(source: str, what: str = "dataset", user: str | None = None) -> None:
    """Refuse a local ``source`` that ``user`` may not read, reading nothing (a Hub id passes)."""
    source = (source or "").strip()
    if source and is_local(source, user):
        try:
            check_readable(source, what, user)
        except NotReadable as exc:
            raise DataError(str(exc)) from None


def read_source(
    source: str,
    max_rows: int | None = None,
    split: str = "train",
    memory_bytes: int | None = None,
    user: str | None = None,
) -> Source:
    """A local file ``user`` may read, or a Hub dataset id such as 'org/name' (optionally
    'org/name:split'); ``user=None`` is the operator (studio.data.access)."""
    source = (source or "").strip()
    if not source:
        raise DataError("dataset: no file or dataset id given")
    if is_local(source, user):
        return read_file(Path(source).expanduser(), max_rows, memory_bytes, user)
    if ":" in source:
        source, split = source.rsplit(":", 1)
    return read_hub(source, split or "train", max_rows)


def read_rows(source: str, max_rows: int | None = None, split: str = "train") -> list[dict]:
    """The rows alone (see ``read_source``)."""
    return read_source(source, max_rows, split).rows
