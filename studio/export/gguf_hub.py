"""Push a run's checked GGUF and its Ollama Modelfile to a Hub repository of their own, with a
model card that says how to run them in llama.cpp and Ollama.

    HF_TOKEN=hf_... python -m studio push --run <id> --repo me/tuned-GGUF --gguf q8_0

    result = push(run, "me/tuned-GGUF", gguf="q8_0")   # the GGUF; without gguf: hub.push_run (adapter, merged)

The files are the run's GGUF export (runs/<id>/export/gguf-<type>/, the Export tab's): written
first when the run has none, which checks it (studio.export.gguf_check) and keeps nothing that
failed. Only the file that passed is sent: the export records the file's SHA-256 in
gguf_check.json after the check, and a file whose bytes no longer match (changed, truncated) is
refused before anything reaches the Hub. A GGUF gets a repository of its own, as the Hub's GGUF
repositories do: the loaders that fetch a whole repository then find one model in it. The token
is handled as in studio.export.hub: used for the requests, written nowhere.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import replace
from pathlib import Path

import yaml

from studio.config import ExportConfig
from studio.export import verify
from studio.export.card import metadata
from studio.export.gguf import check_type, export_gguf, gguf_dir
from studio.export.hub import (
    HubError,
    PushResult,
    hub_errors,
    open_target,
    push_run,
    record,
    upload,
)
from studio.export.merge import Progress, require_trained
from studio.models import loading
from studio.runs.directory import Run

CHECK_FILE = "gguf_check.json"


def checked_export(run: Run, gguf_type: str, progress: Progress | None = None) -> tuple[Path, dict]:
    """(the export folder, its check report): the run's GGUF of that type, written now if it has none."""
    folder = gguf_dir(run, gguf_type)
    if not (folder / CHECK_FILE).is_file():
        export_gguf(run, folder, gguf_type, overwrite=True, progress=progress)  # GGUFCheckError: nothing kept
    report = json.loads((folder / CHECK_FILE).read_text())
    path = folder / Path(report["file"]).name
    if not report.get("sha256"):
        raise HubError(f"{folder}: this GGUF was written before exports recorded its checked hash; write it again")
    if not path.is_file() or verify.file_sha256(path) != report["sha256"]:
        raise HubError(
            f"{path.name} is not the file that passed its check (missing or changed since): "
            "write the GGUF again (Export tab, or `python -m studio export --gguf`), then push"
        )
    return folder, report


def ollama_name(repo_id: str) -> str:
    """A model name Ollama accepts: the repository's, lower case."""
    return re.sub(r"[^a-z0-9._-]+", "-", repo_id.split("/")[-1].lower()).strip("-.") or "tuned"


def gguf_card(run: Run, report: dict, repo_id: str) -> str:
    """README.md: Hub metadata, what the file is, how to run it in llama.cpp and Ollama, its check."""
    cfg = run.config()
    base = loading.base_model_id(cfg.model.model)
    meta = metadata(run, "merged")
    meta["library_name"] = "gguf"
    meta["tags"] = [*meta["tags"], "gguf", "llama.cpp", "ollama", report["gguf_type"]]
    file, name, check = Path(report["file"]).name, ollama_name(repo_id), report.get("check", {})
    return "\n".join(
        [
            "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n",
            f"# {repo_id.split('/')[-1]}\n",
            f"`{file}` is `{base}` fine-tuned with {cfg.train.method.upper()} ({cfg.adapter.adapter}) in "
            f"Fine-tuning Studio (run `{run.id}`), merged and written as one {report['gguf_type']} GGUF "
            f"({report['size_bytes'] / 2**20:.1f} MiB) with its chat template and end-of-turn token "
            f"(`{report['end_of_turn']}`) inside. `Modelfile` is for Ollama.\n",
            "## Run it\n",
            f"Download the files: `hf download {repo_id} --local-dir {name} && cd {name}`\n",
            "llama.cpp, a chat in the terminal with the template inside the file, or a server:\n",
            f"```bash\nllama-cli -m {file} -cnv\nllama-server -m {file} --port 8080\n```\n",
            "Ollama (the Modelfile names the file, the prompt format, the stop token and the sampling):\n",
            f"```bash\nollama create {name} -f Modelfile\nollama run {name}\n```\n",
            "## Check\n",
            f"Read back with {check.get('reader', 'transformers')} and compared with the merged model on "
            f"{check.get('prompts', '?')} prompts: KL {check.get('kl', float('nan')):.3g} nats (tolerance "
            f"{check.get('tolerance', '?')}), greedy agreement {check.get('greedy_agreement', '?')}. "
            f"SHA-256 of `{file}`: `{report['sha256']}`.\n",
        ]
    )


def push(run: Run, repo: str, token: str | None = None, options=None, progress=None, **changes) -> PushResult:
    """A run to the Hub: its checked GGUF when ``gguf`` names a type, else its adapter or merged model
    (studio.export.hub.push_run). ``options`` is an ExportConfig; keyword arguments change single fields."""
    o = replace(options or ExportConfig(), **changes)
    if o.gguf == "none":
        return push_run(run, repo, token, o, progress)
    return push_gguf(run, repo, o, token, progress)


def push_gguf(
    run: Run, repo: str, options: ExportConfig, token: str | None = None, progress: Progress | None = None
) -> PushResult:
    """Create (or, with ``options.update``, reuse) ``repo`` and upload the run's checked ``options.gguf`` file."""
    say = progress or (lambda f, m: None)
    gguf_type = check_type(options.gguf)
    require_trained(run)
    target = open_target(repo, token, options.update, say)
    api, repo_id, exists, source, hub = target.api, target.repo_id, target.exists, target.source, target.hub
    folder, report = checked_export(run, gguf_type, lambda f, m: say(0.05 + 0.45 * f, m))
    (folder / "README.md").write_text(gguf_card(run, report, repo_id))
    with hub_errors(repo_id, source, hub):
        result = upload(api, run, repo_id, folder, f"gguf-{gguf_type}", options.private, exists, say)
    result.token_source = source
    if options.verify:
        say(0.8, "downloading what was uploaded and comparing it byte for byte")
        with hub_errors(repo_id, source, hub):
            result.check = _identical(api, repo_id, folder, result.files, result.revision)
    record(run, result)
    say(1.0, f"pushed to {result.url}")
    return result


def _identical(api, repo_id: str, folder: Path, files: list[str], revision: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="studio-hub-check-") as tmp:
        differ = [
            name
            for name in files
            if verify.file_sha256(api.hf_hub_download(repo_id, name, revision=revision, local_dir=tmp))
            != verify.file_sha256(folder / name)
        ]
    said = f"{', '.join(differ)} differ from what was uploaded" if differ else "the files are identical"
    return {"ok": not differ, "files_identical": not differ, "message": said}
