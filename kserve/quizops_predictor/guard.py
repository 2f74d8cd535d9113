"""The HTTP guard of the predictor: limits, metrics, access log and value-free errors.

:class:`RequestGuard` is a pure ASGI middleware, the outermost layer of the KServe app:

* a body larger than ``max_body_bytes`` is answered 413 before any parsing (a declared
  ``content-length`` at once, a chunked body as soon as it crosses the limit; the rest of the
  body is drained for at most a second so the client reads the answer);
* more than ``max_in_flight`` inference requests at once are answered 503;
* every inference request is counted by protocol and status code and timed
  (:mod:`quizops_predictor.metrics`);
* one access-log line per failed request (INFO; every request at DEBUG) names the method, the
  endpoint kind, the status and the time, never the path or the query (a path can carry
  request content); the metrics count every request.

:func:`install_error_handlers` replaces KServe's exception handlers, which log each exception
with its message and traceback and may quote the request (pydantic validation errors carry the
input value): a 4xx names the field and the kind of problem only; a 500 is logged with its
exception type and stack frames, never its message.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kserve.errors import InvalidInput, ModelNotFound, ModelNotReady
from starlette.exceptions import HTTPException as StarletteHTTPException

from quizops_predictor.metrics import PredictorMetrics
from quizops_predictor.model import FieldError, TooLargeError

logger = logging.getLogger("quizops_predictor.access")
error_logger = logging.getLogger("quizops_predictor.errors")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Seconds spent draining the unread rest of a refused body so the client reads the 413.
DRAIN_SECONDS = 1.0
#: A declared body beyond this is refused without draining.
DRAIN_MAX_BYTES = 64 << 20


def endpoint_protocol(method: str, path: str) -> str | None:
    """Which inference protocol a request uses, or None for other endpoints.

    Args:
        method: HTTP method.
        path: URL path.

    Returns:
        ``v1`` for ``POST /v1/models/<m>:predict``, ``v2`` for ``POST /v2/models/<m>/infer``
        (versioned or not), else None.
    """
    if method != "POST":
        return None
    if path.startswith("/v1/models/") and path.endswith(":predict"):
        return "v1"
    if path.startswith("/v2/models/") and path.endswith("/infer"):
        return "v2"
    return None


def _endpoint_kind(method: str, path: str) -> str:
    protocol = endpoint_protocol(method, path)
    if protocol:
        return f"{protocol}-infer"
    for prefix, kind in (
        ("/v2/health", "health"),
        ("/v1/models", "v1-model"),
        ("/v2/models", "v2-model"),
        ("/metrics", "metrics"),
    ):
        if path.startswith(prefix):
            return kind
    return "other"


async def _json_response(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


_WITH_BODY = ("POST", "PUT", "PATCH")


def _body_framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared ``content-length`` (None: absent or not a number) and whether the body is
    sent with a ``transfer-encoding`` (chunked), from the request headers."""
    declared = None
    chunked = False
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = None
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked


class RequestGuard:
    """ASGI middleware: body and concurrency limits, metrics, a value-free access log."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        max_in_flight: int = 64,
        metrics: PredictorMetrics | None = None,
    ) -> None:
        """Wraps an ASGI app.

        Args:
            app: The app.
            max_body_bytes: Largest accepted request body.
            max_in_flight: Most inference requests served at once.
            metrics: Prometheus metrics (None: not counted).
        """
        self.app = app
        self.max_body_bytes = int(max_body_bytes)
        self.max_in_flight = int(max_in_flight)
        self.metrics = metrics
        self.in_flight = 0

    async def _drain(self, receive: Receive, more: bool) -> None:
        deadline = time.monotonic() + DRAIN_SECONDS
        drained = 0
        while more and time.monotonic() < deadline and drained < DRAIN_MAX_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                return
            drained += len(message.get("body", b""))
            more = bool(message.get("more_body", False))

    async def _read_body(self, receive: Receive, declared: int | None) -> bytes | None:
        """Reads the whole body, or returns None when it is over the limit (after draining)."""
        if declared is not None and declared > self.max_body_bytes:
            if declared <= DRAIN_MAX_BYTES:
                await self._drain(receive, True)
            return None
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            more = bool(message.get("more_body", False))
            if size > self.max_body_bytes:
                await self._drain(receive, more)
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serves one ASGI connection event."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope.get("method", ""), scope.get("path", "")
        protocol = endpoint_protocol(method, path)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_and_record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        counted = protocol is not None
        if counted and self.metrics is not None:
            self.metrics.request_started()
        try:
            if counted and self.in_flight >= self.max_in_flight:
                await _json_response(
                    send_and_record, 503, "server: too many requests in flight, retry later"
                )
                return
            if counted:
                self.in_flight += 1
            try:
                declared, chunked = _body_framing(scope) if method in _WITH_BODY else (None, False)
                if declared is not None and declared <= self.max_body_bytes and not chunked:
                    # The HTTP parser delivers exactly the declared length (more bytes would be
                    # the next request): the app reads the body itself, within the limit.
                    await self.app(scope, receive, send_and_record)
                elif method in _WITH_BODY:
                    body = await self._read_body(receive, declared)
                    if body is None:
                        await _json_response(
                            send_and_record,
                            413,
                            f"body: larger than {self.max_body_bytes} bytes",
                        )
                        return
                    replayed = False

                    async def replay() -> Message:
                        nonlocal replayed
                        if not replayed:
                            replayed = True
                            return {"type": "http.request", "body": body, "more_body": False}
                        return await receive()

                    await self.app(scope, replay, send_and_record)
                else:
                    await self.app(scope, receive, send_and_record)
            finally:
                if counted:
                    self.in_flight -= 1
        finally:
            elapsed = time.perf_counter() - started
            if counted and self.metrics is not None:
                self.metrics.request_finished(protocol or "", status["code"], elapsed)
            if status["code"] >= 300:
                kind = _endpoint_kind(method, path)
                logger.info("%s %s %d %.1fms", method, kind, status["code"], elapsed * 1000)
            elif logger.isEnabledFor(logging.DEBUG):
                kind = _endpoint_kind(method, path)
                if kind not in ("health", "metrics"):
                    logger.debug("%s %s %d %.1fms", method, kind, status["code"], elapsed * 1000)


def _location(loc: tuple[Any, ...]) -> str:
    """``("body", "inputs", 0, "shape")`` -> ``inputs[0].shape``."""
    # FastAPI prefixes "body" and, for a union body, the schema class name.
    parts = [p for p in loc if p not in ("body", "InferenceRequest")]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            # Keys come from the request only as field names of the v2 schema; anything else
            # is shown by position to stay value-free.
            text = str(part)
            safe = text.replace("_", "").isalnum() and len(text) <= 40
            out += ("." if out else "") + (text if safe else "<field>")
    return out or "body"


async def _field_error_handler(_: Request, exc: Exception) -> JSONResponse:
    status = 413 if isinstance(exc, TooLargeError) else 400
    error_logger.info("%d %s", status, exc)
    return JSONResponse(status_code=status, content={"error": str(exc)})


async def _invalid_input_handler(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, FieldError):
        return await _field_error_handler(request, exc)
    # KServe's own InvalidInput messages may quote the body; keep only what is known safe.
    text = str(exc)
    message = "body: not valid JSON" if "Unrecognized request format" in text else "body: malformed"
    error_logger.info("400 %s (%s)", message, type(exc).__name__)
    return JSONResponse(status_code=400, content={"error": message})


async def _validation_error_handler(_: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    if errors:
        first = errors[0]
        message = f"{_location(tuple(first.get('loc', ())))}: {first.get('type', 'invalid')}"
    else:
        message = "body: invalid"
    error_logger.info("400 %s", message)
    return JSONResponse(status_code=400, content={"error": message})


async def _recursion_handler(_: Request, exc: Exception) -> JSONResponse:
    error_logger.info("400 body: JSON nested too deeply")
    return JSONResponse(status_code=400, content={"error": "body: JSON nested too deeply"})


async def _http_exception_handler(_: Request, exc: Exception) -> JSONResponse:
    status = int(getattr(exc, "status_code", 500))
    # Starlette's details are fixed texts ("Not Found", "There was an error parsing the body").
    detail = str(getattr(exc, "detail", "")) or HTTPStatus(status).phrase
    error_logger.info("%d %s", status, detail)
    return JSONResponse(status_code=status, content={"error": f"request: {detail}"})


async def _model_not_found_handler(_: Request, exc: Exception) -> JSONResponse:
    error_logger.info("404 model not found")
    return JSONResponse(status_code=404, content={"error": "model: no such model on this server"})


async def _model_not_ready_handler(_: Request, exc: Exception) -> JSONResponse:
    error_logger.info("503 model not ready")
    return JSONResponse(status_code=503, content={"error": "model: not ready"})


async def _internal_error_handler(_: Request, exc: Exception) -> JSONResponse:
    frames = "".join(traceback.format_tb(exc.__traceback__))
    error_logger.error("500 internal error (%s) at\n%s", type(exc).__name__, frames)
    return JSONResponse(
        status_code=500, content={"error": f"internal error ({type(exc).__name__})"}
    )


def install_error_handlers(app: FastAPI) -> None:
    """Replaces the app's exception handlers with value-free ones.

    Args:
        app: The KServe FastAPI app (after KServe added its handlers).
    """
    app.add_exception_handler(FieldError, _field_error_handler)
    app.add_exception_handler(InvalidInput, _invalid_input_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_exception_handler(RecursionError, _recursion_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(ModelNotFound, _model_not_found_handler)
    app.add_exception_handler(ModelNotReady, _model_not_ready_handler)
    app.add_exception_handler(Exception, _internal_error_handler)
