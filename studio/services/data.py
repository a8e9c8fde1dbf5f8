"""The Data tab's door: tokenizers, loading a dataset a person may read, the preview.

A part of :class:`studio.services.Studio` (the UI's one door); ``self`` is that object.
"""

from __future__ import annotations

from studio.data import LoadedData, load_data
from studio.data.preview import PREVIEW_ROWS, Preview, preview
from studio.models import loading


class DataDoor:
    # -- models ----------------------------------------------------------------------------------
    def tokenizer(self, model: str, user: str | None = None):
        loading.local_folder((model or "").strip(), user)  # a folder ``user`` may not read: refused, not cached
        with self._lock:
            if model not in self._tokenizers:
                self._tokenizers[model] = loading.load_tokenizer(model)
            return self._tokenizers[model]

    # -- data ------------------------------------------------------------------------------------
    def load_data(self, source: str, fmt="auto", columns="", system_prompt="", user=None) -> LoadedData:
        """A Hub dataset, or a file ``user`` may read: not another person's run files (studio.data.access)."""
        return load_data(source, fmt, columns, system_prompt, user=user)

    def preview(
        self, data: LoadedData, model: str, max_length: int | None = None, n: int = PREVIEW_ROWS, user=None
    ) -> Preview:
        return preview(data, self.tokenizer(model, user), max_length, n)
