"""Data service: read, recognise, render and clean training data (no UI code here).

sources (files, Hub) -> formats (detect, canonical rows) -> dataset (load_data, fingerprint, split)
-> render (tokens and loss masks), preview, stats (token lengths) -> clean (+ dedup) -> JSONL.

- ``access``: which files the studio may read, and for whom: the one policy every file read goes through;
- ``sources``: a file or Hub dataset read into plain rows, with messages that name what is wrong;
- ``formats``: a dataset's format recognised, each row turned into one canonical shape;
- ``dataset``: from a source to fingerprinted canonical rows, split for training;
- ``rowtext``: the texts inside a canonical row, for cleaning and display;
- ``templates``: chat templates of the supported families, for a model without its own;
- ``render``: the exact tokens a model trains on, and which of them carry loss;
- ``preview``: what the Data tab and ``data preview`` show; ``stats``: token lengths and truncation;
- ``clean``: the cleaning steps, each reporting what it removed; ``clean_options``: their options,
  one dataclass (the Data tab's form and the ``data clean`` flags);
- ``dedup``: exact and near duplicates (MinHash/LSH); ``semantic``: rows that say the same thing in
  other words, by sentence embeddings.
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
