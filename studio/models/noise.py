"""Known harmless start-up messages of the libraries, dropped by their exact text; nothing else.

    drop_known_noise()   # in the entry points (app.py, python -m studio), before the libraries load

bitsandbytes 0.49+ logs, at import on a CPU with AVX512-BF16, "Failed to load CPU gemm_4bit_forward
from kernels-community ... pip install kernels": an optional Hub kernel for 4-bit matmuls is absent,
and 4-bit layers work without it (bitsandbytes' own fallback). Every start-up printed it. A filter on
that one logger drops that one message; its other warnings, and every other library's, still show.
"""

from __future__ import annotations

import logging

# (logger, the start of the message's format string), as bitsandbytes.backends.cpu.ops writes them.
KNOWN = [("bitsandbytes.backends.cpu.ops", "Failed to load CPU gemm_4bit_forward from kernels-community")]


class _Drop(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def drop_known_noise() -> None:
    """Install the filters (once: a second call adds nothing)."""
    for name, prefix in KNOWN:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Drop) and f.prefix == prefix for f in logger.filters):
            logger.addFilter(_Drop(prefix))
