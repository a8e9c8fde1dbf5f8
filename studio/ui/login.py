"""The studio's login check: wrong tries are limited per client address and per user name.

    limiter = LoginLimiter([("alice", "pw-a"), ("bob", "pw-b")])
    limiter.check("bob", "guess", "203.0.113.7")    # False: a wrong try, counted for the address and the name
    limiter.check("alice", "pw-a", "198.51.100.2")  # True: another client is not held by those guesses
    # after 5 wrong tries in 60 s from one address, that address gets Throttled("... wait 42 s ...");
    # after 10 wrong tries at one name from several addresses, the name waits 1 s, 2 s, 4 s ... at most 60 s

``app.py`` passes ``login_check(logins)`` as Gradio's ``auth`` and ``middleware()`` to the FastAPI app
Gradio builds (``launch(app_kwargs=...)``), so the ordinary ``launch`` keeps its host, port, share link,
queue and browser tab.

Why so shaped:

- Gradio calls ``auth(username, password)`` without the request. The ASGI middleware puts the client's
  address in a context variable for the request it wraps; Gradio's ``/login`` route awaits ``auth`` in
  that same task, so the check reads it there.
- One client's guesses hold that client only: a name's backoff counts at most ``max_failures`` wrong
  tries per address, fewer than ``name_free``, so it takes several addresses to slow a name down. The
  wait is bounded (``name_cap``) and an address that logged in as a name before is not held by that
  name's backoff, so guesses from elsewhere never lock its owner out for good.
- A throttled try is answered 429 with the reason and the wait (``Retry-After`` too); the password is
  not checked then. Gradio's login page shows its own fixed "Incorrect credentials" for a 400 only and
  nothing for other statuses, so the middleware adds a few lines of script to that page (only it) that
  show the 429's message where Gradio shows its own.

Which address: uvicorn (as Gradio starts it) already replaces a loopback peer by the right-most
untrusted entry of X-Forwarded-For, so a proxy on this machine works as is (and a client on this
machine may name any address: it is on the machine already). A share link's tunnel also connects from
loopback: its clients are told apart when it passes that header, else they share one address limit
(the limit per name still holds). On a Space (``SPACE_ID`` is set) every request comes through the Hub's
proxy, whose own address would make all clients one; there the right-most public address of
X-Forwarded-For is taken (a client can add entries only to the left of what the proxy appends). An
IPv6 address counts by its /64, which one client usually holds whole.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import math
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from fastapi import HTTPException
from starlette.middleware import Middleware

from studio.ui.space import on_space

UNKNOWN = "unknown"  # no address known (a check called outside the middleware): all such share one limit
CLIENT: contextvars.ContextVar[str] = contextvars.ContextVar("studio_login_client", default=UNKNOWN)


class Throttled(Exception):
    """A login try refused unchecked: too many wrong ones from this address or at this name."""

    def __init__(self, who: str, wait: float):
        self.who, self.wait = who, max(1, math.ceil(wait))
        super().__init__(f"Too many attempts {who}: wait {self.wait} s and try again.")


@dataclass
class _Name:
    wrong: dict[str, int] = field(default_factory=dict)  # address -> wrong tries at this name
    last: float = 0.0


class LoginLimiter:
    """Wrong logins limited per address (``max_failures`` in ``window`` seconds) and per user name
    (after ``name_free`` wrong tries from several addresses, a wait doubling from 1 s up to
    ``name_cap``; forgotten ``name_memory`` seconds after the last one).

    ``credentials``: one (user, password) or a list of them, one per person.
    """

    def __init__(
        self,
        credentials,
        max_failures: int = 5,
        window: float = 60.0,
        name_free: int = 10,
        name_cap: float = 60.0,
        name_memory: float = 900.0,
        clock=time.monotonic,
    ):
        self.logins = [credentials] if isinstance(credentials, tuple) else list(credentials)
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self.name_free, self.name_cap, self.name_memory = name_free, name_cap, name_memory
        self.addresses: dict[str, deque[float]] = {}
        self.names: dict[str, _Name] = {}  # every name tried, real or not: which are real is not told
        self.known: set[tuple[str, str]] = set()  # (user, address) that logged in
        self._lock = threading.Lock()

    def check(self, user: str, password: str, address: str = UNKNOWN) -> bool:
        """True for a right login, False for a wrong one; raises Throttled without checking."""
        with self._lock:
            now = self.clock()
            self._forget(now)
            self._refuse_if_held(user, address, now)
            ok = False
            for known_user, known_password in self.logins:  # every login compared: the time tells nothing
                ok |= secrets.compare_digest(user.encode(), known_user.encode()) & secrets.compare_digest(
                    password.encode(), known_password.encode()
                )
            if ok:
                self.known.add((user, address))
            else:
                self.addresses.setdefault(address, deque()).append(now)
                name = self.names.setdefault(user, _Name())
                name.wrong[address] = name.wrong.get(address, 0) + 1
                name.last = now
            return ok

    def address_wait(self, address: str, now: float) -> float:
        failures = self.addresses.get(address) or ()
        return max(0.0, failures[0] + self.window - now) if len(failures) >= self.max_failures else 0.0

    def name_wait(self, user: str, now: float) -> float:
        name = self.names.get(user)
        if name is None:
            return 0.0
        counted = sum(min(tries, self.max_failures) for tries in name.wrong.values())
        if counted < self.name_free:
            return 0.0
        return max(0.0, name.last + min(2.0 ** (counted - self.name_free), self.name_cap) - now)

    def _refuse_if_held(self, user: str, address: str, now: float) -> None:
        if wait := self.address_wait(address, now):
            raise Throttled("from your address", wait)
        if (user, address) not in self.known and (wait := self.name_wait(user, now)):
            raise Throttled("for this user", wait)

    def _forget(self, now: float) -> None:
        """Drop failures out of the window and names past their memory."""
        for address in list(self.addresses):
            failures = self.addresses[address]
            while failures and now - failures[0] >= self.window:
                failures.popleft()
            if not failures:
                del self.addresses[address]
        for user in [user for user, name in self.names.items() if now - name.last > self.name_memory]:
            del self.names[user]


def login_check(credentials, delay: float = 1.0, **limits):
    """Gradio's ``auth`` callable: the limited check for the address the middleware saw; a wrong
    login answered after ``delay`` (a coroutine, so the wait holds no thread), a throttled one with
    a 429 that says why and for how long."""
    limiter = LoginLimiter(credentials, **limits)

    async def check(username: str, password: str) -> bool:
        try:
            ok = limiter.check(username, password, CLIENT.get())
        except Throttled as exc:
            raise HTTPException(status_code=429, detail=str(exc), headers={"Retry-After": str(exc.wait)}) from None
        if not ok:
            await asyncio.sleep(delay)
        return ok

    check.limiter = limiter
    return check


# -- the client's address ------------------------------------------------------------------------------


def _bucket(host: str) -> str | None:
    """The address a limit counts: IPv4 as is, IPv6 by its /64; None for what is not an address."""
    try:
        ip = ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        return None
    if ip.version == 6:
        mapped = ip.ipv4_mapped  # ::ffff:1.2.3.4, a dual-stack socket's IPv4 client
        return str(mapped) if mapped else str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_address(scope: dict) -> str:
    """The client behind an ASGI request: the peer uvicorn reports, or on a Space the right-most
    public address of X-Forwarded-For (what the Hub's proxy appended)."""
    peer = (scope.get("client") or (UNKNOWN,))[0]
    if on_space():
        forwarded = b",".join(value for name, value in scope.get("headers") or () if name == b"x-forwarded-for")
        for hop in reversed(forwarded.decode("latin-1").split(",")):
            bucket = _bucket(hop)
            if bucket and ipaddress.ip_network(bucket, strict=False).is_global:
                return bucket
    return _bucket(peer) or peer


# -- the middleware ----------------------------------------------------------------------------------


# Shows a 429's message where Gradio's login form shows "Incorrect credentials" (which it keeps for 400).
PAGE_SCRIPT = """<script>(() => {
  const fetch0 = window.fetch;
  const show = (text) => {
    const form = document.querySelector(".panel .form");
    let note = document.getElementById("studio-login-wait");
    document.querySelectorAll(".panel p.creds").forEach((p) => { p.style.display = text ? "none" : ""; });
    if (!text) { if (note) note.remove(); return; }
    if (!note && form) {
      note = document.createElement("p");
      note.id = "studio-login-wait";
      note.setAttribute("role", "alert");
      note.style.cssText = "color: var(--error-text-color, #b91c1c); margin: var(--spacing-lg) 0;";
      form.before(note);
    }
    if (note) note.textContent = text;
  };
  window.fetch = async (...args) => {
    const response = await fetch0(...args);
    const url = new URL(String(args[0]?.url ?? args[0]), location.href);
    if (/\\/login\\/?$/.test(url.pathname)) {
      const body = response.status === 429 ? await response.clone().json().catch(() => ({})) : null;
      show(body ? body.detail || "Too many attempts: wait a minute and try again." : "");
    }
    return response;
  };
})();</script>"""


class ClientAddress:
    """ASGI middleware: the request's client address in ``CLIENT`` for the login check, and the
    script above in Gradio's login page."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        token = CLIENT.set(client_address(scope))
        try:
            if scope["method"] == "GET" and not scope["path"].startswith("/gradio_api/"):
                send = _login_page_sender(send)
            await self.app(scope, receive, send)
        finally:
            CLIENT.reset(token)


def _login_page_sender(send):
    """A ``send`` that adds PAGE_SCRIPT to an HTML page carrying Gradio's login config; other
    responses pass through unchanged (an HTML body is held until complete, a few kB)."""
    held: dict = {}

    async def sender(message):
        if message["type"] == "http.response.start":
            headers = dict(message.get("headers") or ())
            if not headers.get(b"content-type", b"").startswith(b"text/html"):
                return await send(message)
            held.update(start=message, body=b"")
            return None
        if message["type"] != "http.response.body" or "start" not in held:
            return await send(message)
        held["body"] += message.get("body", b"")
        if message.get("more_body"):
            return None
        body, start = held.pop("body"), held.pop("start")
        if b'"auth_required"' in body and b"</body>" in body:
            head, tail = body.rsplit(b"</body>", 1)
            body = head + PAGE_SCRIPT.encode() + b"</body>" + tail
        headers = [(k, v) for k, v in start.get("headers") or () if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return sender


def middleware() -> list[Middleware]:
    """For ``launch(app_kwargs={"middleware": middleware()})``."""
    return [Middleware(ClientAddress)]
