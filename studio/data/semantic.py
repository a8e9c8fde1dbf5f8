"""Semantic duplicates: rows that say the same thing in other words, found by sentence embeddings.

    python -m studio data clean data.jsonl --dedup exact,near,semantic --semantic-threshold 0.5
    groups = semantic_groups(texts, threshold=0.5)            # [[kept, dropped, ...], ...]
    embedder = open_embedder("auto")                          # embedder.name says which model it is

Built on sentence-transformers: the texts are embedded, compared by cosine similarity, and
grouped by its community detection (``util.community_detection``: each group gathers the rows
within the threshold of a central row). The earliest row of a group is kept, as exact and near
dedup keep the first; the others are dropped and the report shows the groups.

Which embedder (``--semantic-model``):
- a sentence-transformers model (a Hub id in the local cache, or a folder with ``modules.json``);
  ``auto`` takes ``sentence-transformers/all-MiniLM-L6-v2`` where it is cached;
- otherwise, offline, the studio's own base model (the embedded SmolLM2 for ``auto``, or any causal
  LM folder): the mean of its hidden states after its first ``LM_LAYERS`` layers. A causal LM's
  states share a few huge directions (the first token holds the attention sink), so a fixed
  first token is prepended and left out of the mean (sentence-transformers' prompt exclusion),
  and each dimension is standardised over the dataset before the cosine. Its similarities run
  lower than a sentence model's: paraphrases from about 0.3, unrelated rows mostly below 0.2, hence its
  own default threshold. ``Embedder.name`` says which one ran; the clean report records it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from huggingface_hub import snapshot_download
from sentence_transformers import SentenceTransformer, models, util

from studio.config import EMBEDDED_MODEL
from studio.data import access
from studio.paths import converted_models_dir

log = logging.getLogger(__name__)

SENTENCE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
LM_LAYERS = (
    12  # how deep the states are taken: paraphrases stand furthest from unrelated rows here (tests/test_semantic.py)
)
LM_SINK = "<|endoftext|>"  # any fixed first token: it takes the attention sink and is left out of the mean
THRESHOLDS = {"sentence": 0.85, "lm": 0.25}  # cosine from which two rows count as the same, per kind
MAX_TOKENS = 256


@dataclass
class Embedder:
    model: object  # a SentenceTransformer
    name: str
    kind: str  # "sentence" (a sentence-embedding model) or "lm" (a causal LM's mean-pooled states)

    def embed(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        """Unit vectors, one per text, ready for cosine by dot product."""
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        if self.kind == "lm":
            vectors = self.model.encode(texts, prompt=LM_SINK, batch_size=batch_size, convert_to_numpy=True)
            vectors = (vectors - vectors.mean(0)) / (vectors.std(0) + 1e-6) if len(texts) > 2 else vectors
        else:
            vectors = self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

    @property
    def default_threshold(self) -> float:
        return THRESHOLDS[self.kind]


def _cached_sentence_model(name: str) -> str | None:
    """A local folder for a sentence-transformers model: the folder itself, or its Hub cache snapshot."""
    if (Path(name) / "modules.json").exists():
        return name
    try:
        folder = snapshot_download(name, local_files_only=True)
    except Exception:  # noqa: BLE001 - not cached (or not a repo id): the caller falls back
        return None
    return folder if (Path(folder) / "modules.json").exists() else None


def open_embedder(model: str = "auto") -> Embedder:
    """The embedder ``model`` names (see the module docstring); ``auto``: a cached sentence model, else
    the embedded base model. A name that is neither is refused with what to give instead."""
    wanted = (model or "auto").strip()
    folder = _cached_sentence_model(SENTENCE_MODEL if wanted == "auto" else wanted)
    if folder:
        name = SENTENCE_MODEL if wanted == "auto" else wanted
        return Embedder(SentenceTransformer(folder, device="cpu", local_files_only=True), name, "sentence")
    lm = _lm_folder(wanted)
    transformer = models.Transformer(str(lm), config_kwargs={"num_hidden_layers": LM_LAYERS}, max_seq_length=MAX_TOKENS)
    tokenizer = transformer.tokenizer
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    pooling = models.Pooling(transformer.get_embedding_dimension(), "mean", include_prompt=False)
    label = f"{lm.name if wanted == 'auto' else wanted} (mean of its first {LM_LAYERS} layers' states)"
    return Embedder(SentenceTransformer(modules=[transformer, pooling], device="cpu"), label, "lm")


def _lm_folder(wanted: str) -> Path:
    """A causal LM's folder: the embedded model's converted copy for ``auto``, else a readable folder."""
    folder = converted_models_dir() / EMBEDDED_MODEL if wanted == "auto" else Path(wanted).expanduser()
    if wanted != "auto" and folder.exists():
        access.check_readable(folder, "model folder")  # the app reads only its own folders
    if (folder / "config.json").exists():
        return folder
    if wanted == "auto":
        raise ValueError("semantic dedup: the embedded model is not prepared; run python -m studio model prepare")
    raise ValueError(
        f"semantic dedup: {wanted} is neither a cached sentence-transformers model nor a model folder; "
        f"give a folder, {SENTENCE_MODEL} once it is in the local cache, or auto"
    )


def semantic_groups(
    texts: list[str], threshold: float | None = None, embedder: Embedder | None = None
) -> tuple[list[list[int]], dict[int, tuple[int, float]], Embedder]:
    """(groups, {dropped: (kept, cosine)}, embedder): each group is sorted, its first row is kept."""
    embedder = embedder or open_embedder()
    threshold = embedder.default_threshold if threshold is None else threshold
    vectors = embedder.embed(texts)
    if len(texts) < 2:
        return [], {}, embedder
    communities = util.community_detection(vectors, threshold=threshold, min_community_size=2)
    groups, dropped, taken = [], {}, set()
    for community in communities:
        members = sorted(i for i in community if i not in taken)
        if len(members) < 2:
            continue
        taken.update(members)
        groups.append(members)
        keep = members[0]
        for i in members[1:]:
            dropped[i] = (keep, float(vectors[i] @ vectors[keep]))
    return sorted(groups), dropped, embedder
