"""Push a run to the Hugging Face Hub: its adapter, or the merged model, with its model card.

    HF_TOKEN=hf_... python -m studio push --run runs/<id> --repo me/tuned [--no-private] [--merged]

    result = push_run(run, "me/tuned", options=ExportConfig(merged=True))  # token: HF_TOKEN or a login
    result = push_run(run, "me/tuned", token, private=False)               # or change single options
    result.url, result.files, result.check              # check: the upload reloaded and compared

The token is used for the requests and nothing else: it is never written to a file, a log, the
run's config, the model card or the training arguments, never put in os.environ, and never
echoed in a message (messages name where it came from instead). The repository is created
only when it does not exist; an existing one is updated only when asked (``update=True``),
and then files of a previous push that this one does not carry (weights, configs) are deleted
so that loaders do not pick up a stale mix. After the commit, the files are downloaded back
from the Hub, compared byte for byte, loaded with plain PEFT / transformers and asked the
probe prompt; their answer must be the studio's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse

import httpx2
from huggingface_hub import HfApi, constants, get_token
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.utils import HFValidationError, validate_repo_id

from studio.config import ExportConfig
from studio.export import verify
from studio.export.destination import MARKER
from studio.export.merge import Progress, export_adapter, folder_bytes, merge, require_trained
from studio.runs.directory import Run
from studio.schema import ConfigError, bounds_problems

log = logging.getLogger(__name__)

# Files a previous push may have left that would confuse a loader next to this push's files.
STALE = ["*.safetensors", "*.bin", "adapter_config.json", "config.json", "generation_config.json", "loss.png"]
TOKEN_HELP = "create a write token at {endpoint}/settings/tokens"


class HubError(ValueError):
    """A push that cannot go on; the message says what is wrong and what to do."""


class TokenMissing(HubError):
    pass


class TokenRejected(HubError):
    pass


class HubUnreachable(HubError):
    pass


class RepoExists(HubError):
    def __init__(self, repo_id: str, url: str):
        self.repo_id, self.url = repo_id, url
        super().__init__(
            f"repository {repo_id} already exists on the Hub ({url}). To push a new commit to it, "
            "tick 'Update the repository if it exists' (CLI: --update); or choose another name."
        )


@dataclass
class PushResult:
    repo_id: str
    url: str
    commit_url: str
    revision: str  # the commit's id
    what: str  # adapter, merged or full
    private: bool
    created: bool
    files: list[str]
    size_bytes: int
    token_source: str = ""  # where the token came from (never the token)
    check: dict = field(default_factory=dict)
    merge: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def endpoint() -> str:
    """The Hub's address: $HF_ENDPOINT when set (read now, not at import), else huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def resolve_token(token: str | None = None) -> tuple[str, str]:
    """(token, where it came from): the argument, HF_TOKEN (a Space secret arrives as one), or a login."""
    if token and token.strip():
        return token.strip(), "the token field"
    if os.environ.get("HF_TOKEN", "").strip():
        where = "the HF_TOKEN Space secret" if os.environ.get("SPACE_ID") else "the HF_TOKEN environment variable"
        return os.environ["HF_TOKEN"].strip(), where

    saved = get_token()
    if saved:
        return saved, "the token saved by `hf auth login`"
    raise TokenMissing(
        "no Hugging Face token: set HF_TOKEN to a write token (Export tab: paste it into the token field; "
        "on a Space: Settings > Variables and secrets > New secret HF_TOKEN); " + TOKEN_HELP.format(endpoint=endpoint())
    )


def token_hint() -> str:
    """Where a push would take its token from, without showing it."""
    try:
        return f"Token: {resolve_token(None)[1]} is set; the field overrides it."
    except TokenMissing:
        return "Token: none found in HF_TOKEN or a saved login; paste a write token."


def check_reachable(url: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not after the client's minute of retries, when the Hub cannot be reached."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return
    except OSError as exc:
        raise HubUnreachable(
            f"cannot reach the Hugging Face Hub at {parsed.hostname} ({exc.strerror or exc}): no network? "
            "Nothing was uploaded; try again when online."
        ) from None


@contextlib.contextmanager
def hub_errors(repo_id: str, token_source: str, hub: str):
    """Translate the client's exceptions into messages that say what to do."""
    try:
        yield
    except RepositoryNotFoundError as exc:
        raise HubError(f"{repo_id}: the Hub says this repository does not exist or the token cannot see it") from exc
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            raise TokenRejected(
                f"the Hub rejected the token from {token_source} (401: invalid or expired); "
                + TOKEN_HELP.format(endpoint=hub)
            ) from None
        if status == 403:
            raise TokenRejected(
                f"the token from {token_source} may not write to {repo_id} (403: read-only token, or no rights "
                f"in namespace {repo_id.split('/')[0]}); " + TOKEN_HELP.format(endpoint=hub)
            ) from None
        raise HubError(f"the Hub refused the push to {repo_id} ({status}): {_first_line(exc)}") from None
    except httpx2.TransportError as exc:
        raise HubUnreachable(
            f"the connection to the Hub failed ({type(exc).__name__}): no network? Nothing already exported is lost; "
            "push again when online."
        ) from None


def _first_line(exc: Exception) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def login(api, token_source: str, hub: str) -> str:
    """The user name behind the token; a read-only token is refused before anything is written."""
    who = api.whoami()
    role = ((who.get("auth") or {}).get("accessToken") or {}).get("role")
    if role == "read":
        raise TokenRejected(
            f"the token from {token_source} is read-only; pushing needs a write token: "
            + TOKEN_HELP.format(endpoint=hub)
        )
    return who["name"]


def full_repo_id(repo: str, user: str) -> str:
    repo = (repo or "").strip().strip("/")
    if not repo:
        raise HubError("repo: give a repository name, e.g. 'my-tuned-model' or 'my-org/my-tuned-model'")
    repo_id = repo if "/" in repo else f"{user}/{repo}"
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise HubError(f"repo: {exc} Use letters, digits, '-', '_' and '.'.") from None
    return repo_id


def stage(run: Run, what: str, repo_id: str, dtype: str, progress: Progress | None) -> tuple[Path, dict | None]:
    """The folder to upload, kept in the run (runs/<id>/export/hub-<what>), and the merge report."""
    folder = run.path / "export" / f"hub-{what}"
    if what == "merged":
        report = merge(run, folder, dtype, repo_id=repo_id, overwrite=True, progress=progress)
        return folder, report.to_dict()
    return export_adapter(run, folder, repo_id=repo_id, overwrite=True), None


@dataclass
class Target:
    """A repository a push may write to: the client, the full id, whether it exists, where the token came from."""

    api: object
    repo_id: str
    exists: bool
    source: str
    hub: str


def open_target(repo: str, token: str | None, update: bool, say: Progress) -> Target:
    """Resolve the token, reach the Hub, log in and find ``repo``; RepoExists unless ``update``."""
    hub = endpoint()
    secret, source = resolve_token(token)
    say(0.02, f"checking the token from {source}")
    check_reachable(hub)
    api = HfApi(endpoint=hub, token=secret)
    with hub_errors(repo, source, hub):
        repo_id = full_repo_id(repo, login(api, source, hub))
        exists = api.repo_exists(repo_id)
    if exists and not update:
        raise RepoExists(repo_id, f"{hub}/{repo_id}")
    return Target(api, repo_id, exists, source, hub)


def push_run(
    run: Run,
    repo: str,
    token: str | None = None,
    options: ExportConfig | None = None,
    progress: Progress | None = None,
    **changes,
) -> PushResult:
    """Create (or, with ``update``, reuse) the repository and upload the run's adapter or merged model.

    ``options`` (studio.config.ExportConfig: dtype, merged, private, update, verify) defaults to
    ExportConfig(); keyword arguments change single fields: ``push_run(run, "me/x", private=False)``.
    """
    o = replace(options or ExportConfig(), **changes)
    if problems := bounds_problems(o):
        raise ConfigError(problems)
    say = progress or (lambda f, m: None)
    kind = require_trained(run)
    what = "full" if kind == "full" else ("merged" if o.merged else "adapter")
    target = open_target(repo, token, o.update, say)
    api, repo_id, exists, source, hub = target.api, target.repo_id, target.exists, target.source, target.hub
    folder, report = stage(run, what, repo_id, o.dtype, lambda f, m: say(0.05 + 0.45 * f, m))
    with hub_errors(repo_id, source, hub):
        result = upload(api, run, repo_id, folder, what, o.private, exists, say)
    result.token_source, result.merge = source, report
    record(run, result)
    if o.verify:
        say(0.8, "downloading what was uploaded and loading it with plain PEFT / transformers")
        with hub_errors(repo_id, source, hub):
            result.check = verify_upload(run, api, repo_id, folder, result.files, result.revision)
        record(run, result)
    say(1.0, f"pushed to {result.url}")
    return result


def upload(api, run: Run, repo_id: str, folder: Path, what: str, private: bool, exists: bool, say) -> PushResult:
    """Create the repository if needed, then one commit with the folder (stale model files deleted)."""
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != MARKER)
    if not exists:
        say(0.5, f"creating {'private' if private else 'public'} repository {repo_id}")
        api.create_repo(repo_id, private=private)
    else:
        private = bool(getattr(api.repo_info(repo_id), "private", private))
    size = folder_bytes(folder)
    say(0.55, f"uploading {len(files)} files ({size / 2**20:.1f} MiB) to {repo_id}")
    commit = api.upload_folder(
        repo_id=repo_id,
        folder_path=folder,
        commit_message=f"Upload {what} from Fine-tuning Studio run {run.id}",
        delete_patterns=STALE if exists else None,
        ignore_patterns=[MARKER],  # the local note that an export made this folder, not part of the model
    )
    return PushResult(
        repo_id=repo_id,
        url=f"{api.endpoint}/{repo_id}",
        commit_url=str(commit.commit_url),
        revision=str(commit.oid),
        what=what,
        private=private,
        created=not exists,
        files=files,
        size_bytes=size,
    )


def verify_upload(run: Run, api, repo_id: str, folder: Path, files: list[str], revision: str) -> dict:
    """Download the pushed files from the Hub, compare them with the local ones, load and ask them."""
    with tempfile.TemporaryDirectory(prefix="studio-hub-check-") as tmp:
        mismatched = []
        for name in files:
            path = api.hf_hub_download(repo_id, name, revision=revision, local_dir=tmp)
            if verify.file_sha256(path) != verify.file_sha256(folder / name):
                mismatched.append(name)
        check = verify.check_folder(run, tmp, reference=folder)
    check["files_identical"] = not mismatched
    if mismatched:
        check["ok"] = False
        check["message"] = f"downloaded {', '.join(mismatched)} differ from what was uploaded; " + check["message"]
    return check


def record(run: Run, result: PushResult) -> None:
    """Append the push to runs/<id>/hub.json (repository, commit, files, check; never the token)."""
    history = run.read_json("hub.json").get("pushes", [])
    entry = {k: v for k, v in result.to_dict().items() if k != "merge"}
    entry["time"] = time.time()
    if history and history[-1].get("commit_url") == result.commit_url:
        history[-1] = entry
    else:
        history.append(entry)
    run.write_json("hub.json", {"pushes": history})
