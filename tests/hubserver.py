"""A loopback stand-in for the Hugging Face Hub: just enough HTTP API for the real client.

    with FakeHub(tokens={"hf_good": "alice"}) as hub:
        env = {"HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_XET": "1"}   # for a subprocess
        ...
        hub.repos["alice/tuned"].files      # what arrived, path -> bytes
        hub.requests                        # every (method, path, Authorization header)

It answers the calls ``huggingface_hub`` makes for ``whoami``, ``create_repo``, ``repo_info``,
``upload_folder`` (validate-yaml, preupload, the LFS batch API with basic PUT transfers,
commit as NDJSON, tree listing for deletions) and ``hf_hub_download`` (HEAD / GET resolve),
with the Hub's error codes. Xet transfers are not spoken: clients run with HF_HUB_DISABLE_XET=1
so large files take the LFS path, which the real Hub also accepts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

import yaml

LFS_SUFFIXES = (".safetensors", ".bin", ".png", ".zip")


@dataclass
class Repo:
    private: bool
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[dict] = field(default_factory=list)

    @property
    def sha(self) -> str:
        return hashlib.sha1(json.dumps(self.commits, default=str).encode()).hexdigest()


class FakeHub:
    def __init__(self, tokens: dict[str, str] | None = None, read_only: tuple[str, ...] = ()):
        self.tokens = dict(tokens or {})  # token -> user name
        self.read_only = set(read_only)  # tokens whose role is "read"
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}  # sha256 -> content
        self.requests: list[tuple[str, str, str]] = []  # (method, path, Authorization)
        self.bodies: list[bytes] = []  # every request body, to search for a leaked token
        self.create_payloads: list[dict] = []
        self.corrupt: set[str] = set()  # paths served with altered bytes (to prove checks can fail)
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def user(self, auth: str) -> str | None:
        token = auth.removeprefix("Bearer ").strip()
        return self.tokens.get(token)


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    # -- plumbing --------------------------------------------------------------------------------
    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.hub.bodies.append(body)
        return body

    def _send(self, status: int, payload=None, headers: dict | None = None, raw: bytes | None = None) -> None:
        data = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else b"")
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if raw is None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, message: str, code: str | None = None) -> None:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, {"error": message}, headers)

    def _record(self) -> str:
        auth = self.headers.get("Authorization", "")
        self.hub.requests.append((self.command, self.path, auth))
        return auth

    def _repo(self, repo_id: str, auth: str) -> Repo | None:
        repo = self.hub.repos.get(repo_id)
        if repo is None or (repo.private and self.hub.user(auth) != repo_id.split("/")[0]):
            self._error(404, "Repository not found", "RepoNotFound")
            return None
        return repo

    # -- verbs -----------------------------------------------------------------------------------
    def do_GET(self) -> None:
        auth = self._record()
        path = unquote(urlparse(self.path).path)
        if path == "/api/whoami-v2":
            return self._whoami(auth)
        if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/[^/]+/?", path):
            return self._tree(m.group(1), auth)
        if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/[^/]+)?", path):
            return self._info(m.group(1), auth)
        if m := re.fullmatch(r"/([^/]+/[^/]+)/resolve/[^/]+/(.+)", path):
            return self._resolve(m.group(1), m.group(2), auth)
        self._error(404, f"no such endpoint in the fake hub: GET {path}")

    do_HEAD = do_GET

    def do_POST(self) -> None:
        auth = self._record()
        path = unquote(urlparse(self.path).path)
        body = self._body()
        if path == "/api/repos/create":
            return self._create(json.loads(body), auth)
        if path == "/api/validate-yaml":
            return self._validate_yaml(json.loads(body))
        if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)/preupload/[^/]+", path):
            return self._preupload(m.group(1), json.loads(body), auth)
        if m := re.fullmatch(r"/([^/]+/[^/]+)\.git/info/lfs/objects/batch", path):
            return self._lfs_batch(m.group(1), json.loads(body), auth)
        if path.startswith("/lfs-verify/"):
            return self._send(200, {})
        if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)/commit/[^/]+", path):
            return self._commit(m.group(1), body, auth)
        self._error(404, f"no such endpoint in the fake hub: POST {path}")

    def do_PUT(self) -> None:
        self._record()
        path = urlparse(self.path).path
        body = self._body()
        if m := re.fullmatch(r"/lfs-upload/([0-9a-f]{64})", path):
            if hashlib.sha256(body).hexdigest() != m.group(1):
                return self._error(400, "content does not match its sha256")
            self.hub.lfs[m.group(1)] = body
            return self._send(200, {})
        self._error(404, f"no such endpoint in the fake hub: PUT {path}")

    # -- endpoints -------------------------------------------------------------------------------
    def _authorised(self, auth: str) -> str | None:
        user = self.hub.user(auth)
        if user is None:
            self._error(401, "Invalid credentials in Authorization header")
        return user

    def _whoami(self, auth: str) -> None:
        user = self._authorised(auth)
        if user:
            token = auth.removeprefix("Bearer ").strip()
            role = "read" if token in self.hub.read_only else "write"
            self._send(
                200,
                {"type": "user", "name": user, "orgs": [], "auth": {"accessToken": {"displayName": "t", "role": role}}},
            )

    def _create(self, payload: dict, auth: str) -> None:
        user = self._authorised(auth)
        if not user:
            return
        token = auth.removeprefix("Bearer ").strip()
        if token in self.hub.read_only:
            return self._error(403, "You don't have the rights to create a model under this namespace")
        self.hub.create_payloads.append(payload)
        repo_id = f"{payload.get('organization') or user}/{payload['name']}"
        url = f"{self.hub.url}/{repo_id}"
        if repo_id in self.hub.repos:
            return self._send(409, {"error": "You already created this model repo", "url": url})
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        self.hub.repos[repo_id] = Repo(private=private, files={".gitattributes": b"*.safetensors filter=lfs\n"})
        self._send(200, {"url": url, "name": repo_id})

    def _info(self, repo_id: str, auth: str) -> None:
        repo = self._repo(repo_id, auth)
        if repo:
            siblings = [{"rfilename": p} for p in sorted(repo.files)]
            self._send(200, {"id": repo_id, "sha": repo.sha, "private": repo.private, "siblings": siblings})

    def _tree(self, repo_id: str, auth: str) -> None:
        repo = self._repo(repo_id, auth)
        if repo:
            entries = [
                {"type": "file", "path": p, "size": len(b), "oid": hashlib.sha1(b).hexdigest()}
                for p, b in sorted(repo.files.items())
            ]
            self._send(200, entries)

    def _validate_yaml(self, payload: dict) -> None:
        content = payload.get("content", "")
        match = re.match(r"^---\n(.*?)\n---\n", content, re.S)
        try:
            yaml.safe_load(match.group(1) if match else "")
        except yaml.YAMLError as exc:
            return self._send(400, {"errors": [{"message": str(exc)}]})
        self._send(200, {"errors": [], "warnings": []})

    def _preupload(self, repo_id: str, payload: dict, auth: str) -> None:
        if not self._authorised(auth) or not self._repo(repo_id, auth):
            return
        files = [
            {
                "path": f["path"],
                "uploadMode": "lfs" if f["path"].endswith(LFS_SUFFIXES) else "regular",
                "shouldIgnore": False,
            }
            for f in payload["files"]
        ]
        self._send(200, {"files": files, "commitOid": self.hub.repos[repo_id].sha})

    def _lfs_batch(self, repo_id: str, payload: dict, auth: str) -> None:
        if not self._authorised(auth) or not self._repo(repo_id, auth):
            return
        objects = [
            {
                "oid": o["oid"],
                "size": o["size"],
                "authenticated": True,
                "actions": {
                    "upload": {"href": f"{self.hub.url}/lfs-upload/{o['oid']}"},
                    "verify": {"href": f"{self.hub.url}/lfs-verify/{o['oid']}"},
                },
            }
            for o in payload["objects"]
        ]
        self._send(200, {"transfer": "basic", "objects": objects}, {"Content-Type": "application/vnd.git-lfs+json"})

    def _commit(self, repo_id: str, body: bytes, auth: str) -> None:
        if not self._authorised(auth):
            return
        repo = self._repo(repo_id, auth)
        if not repo:
            return
        changes = []
        for line in body.splitlines():
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "file":
                repo.files[value["path"]] = base64.b64decode(value["content"])
            elif key == "lfsFile":
                if value["oid"] not in self.hub.lfs:
                    return self._error(400, f"LFS object {value['oid']} was never uploaded")
                repo.files[value["path"]] = self.hub.lfs[value["oid"]]
            elif key in ("deletedFile", "deletedFolder"):
                repo.files.pop(value["path"], None)
            elif key != "header":
                return self._error(400, f"unknown commit operation {key}")
            changes.append((key, value.get("path")))
        repo.commits.append({"changes": changes})
        self._send(200, {"commitUrl": f"{self.hub.url}/{repo_id}/commit/{repo.sha}", "commitOid": repo.sha})

    def _resolve(self, repo_id: str, filename: str, auth: str) -> None:
        repo = self._repo(repo_id, auth)
        if not repo:
            return
        if filename not in repo.files:
            return self._error(404, "Entry not found", "EntryNotFound")
        data = repo.files[filename]
        if filename in self.hub.corrupt:
            data = _corrupt(filename, data)
        etag = hashlib.sha256(data).hexdigest()
        headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{etag}"', "Content-Type": "application/octet-stream"}
        self._send(200, headers=headers, raw=data)


def _corrupt(filename: str, data: bytes) -> bytes:
    """The file with its tensors zeroed (safetensors) or a byte flipped: a broken upload."""
    if filename.endswith(".safetensors"):
        header_len = int.from_bytes(data[:8], "little")
        return data[: 8 + header_len] + bytes(len(data) - 8 - header_len)
    return data[:-1] + bytes([data[-1] ^ 1])
