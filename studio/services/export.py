"""The Export tab's door: zip, merge, GGUF, model card and the Hub; only a run's owner.

A part of :class:`studio.services.Studio` (the UI's one door); ``self`` is that object.
"""

from __future__ import annotations

from pathlib import Path

from studio.export import gguf_hub
from studio.export.card import write_card
from studio.export.gguf import export_gguf, gguf_dir
from studio.export.merge import merge, merged_dir, zip_adapter


class ExportDoor:
    # -- export and the Hub: they write into the run, so only its owner (studio.export.*) ---------------
    def export_zip(self, run_id: str, user: str | None = None) -> Path:
        return zip_adapter(self._owned(run_id, user, "export"))

    def merge(self, run_id: str, dtype: str = "bf16", progress=None, user: str | None = None):
        run = self._owned(run_id, user, "export")
        return merge(run, merged_dir(run, dtype), dtype, overwrite=True, progress=progress)

    def export_gguf(self, run_id: str, gguf_type: str = "q8_0", sampling=None, progress=None, user=None):
        """A checked GGUF file and Modelfile in <run>/export/gguf-<type>/ (studio.export.gguf)."""
        run = self._owned(run_id, user, "export")
        return export_gguf(
            run, gguf_dir(run, gguf_type), gguf_type, overwrite=True, sampling=sampling, progress=progress
        )

    def model_card(self, run_id: str, user: str | None = None) -> Path:
        return write_card(self._owned(run_id, user, "export"))

    def push(self, run_id: str, repo: str, token: str | None = None, progress=None, user=None, **options):
        """Push to the Hub; ``options=ExportConfig(...)`` or single fields; ``gguf`` set: the checked GGUF
        (see studio.export.gguf_hub.push and studio.export.hub.push_run)."""
        return gguf_hub.push(self._owned(run_id, user, "push"), repo, token, progress=progress, **options)
