"""BOUNDARY MOCK of the Kubeflow Pipelines v2beta1 REST API, for tests only.

No KFP API server can run on this machine, so tests of ``pipelines/submit.py`` point the real
``kfp.Client`` (kfp 2.17.0, ``kfp_server_api``) at this small HTTP server on 127.0.0.1. It stands
in for the boundary only, and it is strict about what crosses it:

* every JSON body is deserialized into the ``kfp_server_api`` model the endpoint takes
  (``V2beta1Experiment``, ``V2beta1Run``, ``V2beta1RecurringRun``); unknown fields, wrong types,
  bad enum values and output-only fields are rejected; required fields must be present;
* query strings may carry only the parameters the generated client sends for that endpoint, and
  list filters must parse as ``V2beta1Filter``;
* an uploaded package must be compiled IR YAML: the first document parses strictly as a
  ``PipelineSpec`` proto (the rest as ``PlatformSpec``) and ``pipelineInfo.name`` is the expected
  pipeline name;
* a run's or recurring run's ``runtime_config.parameters`` must match the referenced version's
  ``root.inputDefinitions.parameters``: no unknown names, matching types, required ones present;
* a cron trigger must be KFP's 6-field cron (robfig/cron: second minute hour day-of-month month
  day-of-week) or a descriptor (``@daily``, ``@every 1h``);
* ``max_concurrency`` lies in [1, 10] as the KFP API server requires.

A rejected request gets the API server's error shape (``google.rpc.Status`` JSON with a clear
message) and HTTP 400/404/409, so the client raises ``ApiException``; each rejection is also kept
in :attr:`MockKfpApi.rejections`. Answers are built as ``kfp_server_api`` models and checked against
them before they are sent, so the client parses what a real server would send.

What it does not model: authentication beyond an optional bearer-token check (healthz is
exempt from it), multi-user
namespaces, pagination (one page holds everything), archive/terminate, any execution of runs.
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import kfp_server_api
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

EXPECTED_PIPELINE_NAME = "quizops-training"

# int64 fields are typed 'str' in the generated models (proto JSON writes int64 as a string) but
# the client sends them as JSON numbers; proto JSON accepts both.
_INT64_FIELDS = {"max_concurrency", "interval_second", "long_value"}
# Proto enum numbers of V2beta1PredicateOperation (a filter may give the number or the name).
_PREDICATE_OPERATIONS = {
    0: "OPERATION_UNSPECIFIED",
    1: "EQUALS",
    2: "NOT_EQUALS",
    3: "GREATER_THAN",
    5: "GREATER_THAN_EQUALS",
    6: "LESS_THAN",
    7: "LESS_THAN_EQUALS",
    8: "IN",
    9: "IS_SUBSTRING",
}
_LIST_QUERY = {"page_token", "page_size", "sort_by", "filter", "namespace"}


class ApiError(Exception):
    """A request the real API server would refuse; becomes a google.rpc.Status answer."""

    GRPC_CODES: ClassVar[dict[int, int]] = {400: 3, 401: 16, 404: 5, 409: 6, 501: 12}

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


# ----------------------------------------------------------------------------------------------
# strict model parsing


def _model_class(type_name: str) -> type:
    cls = getattr(kfp_server_api.models, type_name, None)
    if cls is None:
        raise KeyError(f"kfp_server_api has no model {type_name}")
    return cls


def _parse_timestamp(value: Any, where: str) -> dt.datetime:
    if not isinstance(value, str):
        raise _bad(f"{where}: expected an RFC 3339 timestamp string, got {value!r}")
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(f"{where}: {value!r} is not an RFC 3339 timestamp") from None


def parse_model(data: Any, type_name: str, where: str, field_name: str = "") -> Any:
    """Deserializes JSON ``data`` into the ``kfp_server_api`` type ``type_name``, strictly.

    Args:
        data: Decoded JSON.
        type_name: An ``openapi_types`` type string (``V2beta1Run``, ``list[str]``, ``int`` ...).
        where: Path of ``data`` in the request, for messages.
        field_name: The JSON field ``data`` came from (int64 handling).

    Returns:
        The model instance (or plain value for primitives and containers).

    Raises:
        ApiError: Unknown field, wrong type or bad enum value.
    """
    if data is None:
        return None
    if type_name.startswith("list["):
        if not isinstance(data, list):
            raise _bad(f"{where}: expected a list, got {type(data).__name__}")
        inner = type_name[5:-1]
        return [parse_model(item, inner, f"{where}[{i}]") for i, item in enumerate(data)]
    if type_name.startswith("dict("):
        if not isinstance(data, dict):
            raise _bad(f"{where}: expected an object, got {type(data).__name__}")
        inner = type_name[5:-1].split(", ", 1)[1]
        return {key: parse_model(value, inner, f"{where}.{key}") for key, value in data.items()}
    if type_name == "object":
        return data
    if type_name == "str":
        if field_name in _INT64_FIELDS:
            if isinstance(data, bool) or not (
                isinstance(data, int) or (isinstance(data, str) and re.fullmatch(r"-?\d+", data))
            ):
                raise _bad(f"{where}: expected an int64, got {data!r}")
            return str(data)
        if not isinstance(data, str):
            raise _bad(f"{where}: expected a string, got {data!r}")
        return data
    if type_name == "int":
        if isinstance(data, bool) or not isinstance(data, int):
            raise _bad(f"{where}: expected an integer, got {data!r}")
        return data
    if type_name == "float":
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise _bad(f"{where}: expected a number, got {data!r}")
        return data
    if type_name == "bool":
        if not isinstance(data, bool):
            raise _bad(f"{where}: expected a boolean, got {data!r}")
        return data
    if type_name == "datetime":
        _parse_timestamp(data, where)
        return data
    cls = _model_class(type_name)
    allowed = getattr(cls, "allowable_values", None)
    if allowed is not None:  # an enum
        if data not in allowed:
            raise _bad(f"{where}: {data!r} is not one of {allowed} ({type_name})")
        return data
    if not isinstance(data, dict):
        raise _bad(f"{where}: expected a {type_name} object, got {type(data).__name__}")
    by_json_key = {json_key: attr for attr, json_key in cls.attribute_map.items()}
    unknown = sorted(set(data) - set(by_json_key))
    if unknown:
        raise _bad(
            f"{where}: unknown field(s) {unknown} for {type_name}; "
            f"known fields are {sorted(by_json_key)}"
        )
    kwargs = {
        by_json_key[key]: parse_model(
            value, cls.openapi_types[by_json_key[key]], f"{where}.{key}", by_json_key[key]
        )
        for key, value in data.items()
    }
    return cls(**kwargs)


def _require(model: Any, names: list[str], where: str) -> None:
    for name in names:
        value = getattr(model, name)
        if value is None or value == "":
            raise _bad(f"{where}: required field '{name}' is missing or empty")


def _forbid(model: Any, names: list[str], where: str) -> None:
    for name in names:
        if getattr(model, name) is not None:
            raise _bad(f"{where}: '{name}' is output only and must not be set by the client")


def serialize(model: Any) -> dict[str, Any]:
    """JSON of a model as the API server writes it, checked against the model first."""
    body = kfp_server_api.ApiClient().sanitize_for_serialization(model)
    parse_model(body, type(model).__name__, f"response {type(model).__name__}")
    return body


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_EPOCH = "1970-01-01T00:00:00Z"


# ----------------------------------------------------------------------------------------------
# cron (robfig/cron v1 as the KFP scheduled-workflow controller parses it)

_MONTHS = {
    m: i + 1 for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())
}
_DAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}
_CRON_FIELDS = (
    ("second", 0, 59, {}),
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _DAYS),
)
_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_GO_DURATION = re.compile(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+")


def validate_cron(expression: str) -> None:
    """Checks a KFP cron expression: 6 fields, seconds first, or a descriptor.

    Raises:
        ApiError: The expression is not valid.
    """
    text = expression.strip()
    if text.startswith("@"):
        if text in _DESCRIPTORS:
            return
        if text.startswith("@every ") and _GO_DURATION.fullmatch(text[len("@every ") :]):
            return
        raise _bad(f"invalid cron schedule {expression!r}: unknown descriptor")
    fields = text.split()
    if len(fields) != 6:
        raise _bad(
            f"invalid cron schedule {expression!r}: KFP cron has 6 fields (second minute hour "
            f"day-of-month month day-of-week), got {len(fields)}"
        )

    def value(token: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
        number = names.get(token.upper()) if names else None
        if number is None:
            if not token.isdigit():
                raise _bad(f"invalid cron schedule {expression!r}: bad {name} value {token!r}")
            number = int(token)
        if not low <= number <= high:
            raise _bad(
                f"invalid cron schedule {expression!r}: {name} {number} outside [{low}, {high}]"
            )
        return number

    for text_field, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for part in text_field.split(","):
            span, slash, step = part.partition("/")
            if slash and (not step.isdigit() or int(step) == 0):
                raise _bad(f"invalid cron schedule {expression!r}: bad {name} step {part!r}")
            if span in ("*", "?"):
                continue
            first, dash, last = span.partition("-")
            start = value(first, name, low, high, names)
            if dash and value(last, name, low, high, names) < start:
                raise _bad(f"invalid cron schedule {expression!r}: empty {name} range {span!r}")


# ----------------------------------------------------------------------------------------------
# pipeline packages and runtime parameters


def parse_package(
    filename: str, content: bytes, expected_name: str | tuple[str, ...]
) -> dict[str, Any]:
    """Checks an uploaded package is compiled IR YAML of the expected pipeline.

    Returns:
        The pipeline spec (first YAML document) as a dict.
    """
    if not filename.endswith((".yaml", ".yml")):
        raise _bad(f"uploadfile {filename!r}: expected the compiled IR YAML (.yaml)")
    try:
        docs = list(yaml.safe_load_all(content.decode("utf-8")))
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise _bad(f"uploadfile {filename!r} is not YAML: {error}") from None
    if not docs or not isinstance(docs[0], dict):
        raise _bad(f"uploadfile {filename!r}: no pipeline spec document")
    try:
        json_format.ParseDict(docs[0], pipeline_spec_pb2.PipelineSpec())
        for doc in docs[1:]:
            json_format.ParseDict(doc, pipeline_spec_pb2.PlatformSpec())
    except json_format.ParseError as error:
        raise _bad(f"uploadfile {filename!r} is not a KFP pipeline spec: {error}") from None
    spec = docs[0]
    name = spec.get("pipelineInfo", {}).get("name")
    expected = (expected_name,) if isinstance(expected_name, str) else expected_name
    if name not in expected:
        raise _bad(f"uploadfile {filename!r}: pipelineInfo.name is {name!r}, not {expected_name!r}")
    if not str(spec.get("schemaVersion", "")).startswith("2."):
        raise _bad(f"uploadfile {filename!r}: schemaVersion {spec.get('schemaVersion')!r}")
    return spec


def _type_ok(parameter_type: str, value: Any) -> bool:
    if parameter_type == "STRING":
        return isinstance(value, str)
    if parameter_type == "NUMBER_INTEGER":
        return not isinstance(value, bool) and (
            isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        )
    if parameter_type == "NUMBER_DOUBLE":
        return not isinstance(value, bool) and isinstance(value, int | float)
    if parameter_type == "BOOLEAN":
        return isinstance(value, bool)
    if parameter_type == "LIST":
        return isinstance(value, list)
    if parameter_type == "STRUCT":
        return isinstance(value, dict)
    return False


def check_parameters(spec: dict[str, Any], parameters: dict[str, Any] | None, where: str) -> None:
    """Checks runtime parameters against the pipeline's root input definitions."""
    declared = spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    parameters = parameters or {}
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise _bad(
            f"{where}: parameter(s) {unknown} are not declared by pipeline "
            f"{spec['pipelineInfo']['name']!r} (declared: {sorted(declared)})"
        )
    for name, value in parameters.items():
        parameter_type = declared[name].get("parameterType", "")
        if not _type_ok(parameter_type, value):
            raise _bad(
                f"{where}: parameter '{name}' is {parameter_type}, got {type(value).__name__} "
                f"{value!r}"
            )
    missing = sorted(
        name
        for name, definition in declared.items()
        if name not in parameters
        and not definition.get("isOptional")
        and "defaultValue" not in definition
    )
    if missing:
        raise _bad(f"{where}: required parameter(s) {missing} missing")


# ----------------------------------------------------------------------------------------------
# the server


@dataclass
class Request:
    """One request the mock received (after it was accepted or rejected)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any = None
    status: int = 200


@dataclass
class _State:
    pipelines: dict[str, kfp_server_api.V2beta1Pipeline] = field(default_factory=dict)
    versions: dict[str, kfp_server_api.V2beta1PipelineVersion] = field(default_factory=dict)
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)  # version id -> spec
    experiments: dict[str, kfp_server_api.V2beta1Experiment] = field(default_factory=dict)
    runs: dict[str, kfp_server_api.V2beta1Run] = field(default_factory=dict)
    recurring_runs: dict[str, kfp_server_api.V2beta1RecurringRun] = field(default_factory=dict)


class MockKfpApi:
    """Boundary mock of the KFP v2beta1 API on 127.0.0.1; use as a context manager.

    Args:
        expected_pipeline_name: ``pipelineInfo.name`` every uploaded package must carry (or a
            tuple of accepted names).
        run_states: States a run goes through on successive ``GET /runs/{id}`` after creation
            (the last one stays), standing in for the execution the mock does not do.
        token: When set, every request must carry ``Authorization: Bearer <token>``.
    """

    def __init__(
        self,
        expected_pipeline_name: str | tuple[str, ...] = EXPECTED_PIPELINE_NAME,
        token: str | None = None,
        run_states: tuple[str, ...] = ("RUNNING", "SUCCEEDED"),
    ) -> None:
        self.expected_pipeline_name = expected_pipeline_name
        self.run_states = run_states
        self._run_polls: dict[str, int] = {}
        self.token = token
        self.state = _State()
        self.requests: list[Request] = []
        self.rejections: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = [
            ("GET", re.compile(r"/apis/v2beta1/healthz"), self._healthz),
            ("GET", re.compile(r"/apis/v2beta1/pipelines"), self._list_pipelines),
            (
                "GET",
                re.compile(r"/apis/v2beta1/pipelines/(?P<pipeline_id>[^/:]+)/versions"),
                self._list_versions,
            ),
            ("POST", re.compile(r"/apis/v2beta1/pipelines/upload"), self._upload_pipeline),
            ("POST", re.compile(r"/apis/v2beta1/pipelines/upload_version"), self._upload_version),
            ("GET", re.compile(r"/apis/v2beta1/experiments"), self._list_experiments),
            ("POST", re.compile(r"/apis/v2beta1/experiments"), self._create_experiment),
            ("POST", re.compile(r"/apis/v2beta1/runs"), self._create_run),
            ("GET", re.compile(r"/apis/v2beta1/runs/(?P<run_id>[^/:]+)"), self._get_run),
            ("GET", re.compile(r"/apis/v2beta1/recurringruns"), self._list_recurring_runs),
            ("POST", re.compile(r"/apis/v2beta1/recurringruns"), self._create_recurring_run),
            (
                "DELETE",
                re.compile(r"/apis/v2beta1/recurringruns/(?P<recurring_run_id>[^/:]+)"),
                self._delete_recurring_run,
            ),
        ]

    # lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "mock not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> MockKfpApi:
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # header and body go out in separate writes

            def do_GET(self) -> None:
                mock._handle(self)

            do_POST = do_DELETE = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(timeout=10)
            self._server = None

    def __enter__(self) -> MockKfpApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # request plumbing --------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        raw_query = parse_qs(parts.query, keep_blank_values=True)
        length = int(handler.headers.get("Content-Length") or 0)
        raw_body = handler.rfile.read(length) if length else b""
        record = Request(handler.command, parts.path, {k: v[-1] for k, v in raw_query.items()})
        try:
            if any(len(values) > 1 for values in raw_query.values()):
                raise _bad(f"repeated query parameter in {parts.query!r}")
            # healthz is left open: kfp.Client probes it in its constructor and retries for 20 s.
            if self.token is not None and parts.path != "/apis/v2beta1/healthz":
                if handler.headers.get("Authorization") != f"Bearer {self.token}":
                    raise ApiError(401, "missing or wrong bearer token")
            action, path_params = self._route(handler.command, parts.path)
            with self._lock:
                status, answer = action(
                    handler=handler,
                    query=record.query,
                    raw_body=raw_body,
                    record=record,
                    **path_params,
                )
        except ApiError as error:
            status = error.status
            answer = {
                "error": error.message,
                "code": ApiError.GRPC_CODES.get(error.status, 2),
                "message": error.message,
                "details": [],
            }
            with self._lock:
                self.rejections.append(f"{handler.command} {parts.path}: {error.message}")
        record.status = status
        with self._lock:
            self.requests.append(record)
        payload = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _route(self, method: str, path: str) -> tuple[Callable[..., Any], dict[str, str]]:
        for route_method, pattern, action in self._routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return action, match.groupdict()
        raise ApiError(404, f"mock KFP API: no route {method} {path}")

    @staticmethod
    def _check_query(query: dict[str, str], allowed: set[str], where: str) -> None:
        unknown = sorted(set(query) - allowed)
        if unknown:
            raise _bad(f"{where}: unknown query parameter(s) {unknown}")

    @staticmethod
    def _json_body(handler: BaseHTTPRequestHandler, raw_body: bytes, record: Request) -> Any:
        if not handler.headers.get("Content-Type", "").startswith("application/json"):
            raise _bad(f"expected an application/json body, got {handler.headers['Content-Type']}")
        try:
            body = json.loads(raw_body)
        except json.JSONDecodeError as error:
            raise _bad(f"body is not JSON: {error}") from None
        record.body = body
        return body

    @staticmethod
    def _multipart_file(handler: BaseHTTPRequestHandler, raw_body: bytes) -> tuple[str, bytes]:
        content_type = handler.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            raise _bad(f"expected multipart/form-data, got {content_type!r}")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw_body
        )
        files = [
            part
            for part in message.iter_parts()
            if part.get_param("name", header="content-disposition") == "uploadfile"
        ]
        others = [
            part.get_param("name", header="content-disposition")
            for part in message.iter_parts()
            if part.get_param("name", header="content-disposition") != "uploadfile"
        ]
        if others:
            raise _bad(f"unknown form field(s) {others}; only 'uploadfile' is accepted")
        if len(files) != 1 or not files[0].get_filename():
            raise _bad("multipart body must hold exactly one file field 'uploadfile'")
        return files[0].get_filename(), files[0].get_payload(decode=True)

    @staticmethod
    def _equals_filter(query: dict[str, str], where: str) -> str | None:
        """The display name a list filter asks for (the only filter the mock evaluates)."""
        if not query.get("filter"):
            return None
        try:
            raw = json.loads(query["filter"])
        except json.JSONDecodeError as error:
            raise _bad(f"{where}: filter is not JSON: {error}") from None

        def snake(obj: Any) -> Any:  # proto JSON accepts lowerCamelCase names too
            if isinstance(obj, dict):
                return {re.sub(r"([A-Z])", r"_\1", k).lower(): snake(v) for k, v in obj.items()}
            if isinstance(obj, list):
                return [snake(item) for item in obj]
            return obj

        raw = snake(raw)
        for predicate in raw.get("predicates", []) if isinstance(raw, dict) else []:
            if isinstance(predicate, dict) and isinstance(predicate.get("operation"), int):
                number = predicate["operation"]
                if number not in _PREDICATE_OPERATIONS:
                    raise _bad(f"{where}: unknown predicate operation {number}")
                predicate["operation"] = _PREDICATE_OPERATIONS[number]
        parsed = parse_model(raw, "V2beta1Filter", f"{where}.filter")
        predicates = parsed.predicates or []
        if (
            len(predicates) != 1
            or predicates[0].operation != "EQUALS"
            or predicates[0].key not in ("display_name", "name")
            or predicates[0].string_value is None
        ):
            raise ApiError(
                501, f"{where}: mock evaluates only one EQUALS display_name predicate: {raw}"
            )
        return predicates[0].string_value

    # endpoints ---------------------------------------------------------------------------------

    def _healthz(self, query: dict[str, str], **_: Any) -> tuple[int, Any]:
        self._check_query(query, set(), "healthz")
        answer = kfp_server_api.V2beta1GetHealthzResponse(multi_user=False, pipeline_store="")
        return 200, serialize(answer)

    def _list_pipelines(self, query: dict[str, str], **_: Any) -> tuple[int, Any]:
        self._check_query(query, _LIST_QUERY, "list pipelines")
        name = self._equals_filter(query, "list pipelines")
        found = [p for p in self.state.pipelines.values() if name in (None, p.display_name)]
        answer = kfp_server_api.V2beta1ListPipelinesResponse(
            pipelines=found or None, total_size=len(found) or None
        )
        return 200, serialize(answer)

    def _list_versions(self, query: dict[str, str], pipeline_id: str, **_: Any) -> tuple[int, Any]:
        where = "list pipeline versions"
        self._check_query(query, _LIST_QUERY - {"namespace"}, where)
        if pipeline_id not in self.state.pipelines:
            raise ApiError(404, f"{where}: pipeline {pipeline_id} not found")
        name = self._equals_filter(query, where)
        found = [
            v
            for v in self.state.versions.values()
            if v.pipeline_id == pipeline_id and name in (None, v.display_name)
        ]
        answer = kfp_server_api.V2beta1ListPipelineVersionsResponse(
            pipeline_versions=found or None, total_size=len(found) or None
        )
        return 200, serialize(answer)

    def _new_version(
        self, pipeline_id: str, name: str, description: str | None, spec: dict[str, Any]
    ) -> kfp_server_api.V2beta1PipelineVersion:
        version = kfp_server_api.V2beta1PipelineVersion(
            pipeline_id=pipeline_id,
            pipeline_version_id=str(uuid.uuid4()),
            display_name=name,
            name=name,
            description=description,
            created_at=_now(),
            pipeline_spec=spec,
        )
        self.state.versions[version.pipeline_version_id] = version
        self.state.specs[version.pipeline_version_id] = spec
        return version

    def _upload_pipeline(
        self, handler: BaseHTTPRequestHandler, query: dict[str, str], raw_body: bytes, **_: Any
    ) -> tuple[int, Any]:
        where = "upload pipeline"
        self._check_query(query, {"name", "display_name", "description", "namespace"}, where)
        name = query.get("display_name") or query.get("name")
        if not name or not name.strip():
            raise _bad(f"{where}: pipeline name is required")
        filename, content = self._multipart_file(handler, raw_body)
        spec = parse_package(filename, content, self.expected_pipeline_name)
        if any(p.display_name == name for p in self.state.pipelines.values()):
            raise ApiError(409, f"{where}: a pipeline named {name!r} already exists")
        pipeline = kfp_server_api.V2beta1Pipeline(
            pipeline_id=str(uuid.uuid4()),
            display_name=name,
            name=name,
            description=query.get("description"),
            created_at=_now(),
            namespace=query.get("namespace"),
        )
        self.state.pipelines[pipeline.pipeline_id] = pipeline
        # The API server also creates the pipeline's first version, named like the pipeline.
        self._new_version(pipeline.pipeline_id, name, query.get("description"), spec)
        return 200, serialize(pipeline)

    def _upload_version(
        self, handler: BaseHTTPRequestHandler, query: dict[str, str], raw_body: bytes, **_: Any
    ) -> tuple[int, Any]:
        where = "upload pipeline version"
        self._check_query(query, {"name", "display_name", "pipelineid", "description"}, where)
        name = query.get("display_name") or query.get("name")
        if not name or not name.strip():
            raise _bad(f"{where}: version name is required")
        pipeline_id = query.get("pipelineid")
        if not pipeline_id:
            raise _bad(f"{where}: pipelineid is required")
        if pipeline_id not in self.state.pipelines:
            raise ApiError(404, f"{where}: pipeline {pipeline_id} not found")
        filename, content = self._multipart_file(handler, raw_body)
        spec = parse_package(filename, content, self.expected_pipeline_name)
        if any(
            v.pipeline_id == pipeline_id and v.display_name == name
            for v in self.state.versions.values()
        ):
            raise ApiError(409, f"{where}: version {name!r} of pipeline {pipeline_id} exists")
        version = self._new_version(pipeline_id, name, query.get("description"), spec)
        return 200, serialize(version)

    def _list_experiments(self, query: dict[str, str], **_: Any) -> tuple[int, Any]:
        self._check_query(query, _LIST_QUERY, "list experiments")
        name = self._equals_filter(query, "list experiments")
        found = [e for e in self.state.experiments.values() if name in (None, e.display_name)]
        answer = kfp_server_api.V2beta1ListExperimentsResponse(
            experiments=found or None, total_size=len(found) or None
        )
        return 200, serialize(answer)

    def _create_experiment(
        self,
        handler: BaseHTTPRequestHandler,
        query: dict[str, str],
        raw_body: bytes,
        record: Request,
        **_: Any,
    ) -> tuple[int, Any]:
        where = "create experiment"
        self._check_query(query, set(), where)
        body = self._json_body(handler, raw_body, record)
        experiment = parse_model(body, "V2beta1Experiment", "experiment")
        _require(experiment, ["display_name"], "experiment")
        _forbid(
            experiment,
            ["experiment_id", "created_at", "storage_state", "last_run_created_at"],
            "experiment",
        )
        if any(e.display_name == experiment.display_name for e in self.state.experiments.values()):
            raise ApiError(409, f"{where}: experiment {experiment.display_name!r} exists")
        experiment.experiment_id = str(uuid.uuid4())
        experiment.created_at = _now()
        experiment.last_run_created_at = _EPOCH
        experiment.storage_state = "AVAILABLE"
        self.state.experiments[experiment.experiment_id] = experiment
        return 200, serialize(experiment)

    def _check_template(self, model: Any, where: str) -> dict[str, Any]:
        """Checks experiment, version reference and runtime config; returns the spec."""
        _require(model, ["display_name", "experiment_id"], where)
        if model.experiment_id not in self.state.experiments:
            raise ApiError(404, f"{where}: experiment {model.experiment_id} not found")
        if model.pipeline_spec is not None:
            if model.pipeline_version_reference is not None:
                raise _bad(f"{where}: give pipeline_spec or pipeline_version_reference, not both")
            spec = dict(model.pipeline_spec)
            try:
                if "pipeline_spec" in spec:  # the client wraps a spec with a platform spec
                    json_format.ParseDict(
                        spec.get("platform_spec", {}), pipeline_spec_pb2.PlatformSpec()
                    )
                    spec = spec["pipeline_spec"]
                json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
            except json_format.ParseError as error:
                raise _bad(f"{where}.pipeline_spec is not a KFP pipeline spec: {error}") from None
            runtime = model.runtime_config or kfp_server_api.V2beta1RuntimeConfig()
            check_parameters(spec, runtime.parameters, f"{where}.runtime_config")
            return spec
        reference = model.pipeline_version_reference
        if reference is None:
            raise _bad(f"{where}: required field 'pipeline_version_reference' is missing")
        _require(reference, ["pipeline_id", "pipeline_version_id"], f"{where}.reference")
        version = self.state.versions.get(reference.pipeline_version_id)
        if version is None or version.pipeline_id != reference.pipeline_id:
            raise ApiError(
                404,
                f"{where}: pipeline version {reference.pipeline_version_id} of pipeline "
                f"{reference.pipeline_id} not found",
            )
        spec = self.state.specs[version.pipeline_version_id]
        runtime = model.runtime_config or kfp_server_api.V2beta1RuntimeConfig()
        check_parameters(spec, runtime.parameters, f"{where}.runtime_config")
        return spec

    def _create_run(
        self,
        handler: BaseHTTPRequestHandler,
        query: dict[str, str],
        raw_body: bytes,
        record: Request,
        **_: Any,
    ) -> tuple[int, Any]:
        self._check_query(query, {"experiment_id"}, "create run")
        body = self._json_body(handler, raw_body, record)
        run = parse_model(body, "V2beta1Run", "run")
        _forbid(
            run,
            [
                "run_id",
                "storage_state",
                "pipeline_version_id",
                "created_at",
                "scheduled_at",
                "finished_at",
                "state",
                "error",
                "run_details",
                "recurring_run_id",
                "state_history",
            ],
            "run",
        )
        self._check_template(run, "run")
        now = _now()
        run.run_id = str(uuid.uuid4())
        run.storage_state = "AVAILABLE"
        run.service_account = run.service_account or "pipeline-runner"
        run.created_at = run.scheduled_at = now
        run.finished_at = _EPOCH
        run.state = "PENDING"
        run.state_history = [kfp_server_api.V2beta1RuntimeStatus(update_time=now, state="PENDING")]
        self.state.runs[run.run_id] = run
        return 200, serialize(run)

    def _get_run(self, query: dict[str, str], run_id: str, **_: Any) -> tuple[int, Any]:
        self._check_query(query, {"experiment_id"}, "get run")
        run = self.state.runs.get(run_id)
        if run is None:
            raise ApiError(404, f"run {run_id} not found")
        polls = self._run_polls.get(run_id, 0)
        self._run_polls[run_id] = polls + 1
        if self.run_states:
            state = self.run_states[min(polls, len(self.run_states) - 1)]
            if state != run.state:
                now = _now()
                run.state = state
                run.state_history = [
                    *(run.state_history or []),
                    kfp_server_api.V2beta1RuntimeStatus(update_time=now, state=state),
                ]
                if state in ("SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"):
                    run.finished_at = now
        return 200, serialize(run)

    def _create_recurring_run(
        self,
        handler: BaseHTTPRequestHandler,
        query: dict[str, str],
        raw_body: bytes,
        record: Request,
        **_: Any,
    ) -> tuple[int, Any]:
        where = "recurring_run"
        self._check_query(query, set(), "create recurring run")
        body = self._json_body(handler, raw_body, record)
        job = parse_model(body, "V2beta1RecurringRun", where)
        _forbid(
            job,
            ["recurring_run_id", "pipeline_version_id", "created_at", "updated_at", "status"],
            where,
        )
        _forbid(job, ["error"], where)
        self._check_template(job, where)
        if job.mode not in ("ENABLE", "DISABLE"):
            raise _bad(f"{where}: mode must be ENABLE or DISABLE, got {job.mode!r}")
        trigger = job.trigger
        if trigger is None or (trigger.cron_schedule is None) == (
            trigger.periodic_schedule is None
        ):
            raise _bad(f"{where}: trigger needs exactly one of cron_schedule, periodic_schedule")
        if trigger.cron_schedule is not None:
            _require(trigger.cron_schedule, ["cron"], f"{where}.trigger.cron_schedule")
            validate_cron(trigger.cron_schedule.cron)
        elif int(trigger.periodic_schedule.interval_second or 0) <= 0:
            raise _bad(f"{where}: periodic_schedule.interval_second must be positive")
        concurrency = int(job.max_concurrency or 1)
        if not 1 <= concurrency <= 10:
            raise _bad(f"{where}: max_concurrency must be in [1, 10], got {concurrency}")
        now = _now()
        job.recurring_run_id = str(uuid.uuid4())
        job.max_concurrency = str(concurrency)
        job.service_account = job.service_account or "pipeline-runner"
        job.created_at = job.updated_at = now
        job.status = "ENABLED" if job.mode == "ENABLE" else "DISABLED"
        job.no_catchup = bool(job.no_catchup)
        job.namespace = job.namespace or ""
        self.state.recurring_runs[job.recurring_run_id] = job
        return 200, serialize(job)

    def _list_recurring_runs(self, query: dict[str, str], **_: Any) -> tuple[int, Any]:
        where = "list recurring runs"
        self._check_query(query, _LIST_QUERY | {"experiment_id"}, where)
        name = self._equals_filter(query, where)
        experiment_id = query.get("experiment_id")
        found = [
            job
            for job in self.state.recurring_runs.values()
            if name in (None, job.display_name) and experiment_id in (None, job.experiment_id)
        ]
        answer = kfp_server_api.V2beta1ListRecurringRunsResponse(
            recurring_runs=found or None, total_size=len(found) or None
        )
        return 200, serialize(answer)

    def _delete_recurring_run(
        self, query: dict[str, str], recurring_run_id: str, **_: Any
    ) -> tuple[int, Any]:
        self._check_query(query, {"propagation_policy"}, "delete recurring run")
        if self.state.recurring_runs.pop(recurring_run_id, None) is None:
            raise ApiError(404, f"recurring run {recurring_run_id} not found")
        return 200, {}
