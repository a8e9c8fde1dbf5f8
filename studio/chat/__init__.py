"""Chat: the base and adapters side by side.

- ``engine``: the one owner of the chat models, streaming replies column by column;
- ``adapter_bank``: adapters loaded into the one base and switched per column;
- ``sources``: what a column's source is (an adapter or a whole model) and the base it was trained from;
- ``options``: the sampling settings, apart from the sampler so the CLI builds its flags without torch;
- ``sampling``: the sampler (transformers' logits processors) and the next-token window;
- ``prefix_cache``: a turn computes only what the conversation added since that person's last turn;
- ``llamacpp``: decoding in llama.cpp on a CPU where llama-cpp-python is installed (each source
  written once as a GGUF);
- ``compare``: a batch of prompts through base and adapter; ``arena``: blind votes -> DPO pairs;
- ``backends``: text from a model wherever it runs (this engine, a GGUF, an OpenAI-compatible
  server), the one way judges, teachers and pair samplers speak to a model.
"""
