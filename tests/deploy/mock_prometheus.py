"""A STAND-IN Prometheus HTTP API (no Prometheus server runs here): ``GET /api/v1/query``.

It serves on 127.0.0.1 and checks every PromQL query it receives before answering: balanced
brackets and quotes, only the predictor's metric names, a range selector with a valid duration,
label matchers that name the namespace and one revision, and an aggregation that yields one
series. A query that fails a check gets Prometheus' own error shape (HTTP 400, ``bad_data``).
Valid queries get canned vector results keyed by (figure, revision): ``requests``, ``errors``,
``p99``, ``outcome_successes``, ``outcome_trials``. Each received query is kept in ``queries``.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

METRICS = {
    "quizops_predictor_requests_total",
    "quizops_predictor_request_duration_seconds_bucket",
    "quizops_predictor_outcomes_total",
}
DURATION = re.compile(r"\[(\d+)(ms|s|m|h|d)\]")
SELECTOR = re.compile(r"(?P<metric>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?P<matchers>[^{}]*)\}")
MATCHER = re.compile(
    r'^\s*(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*"(?P<value>[^"]*)"\s*$'
)


def _balanced(text: str) -> bool:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    in_quote = False
    for char in text:
        if char == '"':
            in_quote = not in_quote
        elif in_quote:
            continue
        elif char in "([{":
            stack.append(char)
        elif char in pairs:
            if not stack or stack.pop() != pairs[char]:
                return False
    return not stack and not in_quote


def classify(query: str, namespace: str) -> tuple[str, str]:
    """Returns (figure, revision) of a query, or raises ValueError naming what is wrong."""
    if not _balanced(query):
        raise ValueError("unbalanced brackets or quotes")
    selectors = list(SELECTOR.finditer(query))
    if len(selectors) != 1:
        raise ValueError(f"expected one series selector, found {len(selectors)}")
    selector = selectors[0]
    if selector["metric"] not in METRICS:
        raise ValueError(f"unknown metric {selector['metric']}")
    labels: dict[str, tuple[str, str]] = {}
    for part in selector["matchers"].split(","):
        match = MATCHER.match(part)
        if not match:
            raise ValueError(f"bad label matcher {part!r}")
        labels[match["label"]] = (match["op"], match["value"])
    if labels.get("namespace") != ("=", namespace):
        raise ValueError("selector must match the namespace exactly")
    revision = labels.get("serving_knative_dev_revision")
    if not revision or revision[0] != "=" or not revision[1]:
        raise ValueError("selector must match one revision exactly")
    if not DURATION.search(query):
        raise ValueError("range selector missing or bad duration")
    if not query.startswith(("sum(", "histogram_quantile(")):
        raise ValueError("query must aggregate to one series")
    metric = selector["metric"]
    if metric.endswith("_bucket"):
        if not re.match(r"^histogram_quantile\(0\.99,\s*sum by \(le\) \(rate\(", query):
            raise ValueError("p99 must be histogram_quantile(0.99, sum by (le) (rate(...)))")
        return "p99", revision[1]
    if "increase(" not in query:
        raise ValueError("counters must be read with increase()")
    if metric == "quizops_predictor_requests_total":
        code = labels.get("code")
        if code is None:
            return "requests", revision[1]
        if code == ("=~", "5.."):
            return "errors", revision[1]
        raise ValueError('errors must match code=~"5.."')
    outcome = labels.get("outcome")
    if outcome is None:
        return "outcome_trials", revision[1]
    if outcome == ("=", "correct"):
        return "outcome_successes", revision[1]
    raise ValueError('outcome must be matched as outcome="correct"')


class MockPrometheus:
    """``with MockPrometheus(namespace, results) as prom: prom.url``.

    ``results`` maps revision -> {figure: value}; a missing figure answers an empty vector.
    """

    def __init__(self, namespace: str, results: dict[str, dict[str, float]] | None = None):
        self.namespace = namespace
        self.results = results or {}
        self.queries: list[str] = []
        self.rejected: list[str] = []
        self.down = False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def _handler(self):
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, body):
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):
                parsed = urllib.parse.urlparse(self.path)
                if parsed.path != "/api/v1/query":
                    self._send(404, {"status": "error", "errorType": "not_found"})
                    return
                if mock.down:
                    self._send(503, {"status": "error", "errorType": "unavailable"})
                    return
                params = urllib.parse.parse_qs(parsed.query)
                [query] = params.get("query", [""])
                mock.queries.append(query)
                try:
                    figure, revision = classify(query, mock.namespace)
                except ValueError as exc:
                    mock.rejected.append(f"{exc}: {query}")
                    self._send(400, {"status": "error", "errorType": "bad_data", "error": str(exc)})
                    return
                value = mock.results.get(revision, {}).get(figure)
                result = (
                    [] if value is None else [{"metric": {}, "value": [time.time(), str(value)]}]
                )
                self._send(
                    200, {"status": "success", "data": {"resultType": "vector", "result": result}}
                )

        return Handler
