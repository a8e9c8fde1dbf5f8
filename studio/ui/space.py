"""Where the app runs and who may open it: loopback, a share link, a server address, or a Space.

    access("127.0.0.1", share=False)             # Access(credentials=None): only this machine reaches it
    access("0.0.0.0", share=False)               # a login, generated unless given
    access("0.0.0.0", False, auth="me:secret")   # that login
    access("0.0.0.0", False, no_auth=True)       # open, because the user said so

A studio reachable from elsewhere lets anyone train on the machine and push with its HF_TOKEN,
so beyond loopback it asks for a login unless told not to (``--no-auth``, or STUDIO_AUTH=off on a
private Space where the Hub already checks who comes in). On a Space (``SPACE_ID`` is set) the
app is always reachable from outside; runs go to /data/runs when persistent storage is attached
(``studio.runs.directory.runs_root``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

OFF = {"off", "none", "no", "0", "false"}


def on_space() -> bool:
    return bool(os.environ.get("SPACE_ID"))


def is_loopback(host: str) -> bool:
    host = (host or "").strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: other machines may resolve it to us


def exposed(host: str, share: bool) -> bool:
    """Whether other machines can reach the app."""
    return share or on_space() or not is_loopback(host)


@dataclass
class Access:
    credentials: tuple[str, str] | None  # None: no login asked
    generated: bool = False
    reason: str = ""


def parse_login(text: str) -> tuple[str, str]:
    user, sep, password = (text or "").partition(":")
    if not sep or not user.strip() or not password:
        raise ValueError("auth: give the login as USER:PASSWORD (e.g. --auth me:a-long-password)")
    return user.strip(), password


def access(host: str, share: bool, auth: str | None = None, no_auth: bool = False) -> Access:
    """The login the app asks for; ``auth`` falls back to $STUDIO_AUTH ('user:password' or 'off')."""
    auth = auth if auth is not None else os.environ.get("STUDIO_AUTH")
    if no_auth or (auth and auth.strip().lower() in OFF):
        return Access(None, reason="login turned off explicitly")
    if auth:
        return Access(parse_login(auth), reason="login given")
    if not exposed(host, share):
        return Access(None, reason=f"only reachable from this machine ({host})")
    return Access(("studio", secrets.token_urlsafe(12)), generated=True, reason="reachable from other machines")


def storage_note() -> str:
    """Where runs persist on a Space; empty elsewhere."""
    if not on_space():
        return ""
    if Path("/data").is_dir() and os.access("/data", os.W_OK):
        return "Space with persistent storage: runs are kept in /data/runs."
    return "Space without persistent storage: runs are lost when the Space restarts (attach storage to keep them)."


class LoginLimiter:
    """At most ``max_failures`` wrong logins in ``window`` seconds, from anyone; past that every
    attempt, the right password too, is refused until the oldest failure leaves the window.

    Gradio's login route gives the check no address, so the limit is one for the whole app: it
    turns 30 guesses in 1.7 s into 5 a minute, at the price of making the owner wait out an attack.
    """

    def __init__(self, credentials: tuple[str, str], max_failures: int = 5, window: float = 60.0, clock=time.monotonic):
        self.user, self.password = credentials
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self.failures: deque[float] = deque()
        self._lock = threading.Lock()

    def locked(self) -> bool:
        now = self.clock()
        while self.failures and now - self.failures[0] > self.window:
            self.failures.popleft()
        return len(self.failures) >= self.max_failures

    def check(self, user: str, password: str) -> bool:
        with self._lock:
            if self.locked():
                return False
            ok = secrets.compare_digest(user.encode(), self.user.encode()) & secrets.compare_digest(
                password.encode(), self.password.encode()
            )
            if not ok:
                self.failures.append(self.clock())
            return ok


def login_check(credentials: tuple[str, str], delay: float = 1.0, **limits):
    """Gradio's ``auth`` callable: the rate-limited check, a wrong login answered after ``delay``.

    It is a coroutine function (Gradio awaits it on its event loop), so the delay holds no thread.
    """
    limiter = LoginLimiter(credentials, **limits)

    async def check(username: str, password: str) -> bool:
        ok = limiter.check(username, password)
        if not ok:
            await asyncio.sleep(delay)
        return ok

    check.limiter = limiter
    return check
