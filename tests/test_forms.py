"""The generated forms: every options field gets its component, and the values read back typed."""

import gradio as gr
import pytest

from studio.config import ExportConfig
from studio.data.clean import CleanOptions
from studio.schema import ConfigError, typed_fields
from studio.services import Studio
from studio.ui import clean_panel, export_tab
from studio.ui.forms import Form


def test_the_clean_form_is_generated_from_clean_options():
    with gr.Blocks():
        cleaning = clean_panel.controls()
    form = cleaning["form"]
    assert list(form.components) == [f.name for f, _, _ in typed_fields(CleanOptions)]
    kinds = {name: type(c).__name__ for name, c in form.components.items()}
    assert (kinds["dedup"], kinds["exclude"], kinds["max_tokens"], kinds["near_threshold"]) == (
        "CheckboxGroup",
        "Textbox",
        "Number",
        "Slider",
    )
    assert form.components["min_tokens"].info == CleanOptions.__dataclass_fields__["min_tokens"].metadata["help"]
    # the clean_data endpoint's values: empty or 0 bounds mean "no bound"
    defaults = ["drop", True, "", 0, 0, None, 0, ["exact"], 0.8, None, "auto", 0.0, 42]
    assert clean_panel.read_options(form, defaults) == CleanOptions()
    words = ["strip", False, "As an AI\nfoo, bar", 3, 50, 0, 0, ["exact", "near"], 0.9, 0.3, "auto", 0.1, 7]
    read = clean_panel.read_options(form, words)
    assert (read.exclude, read.min_tokens, read.max_tokens, read.dedup, read.semantic_threshold) == (
        ["As an AI", "foo", "bar"],
        3,
        50,
        ["exact", "near"],
        0.3,
    )
    with pytest.raises(ConfigError, match="min_tokens: 9 is above max_tokens 5"):
        clean_panel.read_options(form, ["drop", True, "", 9, 5, 0, 0, [], 0.8, None, "auto", 0.0, 42])
    with pytest.raises(ValueError, match="near_threshold: nan is not a finite number"):
        clean_panel.read_options(form, ["drop", True, "", 0, 0, 0, 0, [], float("nan"), None, "auto", 0.0, 42])


def test_the_export_tab_options_are_export_config(tmp_path):
    with gr.Blocks():
        export_tab.build(Studio(tmp_path / "runs"))
        form = Form()
        form.add(ExportConfig())
    assert list(form.components) == ["dtype", "merged", "private", "update", "verify", "gguf"]
    assert form.components["private"].value is True and form.components["dtype"].value == "bf16"
    values = ["fp16", True, False, True, False, "q8_0"]
    assert ExportConfig(**form.values(values)) == ExportConfig("fp16", True, False, True, False, "q8_0")
    assert export_tab.UPDATE_LABEL == "Update the repository if it exists"
