"""Spans of the serving decision logs (no TFDV: importable in every environment).

The predictor writes ``decisions-<UTC date>.jsonl`` (local folder) or
``date=<day>/decisions-<day>-<writer>-<n>.jsonl`` (gs://). A decision span is that date.
"""

from __future__ import annotations

import re

from quizops import storage

_DAY = re.compile(r"decisions-(\d{4}-\d{2}-\d{2})")


def decision_spans(decisions_uri: str) -> list[str]:
    """Lists the days that have decision logs, oldest first.

    Args:
        decisions_uri: The decisions folder (local or gs://).

    Returns:
        ``YYYY-MM-DD`` days.
    """
    if not decisions_uri:
        return []
    days = set()
    for uri in storage.list_files(decisions_uri):
        found = _DAY.search(uri.rsplit("/", 1)[-1])
        if found:
            days.add(found.group(1))
    return sorted(days)


def newest_and_previous(decisions_uri: str, span: str = "") -> tuple[str, str]:
    """The span to monitor (the newest, or the one asked for) and the one before it.

    Args:
        decisions_uri: The decisions folder.
        span: A day to monitor (``""`` = the newest).

    Returns:
        ``(span, previous)``; ``""`` where there is none.
    """
    days = decision_spans(decisions_uri)
    if span:
        earlier = [d for d in days if d < span]
        return (span if span in days else ""), (earlier[-1] if earlier else "")
    if not days:
        return "", ""
    return days[-1], (days[-2] if len(days) > 1 else "")
