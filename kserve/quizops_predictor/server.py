"""The KServe ModelServer bound to one host (127.0.0.1 by default), REST only.

kserve 0.21's ``RESTServer`` hard-codes ``host="0.0.0.0"`` in its ``uvicorn.Config`` and
``ModelServer`` exposes no host option. ``ModelServer.start`` builds the REST server, queues its
coroutine, then calls ``setup_event_loop`` before ``asyncio.run``: the uvicorn config is still
unused at that point, so :class:`BoundModelServer` sets ``config.host`` there. Uvicorn reads
``config.host`` only when it creates its listening socket inside ``serve()``. gRPC is disabled (it
would bind ``[::]`` on its own port).
"""

from __future__ import annotations

import logging

from kserve import ModelServer

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


class BoundModelServer(ModelServer):
    """A :class:`kserve.ModelServer` whose REST server listens on ``host`` only."""

    def __init__(self, http_port: int, host: str = LOOPBACK) -> None:
        """Configures the server.

        Args:
            http_port: The HTTP port.
            host: The address to bind (default loopback).
        """
        # Per-request latency log lines cost more than a decision here; the decision log and
        # Prometheus /metrics remain.
        super().__init__(
            http_port=http_port, enable_grpc=False, workers=1, enable_latency_logging=False
        )
        self.host = host

    def setup_event_loop(self) -> None:
        """Binds the REST server to ``self.host``, then sets up the loop as kserve does."""
        if self._rest_server is None:
            raise RuntimeError("the REST server was not created before the event loop setup")
        self._rest_server.config.host = self.host
        logger.info("binding the REST server to %s:%d", self.host, self.http_port)
        super().setup_event_loop()
