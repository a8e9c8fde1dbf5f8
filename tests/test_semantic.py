"""Semantic dedup (studio.data.semantic): hand-made paraphrases against unrelated rows, with known
answers, through the clean path and the CLI; and the sentence-model branch on a saved model folder."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from studio.data import load_data
from studio.data.clean import CleanOptions, clean

# (0,1), (2,3), (4,5), (6,7) say the same thing in other words; 8-11 are unrelated to every other row.
ROWS = [
    ("How do I bake a chocolate cake at home?", "Mix flour, cocoa, sugar and eggs, then bake."),
    ("What is the way to make a chocolate cake in my kitchen?", "Mix flour, cocoa, sugar and eggs, then bake."),
    ("Explain how photosynthesis works in plants.", "Leaves turn light, water and CO2 into sugar."),
    ("Can you describe the process of photosynthesis in plants?", "Leaves turn light, water and CO2 into sugar."),
    ("Write a poem about the ocean.", "Waves roll in, the blue goes on."),
    ("Compose a short poem about the sea.", "Waves roll in, the blue goes on."),
    ("What is the capital of France?", "Paris."),
    ("Which city is the capital of France?", "Paris."),
    ("List three benefits of regular exercise.", "A stronger heart, better sleep, more energy."),
    ("Translate 'good morning' into Spanish.", "Buenos días."),
    ("How many legs does a spider have?", "Eight."),
    ("Summarize the plot of Hamlet.", "A prince avenges his father and most of the court dies."),
]
PAIRS = [[0, 1], [2, 3], [4, 5], [6, 7]]


@pytest.fixture(scope="module")
def rows_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("semantic") / "paraphrases.jsonl"
    path.write_text("".join(json.dumps({"instruction": q, "input": "", "output": a}) + "\n" for q, a in ROWS))
    return path


@pytest.fixture(scope="module")
def embedder():
    from studio.data.semantic import open_embedder

    return open_embedder("auto")  # offline: the embedded model's states


def test_paraphrases_group_and_unrelated_rows_stay(embedder):
    from studio.data.semantic import semantic_groups

    groups, dropped, used = semantic_groups([q for q, _ in ROWS], embedder=embedder)
    assert used.kind == "lm" and "smollm2" in used.name.lower()  # the choice is named
    assert groups == PAIRS
    assert sorted(dropped) == [1, 3, 5, 7] and all(dropped[i][0] == i - 1 for i in dropped)
    # a threshold above every pair's similarity finds nothing; the threshold is an option
    assert semantic_groups([q for q, _ in ROWS], threshold=0.99, embedder=embedder)[0] == []


def test_clean_composes_exact_near_and_semantic_in_one_pass(rows_file, embedder, monkeypatch):
    import studio.data.semantic as semantic

    monkeypatch.setattr(semantic, "open_embedder", lambda model="auto": embedder)  # one load for the module
    data = load_data(str(rows_file))
    data.rows.append(dict(data.rows[8]))  # an exact copy of an unrelated row
    data.row_numbers.append(len(ROWS) + 1)  # row numbers count from 1
    result = clean(data, CleanOptions(dedup=["exact", "near", "semantic"]))
    assert result.removed["exact_duplicate"] == 1
    step = next(s for s in result.steps if s.name == "semantic_duplicate")
    assert step.removed == 4 and step.embedder == embedder.name
    assert [[m["row"] - 1 for m in g] for g in step.groups] == PAIRS
    assert {e["row"] for e in step.examples} == {2, 4, 6, 8}
    assert result.kept == len(ROWS) - 4
    report = result.to_json()
    assert report["removed"]["semantic_duplicate"] == 4 and report["steps"][-1]["groups"]


def test_cli_clean_semantic_reports_groups(rows_file, tmp_path):
    out = tmp_path / "clean.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "studio", "data", "clean", str(rows_file), "--out", str(out),
         "--dedup", "exact,near,semantic", "--json"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["removed"]["semantic_duplicate"] == 4 and report["kept"] == 8
    assert len(out.read_text().splitlines()) == 8


def test_a_sentence_model_folder_is_used_as_one(tmp_path):
    """A folder with modules.json is a sentence-transformers model: embedded as such, by its name."""
    from sentence_transformers import SentenceTransformer, models

    from studio.bench.tiny import make_tiny_model
    from studio.data.semantic import open_embedder, semantic_groups

    transformer = models.Transformer(str(make_tiny_model(tmp_path / "lm", "llama", seed=0)))
    if transformer.tokenizer.pad_token is None:
        transformer.tokenizer.pad_token = transformer.tokenizer.eos_token
    folder = tmp_path / "sentence-model"
    SentenceTransformer(modules=[transformer, models.Pooling(transformer.get_embedding_dimension())]).save(str(folder))
    embedder = open_embedder(str(folder))
    assert embedder.kind == "sentence" and embedder.name == str(folder) and embedder.default_threshold == 0.85
    groups, _, _ = semantic_groups(["same words", "same words", "other"], embedder=embedder)
    assert groups[0][:2] == [0, 1]  # identical texts embed identically


def test_an_unknown_embedder_is_refused_with_what_to_give(tmp_path):
    from studio.data.semantic import open_embedder

    with pytest.raises(ValueError, match="neither a cached sentence-transformers model nor a model folder"):
        open_embedder("nobody/no-such-embedder")


def test_auto_is_the_folder_the_models_package_converts(embedded_dir):
    from studio.data.semantic import _lm_folder
    from studio.models.loading import embedded_model_dir

    assert _lm_folder("auto") == embedded_model_dir() == embedded_dir
