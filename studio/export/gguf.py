"""A run as one GGUF file for llama.cpp, Ollama and LM Studio.

    python -m studio export --run runs/<id> --out exports/gguf --gguf q8_0

    report = export_gguf(run, "exports/gguf", "q8_0")   # <run>-q8_0.gguf, Modelfile, gguf_check.json

The adapter is first merged into the base at fp32 (studio.export.merge, with its own checks),
or a full fine-tune converted, into a scratch folder; that folder is written as GGUF by
llama.cpp's own converter (studio.models.gguf_writer; a family it cannot convert fails here with
what llama.cpp lacks, and the adapter and merged exports are unaffected).
The file is then read back with transformers' own GGUF loader and compared with the merged model
(studio.export.gguf_check); a file that fails is deleted, never offered. With llama-cpp-python
installed, llama.cpp also chats with it through the template inside it and the reply must end its
turn (studio.export.llamacpp_check; a warning otherwise). The scratch folder goes.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from studio.config.choices import GGUF_TYPES
from studio.export import gguf_check, llamacpp_check, merge, verify
from studio.export.destination import prepare_out
from studio.export.merge import Progress, _say, require_trained
from studio.export.modelfile import write_modelfile
from studio.models import llamacpp_runtime
from studio.models.gguf_writer import write_gguf
from studio.runs.directory import Run


@dataclass
class GGUFReport:
    """What was written and how it compared; ``check`` is studio.export.gguf_check's figures."""

    file: str
    gguf_type: str
    size_bytes: int
    export_seconds: float
    tensors: int
    end_of_turn: str
    sha256: str = ""  # of the file that passed the check: a push sends only that file (studio.export.gguf_hub)
    check: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def check_type(gguf_type: str) -> str:
    if gguf_type not in GGUF_TYPES:
        raise ValueError(f"gguf: {gguf_type!r} is not one of {', '.join(GGUF_TYPES)}")
    return gguf_type


def export_gguf(
    run: Run,
    out: str | Path,
    gguf_type: str = "q8_0",
    overwrite: bool = False,
    sampling=None,
    progress: Progress | None = None,
) -> GGUFReport:
    """Merge the run at fp32, write ``<run>-<type>.gguf`` and a Modelfile in ``out``, check the file."""
    check_type(gguf_type)
    require_trained(run)
    out = prepare_out(out, overwrite, run, kind=f"GGUF {gguf_type} + Modelfile")
    scratch = out / ".merged-fp32"
    done = False
    try:
        _say(progress, 0.02, "merging the adapter into the base at fp32")
        merge.merge(run, scratch, "fp32", progress=lambda f, m: _say(progress, 0.02 + 0.3 * f, m))
        _say(progress, 0.35, f"writing {gguf_type} GGUF")
        started = time.perf_counter()
        path = out / f"{run.id}-{gguf_type}.gguf"
        written = write_gguf(scratch, path, gguf_type, name=run.id)
        report = GGUFReport(str(path), gguf_type, path.stat().st_size, time.perf_counter() - started, **written)
        _say(progress, 0.6, "reading the file back with transformers' GGUF loader and comparing")
        report.check = gguf_check.check(scratch, path, gguf_type, gguf_check.prompts_for(run))
        report.warnings += report.check.pop("warnings", [])
        if llamacpp_runtime.available():  # llama.cpp itself, when llama-cpp-python is installed
            said = report.check["llama_cpp"] = llamacpp_check.chat_check(path, gguf_check.prompts_for(run, 1)[0])
            if not said["stopped"]:
                report.warnings.append(
                    f"in llama.cpp the reply did not end its turn within {said['max_tokens']} tokens"
                )
        report.sha256 = verify.file_sha256(path)
        write_modelfile(out / "Modelfile", path.name, scratch, sampling)
        (out / "gguf_check.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        done = True
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if not done:
            shutil.rmtree(out, ignore_errors=True)  # a file that failed its check is not left to be used
    _say(progress, 1.0, f"{path.name}: {report.size_bytes / 2**20:.1f} MiB, checked")
    return report


def gguf_dir(run: Run, gguf_type: str) -> Path:
    """Where the Export tab keeps a run's GGUF export."""
    return run.path / "export" / f"gguf-{gguf_type}"
