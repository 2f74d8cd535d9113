"""The KServe ModelServer bound to one host (127.0.0.1 by default), REST only.

kserve 0.21's ``RESTServer`` hard-codes ``host="0.0.0.0"`` in its ``uvicorn.Config`` and
``ModelServer`` exposes no host option. ``ModelServer.start`` builds the REST server, queues its
coroutine, then calls ``setup_event_loop`` before ``asyncio.run``: the uvicorn config is still
unused at that point, so :class:`BoundModelServer` sets ``config.host`` there. Uvicorn reads
``config.host`` only when it creates its listening socket inside ``serve()``. gRPC is disabled (it
would bind ``[::]`` on its own port).

The same hook installs the predictor's HTTP guard (:mod:`quizops_predictor.guard`: body and
concurrency limits, metrics, a value-free access log) as the only middleware (in place of
KServe's timing middleware, which only fed a per-request log line) and replaces
KServe's exception handlers with value-free ones, by wrapping the REST server's
``_add_middlewares`` and ``_add_exception_handlers`` before ``create_application`` runs.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import FastAPIDeprecationWarning

from kserve import ModelServer
from quizops_predictor.guard import RequestGuard, install_error_handlers
from quizops_predictor.metrics import PredictorMetrics

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


class BoundModelServer(ModelServer):
    """A :class:`kserve.ModelServer` whose REST server listens on ``host`` only."""

    def __init__(
        self,
        http_port: int,
        host: str = LOOPBACK,
        max_body_bytes: int = 1 << 20,
        max_in_flight: int = 64,
        metrics: PredictorMetrics | None = None,
        install_guard: bool = True,
    ) -> None:
        """Configures the server.

        Args:
            http_port: The HTTP port.
            host: The address to bind (default loopback).
            max_body_bytes: Largest request body (413 beyond).
            max_in_flight: Most inference requests at once (503 beyond).
            metrics: Prometheus metrics the guard counts requests in.
            install_guard: False serves KServe's stock app (benchmark anchor only).
        """
        # Per-request latency log lines cost more than a decision here; the decision log and
        # Prometheus /metrics remain.
        super().__init__(
            http_port=http_port, enable_grpc=False, workers=1, enable_latency_logging=False
        )
        self.host = host
        self.max_body_bytes = max_body_bytes
        self.max_in_flight = max_in_flight
        self.metrics = metrics
        self.install_guard = install_guard

    def _hook_application(self, rest: Any) -> None:
        add_middlewares = rest._add_middlewares
        add_exception_handlers = rest._add_exception_handlers

        def middlewares(app: FastAPI) -> None:
            # KServe's own middlewares are a timing middleware, whose only output is two
            # kserve.trace log lines per request (silenced here: the guard's histogram measures
            # latency) at the cost of a getrusage call per request, and an optional access
            # logger that quotes the path. The guard replaces both.
            if rest.access_log_format:
                add_middlewares(app)
            app.add_middleware(
                RequestGuard,
                max_body_bytes=self.max_body_bytes,
                max_in_flight=self.max_in_flight,
                metrics=self.metrics,
            )

        def exception_handlers(app: FastAPI) -> None:
            add_exception_handlers(app)
            install_error_handlers(app)

        rest._add_middlewares = middlewares
        rest._add_exception_handlers = exception_handlers

    def setup_event_loop(self) -> None:
        """Binds the REST server to ``self.host``, then sets up the loop as kserve does."""
        if self._rest_server is None:
            raise RuntimeError("the REST server was not created before the event loop setup")
        self._rest_server.config.host = self.host
        if self.install_guard:
            self._hook_application(self._rest_server)
        # The guard writes one value-free access line per request; uvicorn's quotes the path.
        logging.getLogger("uvicorn.access").disabled = True
        # KServe's timing middleware logs two lines per request naming the route; metrics remain.
        logging.getLogger("kserve.trace").setLevel(logging.WARNING)
        # KServe answers with FastAPI's deprecated ORJSONResponse; scikit-learn's
        # catch_warnings in every predict resets the once-per-location registry, so the
        # warning would be printed on every request.
        warnings.filterwarnings("ignore", category=FastAPIDeprecationWarning)
        logger.info("binding the REST server to %s:%d", self.host, self.http_port)
        super().setup_event_loop()
