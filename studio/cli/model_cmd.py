"""``python -m studio model prepare``: convert the embedded model once into the user cache.

``python -m studio model families`` prints the supported families and the fast paths (the tables of docs/models.md).
"""

from __future__ import annotations

import time

from studio.cli.common import fail
from studio.config import EMBEDDED_MODEL


def register(sub) -> None:
    p = sub.add_parser("model", help="Prepare or locate base models.", description=__doc__)
    p.add_argument(
        "action",
        choices=["prepare", "path", "families"],
        help="prepare: convert the embedded GGUF once; path: print the folder; families: what each family supports.",
    )
    p.add_argument("--model", default=EMBEDDED_MODEL, help="Model alias, folder or Hub id.")
    p.set_defaults(func=run)


def run(args) -> int:
    from studio.models.loading import ModelNotAvailable, resolve_model  # lazy: cli-startup

    if args.action == "families":
        from studio import patches  # lazy: cli-startup
        from studio.models import families  # lazy: cli-startup

        print(families.markdown_table(), patches.markdown_table(), sep="\n\n")
        return 0
    try:
        start = time.perf_counter()
        folder = resolve_model(args.model)
        if args.action == "prepare":
            print(f"ready in {time.perf_counter() - start:.1f}s")
        print(folder)
    except ModelNotAvailable as exc:
        return fail(exc)
    return 0
