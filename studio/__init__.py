"""Fine-tuning Studio: the service layer behind the Gradio app and the CLI.

Services here never import gradio; the UI (studio/ui/) never imports torch, transformers or trl.
"""

__version__ = "0.1.0"
