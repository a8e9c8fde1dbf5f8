"""Where the app runs and who may open it: loopback, a share link, a server address, or a Space.

    access("127.0.0.1", share=False)             # Access(credentials=None): only this machine reaches it
    access("0.0.0.0", share=False)               # a login, generated unless given
    access("0.0.0.0", False, auth="me:secret")   # that login
    access("0.0.0.0", False, auth=["a:pw1", "b:pw2"])   # several people (STUDIO_AUTH="a:pw1,b:pw2")
    access("0.0.0.0", False, no_auth=True)       # open, because the user said so

A studio reachable from elsewhere lets anyone train on the machine and push with its HF_TOKEN,
so beyond loopback it asks for a login unless told not to (``--no-auth``, or STUDIO_AUTH=off on a
private Space where the Hub already checks who comes in). On a Space (``SPACE_ID`` is set) the
app is always reachable from outside; runs go to /data/runs when persistent storage is attached
(``studio.runs.directory.runs_root``).

Who is behind an event (``user_of(request)``) decides which runs they reach (studio.runs.owners):
the Hugging Face account of "Sign in with Hugging Face" (offered on a Space with ``hf_oauth: true``
in the README's front matter), else the studio login, else LOCAL, the one person of a studio
without logins. How wrong logins are limited: studio.ui.login.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from studio.services import LOCAL

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
    logins: list[tuple[str, str]]  # empty: no login asked
    generated: bool = False
    reason: str = ""

    @property
    def credentials(self) -> tuple[str, str] | None:
        """The first login (the only one unless several people were given); None: no login asked."""
        return self.logins[0] if self.logins else None


def parse_login(text: str) -> tuple[str, str]:
    user, sep, password = (text or "").partition(":")
    if not sep or not user.strip() or not password:
        raise ValueError("auth: give the login as USER:PASSWORD (e.g. --auth me:a-long-password)")
    return user.strip(), password


def parse_logins(auth: str | list[str]) -> list[tuple[str, str]]:
    """Logins from repeated ``--auth USER:PASSWORD`` or one ``a:pw1,b:pw2`` (a password in that
    list cannot hold a comma; give it with its own --auth then). One user named twice is refused."""
    texts = [auth] if isinstance(auth, str) else list(auth)
    logins = [parse_login(part) for text in texts for part in (text.split(",") if len(texts) == 1 else [text])]
    users = [user for user, _ in logins]
    twice = sorted({user for user in users if users.count(user) > 1})
    if twice:
        raise ValueError(f"auth: {', '.join(twice)} is given twice; give each person one login")
    return logins


def access(host: str, share: bool, auth: str | list[str] | None = None, no_auth: bool = False) -> Access:
    """The logins the app asks for; ``auth`` falls back to $STUDIO_AUTH ('user:password', several
    separated by commas, or 'off')."""
    auth = auth if auth not in (None, []) else os.environ.get("STUDIO_AUTH")
    if isinstance(auth, list) and len(auth) == 1:
        auth = auth[0]
    if no_auth or (isinstance(auth, str) and auth.strip().lower() in OFF):
        return Access([], reason="login turned off explicitly")
    if auth:
        logins = parse_logins(auth)
        return Access(logins, reason="login given" if len(logins) == 1 else f"{len(logins)} logins given")
    if not exposed(host, share):
        return Access([], reason=f"only reachable from this machine ({host})")
    return Access([("studio", secrets.token_urlsafe(12))], generated=True, reason="reachable from other machines")


def hf_sign_in() -> bool:
    """Offer "Sign in with Hugging Face": on a Space whose README says ``hf_oauth: true`` (the Hub
    then sets OAUTH_CLIENT_ID) and with ``gradio[oauth]`` installed (authlib), without which
    Gradio refuses to start; elsewhere Gradio would only mock it with the local token's account."""
    return on_space() and bool(os.environ.get("OAUTH_CLIENT_ID")) and importlib.util.find_spec("authlib") is not None


def user_of(request) -> str:
    """The person behind a Gradio event (its ``gr.Request``): the Hugging Face account signed in
    with the LoginButton, else the studio login, else LOCAL (a studio without logins)."""
    if request is None:
        return LOCAL
    # Gradio keeps the OAuth login in the session cookie, which exists only once OAuth is set up
    # (a LoginButton on a Space); read through the request's scope, as gr.OAuthProfile does.
    scope = getattr(getattr(request, "request", None), "scope", None)
    info = (scope.get("session") or {}).get("oauth_info") if isinstance(scope, dict) else None
    if info and (info.get("expires_at") or time.time() + 1) > time.time():
        name = (info.get("userinfo") or {}).get("preferred_username")
        if name:
            return str(name)
    return str(getattr(request, "username", None) or LOCAL)


def storage_note() -> str:
    """Where runs persist on a Space; empty elsewhere."""
    if not on_space():
        return ""
    if Path("/data").is_dir() and os.access("/data", os.W_OK):
        return "Space with persistent storage: runs are kept in /data/runs."
    return "Space without persistent storage: runs are lost when the Space restarts (attach storage to keep them)."
