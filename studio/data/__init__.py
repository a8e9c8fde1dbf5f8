"""Data service: read, recognise, render and clean training data (no UI code here).

loading (files, Hub) -> formats (detect, canonical rows) -> dataset (load_data, fingerprint, split)
-> render (tokens and loss masks), preview, stats (token lengths) -> clean (+ dedup) -> JSONL.
"""

from studio.data.dataset import LoadedData, canonicalize, fingerprint, load_data, split
from studio.data.formats import FORMATS, RowError, detect_format
from studio.data.render import Rendered, render_chat, render_row, render_text
from studio.data.sources import DataError, read_rows

__all__ = [
    "FORMATS",
    "DataError",
    "LoadedData",
    "Rendered",
    "RowError",
    "canonicalize",
    "detect_format",
    "fingerprint",
    "load_data",
    "read_rows",
    "render_chat",
    "render_row",
    "render_text",
    "split",
]
