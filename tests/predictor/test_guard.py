"""The HTTP guard as an ASGI middleware: which bodies reach the app, and the 413s."""

import asyncio

import pytest

from quizops_predictor.guard import RequestGuard

LIMIT = 1000


def _call(headers, chunks):
    """Runs one POST through the guard; returns (status, body bytes the app read)."""
    seen = {"read": b""}

    async def app(scope, receive, send):
        more = True
        while more:
            message = await receive()
            seen["read"] += message.get("body", b"")
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    messages = [
        {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1}
        for n, chunk in enumerate(chunks)
    ]
    sent = []

    async def receive():
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/models/quiz-policy:predict",
        "headers": headers,
    }
    asyncio.run(RequestGuard(app, max_body_bytes=LIMIT)(scope, receive, send))
    return sent[0]["status"], seen["read"]


def test_a_declared_body_within_the_limit_reaches_the_app_whole():
    body = b"x" * 600
    status, read = _call([(b"content-length", b"600")], [body[:300], body[300:]])
    assert (status, read) == (200, body)


def test_a_declared_body_over_the_limit_is_413_before_the_app_reads():
    status, read = _call([(b"content-length", b"1001")], [b"x" * 1001])
    assert (status, read) == (413, b"")


@pytest.mark.parametrize(
    "headers",
    [
        [(b"transfer-encoding", b"chunked")],
        # A small declared length does not vouch for a chunked body.
        [(b"content-length", b"10"), (b"transfer-encoding", b"chunked")],
    ],
)
def test_a_chunked_body_is_counted_as_it_arrives(headers):
    status, read = _call(headers, [b"x" * 400] * 3)
    assert (status, read) == (413, b"")
    status, read = _call(headers, [b"x" * 400, b"y" * 400])
    assert (status, read) == (200, b"x" * 400 + b"y" * 400)
