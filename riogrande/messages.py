"""The messages from the workers to the aggregator: a block, or the end of the run.

A block is ``{"view": (x, y, width, height), "data": array}``; the end is
:data:`KILL`, ``{"signal": "kill"}``. An aggregator reads a queue of them
with :func:`iter_messages`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

#: The message that ends a run.
KILL = {"signal": "kill"}


def is_kill(message: Any) -> bool:
    """Tell whether a queue message is the end-of-run signal."""
    return isinstance(message, dict) and message.get("signal") == "kill"


def iter_messages(aggr_q: Any) -> Iterator[dict[str, Any]]:
    """Yield the block messages of ``aggr_q`` (anything with a blocking ``get``) until the
    end-of-run signal."""
    while True:
        message = aggr_q.get()
        if is_kill(message):
            return
        yield message
