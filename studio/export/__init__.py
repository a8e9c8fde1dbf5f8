"""Export: what leaves the studio.

- ``destination``: where an export may write, and the marker that lets --overwrite replace it;
- ``merge``: the adapter folder and its zip, merging into the base at a chosen dtype;
- ``verify``: the exported files loaded with the plain libraries answer like the studio;
- ``card`` (+ ``lossplot``): the model card with its loss curve;
- ``hub``: push to the Hugging Face Hub (the adapter or the merged model, with its card).

GGUF, for llama.cpp, Ollama and LM Studio:

- ``gguf``: a run as one GGUF file (merged at fp32, written by llama.cpp's converter, then checked);
- ``gguf_check``: the written file read back by transformers' GGUF loader and compared with the
  merged model; ``llamacpp_check``: the file run in llama.cpp itself, where llama-cpp-python is installed;
- ``modelfile``: the Ollama Modelfile beside the GGUF, so ``ollama create`` needs nothing else;
- ``gguf_hub``: push a run's checked GGUF and its Modelfile to a Hub repository of their own.
"""
