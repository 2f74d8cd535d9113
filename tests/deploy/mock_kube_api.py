"""A MOCK Kubernetes API server for InferenceServices (the one boundary this machine lacks).

It serves ``/apis/serving.kserve.io/v1beta1/namespaces/{ns}/inferenceservices[/{name}]`` on
127.0.0.1 for the real ``kubernetes`` client: GET, POST (create), PATCH (JSON merge patch only,
as ``CustomObjectsApi.patch_namespaced_custom_object`` sends) and DELETE. Every request body and
every resulting object is checked against the real InferenceService CRD's v1beta1 schema
(jsonschema, plus a strict check for undeclared fields, like ``fieldValidation=Strict``) and
deserialised into the kserve SDK's ``V1beta1InferenceService`` model; a violation answers 422
like an API server would (every write's path is kept in ``requests``, so a test checks the client
asked for ``fieldValidation=Strict``). A tiny fake controller then writes a status:
a new predictor revision per model/image change, ``observedGeneration``, the canary traffic split
between the last rolled-out revision and the new one (as KServe's Serverless mode reports it).
A revision whose storage URI contains ``broken`` fails; one containing ``never-ready`` stays
``Ready=Unknown`` forever (Knative keeps routing to the revisions that are ready).

Failure modes a test switches on:

* ``polls_until_ready``: after a change, the next GETs show the new generation observed but
  the new revision not ready yet (conditions Unknown, traffic as before).
* ``stale_polls``: after a change, the next GETs return the status from BEFORE the change
  (old ``observedGeneration``, old revisions, ``Ready=True``): a client that judges that status
  promotes a canary that never ran.
* ``fail(method, after=k, times=n)``: the (k+1)-th next request of that method and the n-1
  after it answer 500, as an API server under trouble does.

Every status written is appended to ``history`` (traffic per revision, conditions), so a test
can check that the champion kept serving throughout.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[2]
# CI and sessions have ../shared beside the checkout; the package ships a copy of its schema.
SHARED_CRD = (
    REPO.parent / "shared" / "schemas" / "kserve" / "serving.kserve.io_inferenceservices.yaml"
)
LOCAL_SCHEMA = REPO / "quizops" / "schemas" / "inferenceservice_v1beta1.json"
PATH = re.compile(
    r"^/apis/serving\.kserve\.io/v1beta1/namespaces/(?P<ns>[^/]+)/inferenceservices(?:/(?P<name>[^/?]+))?/?(?:\?.*)?$"
)


@functools.cache
def load_schema():
    if SHARED_CRD.exists():
        crd = yaml.load(
            SHARED_CRD.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
        [served] = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta1"]
        return served["schema"]["openAPIV3Schema"]
    return json.loads(LOCAL_SCHEMA.read_text())


@functools.cache
def _validator():
    return jsonschema.Draft7Validator(load_schema())


def undeclared(value, schema, path=""):
    """Independent strict-field check (what the API server's strict field validation rejects)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    out = []
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, child in value.items():
            where = f"{path}.{key}" if path else key
            if props and key in props:
                out += undeclared(child, props[key], where)
            elif isinstance(extra, dict):
                out += undeclared(child, extra, where)
            elif props is not None:
                out.append(where)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, child in enumerate(value):
            out += undeclared(child, schema["items"], f"{path}[{i}]")
    return out


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _model_client():
    """The kserve SDK's ApiClient, resolving Kubernetes model names (V1ObjectMeta, V1Container...)
    from the kubernetes client's models, as the SDK's own KServeClient relies on."""
    import kserve.models
    import kubernetes.client.models

    from kserve import ApiClient

    class ModelClient(ApiClient):
        def _ApiClient__deserialize(self, data, klass):
            if (
                isinstance(klass, str)
                and not klass.startswith(("list[", "dict("))
                and klass not in self.NATIVE_TYPES_MAPPING
                and not hasattr(kserve.models, klass)
                and hasattr(kubernetes.client.models, klass)
            ):
                klass = getattr(kubernetes.client.models, klass)
            return super()._ApiClient__deserialize(data, klass)

    return ModelClient()


class _Response:
    def __init__(self, data):
        self.data = json.dumps(data)


class MockKubeAPI:
    """The mock server; ``with MockKubeAPI() as api: api.url``."""

    def __init__(self, polls_until_ready: int = 0, stale_polls: int = 0):
        self.stale_polls = stale_polls
        #: revision -> URL its tagged traffic target reports (Knative's tag routes)
        self.revision_urls: dict[str, str] = {}
        self.history: list[dict] = []
        self.stale_served = 0
        self._stale: dict[tuple[str, str], tuple[int, dict]] = {}
        self._failures: dict[str, list[int]] = {}
        self._counts: dict[str, int] = {}
        self.schema = load_schema()
        self.validator = _validator()
        self.objects: dict[tuple[str, str], dict] = {}
        self.requests: list[tuple[str, str, object]] = []
        self.rejections: list[str] = []
        self.polls_until_ready = polls_until_ready
        self._pending: dict[tuple[str, str], int] = {}
        self._revisions = 0
        self._lock = threading.Lock()
        self._kserve_client = _model_client()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    # -- checks -------------------------------------------------------------------------
    def check(self, obj) -> str | None:
        errors = sorted(self.validator.iter_errors(obj), key=lambda e: list(e.path))
        if errors:
            return f"schema: {'.'.join(map(str, errors[0].path))}: {errors[0].message}"
        extra = undeclared(obj, self.schema)
        if extra:
            return f'strict decoding error: unknown field "{extra[0]}"'
        if (
            obj.get("apiVersion") != "serving.kserve.io/v1beta1"
            or obj.get("kind") != "InferenceService"
        ):
            return "apiVersion/kind mismatch"
        try:
            # The SDK's status model names Knative classes it does not ship: check all but status.
            without_status = {k: v for k, v in obj.items() if k != "status"}
            model = self._kserve_client.deserialize(
                _Response(without_status), "V1beta1InferenceService"
            )
        except Exception as exc:  # the SDK model rejects it
            return f"kserve V1beta1InferenceService: {exc}"
        if model.spec is None or model.spec.predictor is None:
            return "kserve V1beta1InferenceService: spec.predictor missing"
        return None

    # -- fake controller ----------------------------------------------------------------
    def fail(self, method: str, after: int = 0, times: int = 1):
        """The (after+1)-th next `method` request and the `times`-1 following answer 500."""
        start = self._counts.get(method, 0) + after
        self._failures.setdefault(method, []).extend(range(start, start + times))

    def _should_fail(self, method: str) -> bool:
        with self._lock:
            index = self._counts.get(method, 0)
            self._counts[method] = index + 1
            return index in self._failures.get(method, [])

    def reconcile(self, obj, spec_changed: bool):
        status = obj.setdefault("status", {})
        status["observedGeneration"] = obj["metadata"]["generation"]
        predictor_status = status.setdefault("components", {}).setdefault("predictor", {})
        spec = obj["spec"]["predictor"]
        uris = [u["uri"] for u in spec.get("storageUris", [])]
        if spec_changed:
            self._revisions += 1
            predictor_status["latestCreatedRevision"] = (
                f"{obj['metadata']['name']}-predictor-{self._revisions:05d}"
            )
        new = predictor_status["latestCreatedRevision"]
        rolled = predictor_status.get("latestRolledoutRevision")
        if any("broken" in u for u in uris):
            status["conditions"] = [
                {
                    "type": "PredictorReady",
                    "status": "False",
                    "reason": "RevisionFailed",
                    "message": f"Revision {new} failed: storage initializer could not download",
                },
                {"type": "Ready", "status": "False", "reason": "RevisionFailed"},
            ]
            return
        if any("never-ready" in u for u in uris):
            status["conditions"] = [
                {"type": "PredictorReady", "status": "Unknown", "reason": "RevisionMissing"},
                {"type": "Ready", "status": "Unknown", "reason": "RevisionMissing"},
            ]
            return
        predictor_status["latestReadyRevision"] = new
        canary = spec.get("canaryTrafficPercent")
        if canary is not None and rolled and rolled != new:
            predictor_status["previousRolledoutRevision"] = rolled
            predictor_status["traffic"] = [
                {
                    "revisionName": rolled,
                    "percent": 100 - canary,
                    "tag": "prev",
                    "latestRevision": False,
                },
                {"revisionName": new, "percent": canary, "tag": "latest", "latestRevision": True},
            ]
        else:
            if rolled and rolled != new:
                predictor_status["previousRolledoutRevision"] = rolled
            predictor_status["latestRolledoutRevision"] = new
            predictor_status["traffic"] = [
                {"revisionName": new, "percent": 100, "latestRevision": True}
            ]
        self._tag_urls(obj)
        status["url"] = (
            f"http://{obj['metadata']['name']}.{obj['metadata']['namespace']}.example.com"
        )
        status["conditions"] = [
            {"type": "PredictorReady", "status": "True"},
            {"type": "Ready", "status": "True"},
        ]

    def _tag_urls(self, obj):
        for target in obj["status"]["components"]["predictor"].get("traffic", []):
            if target["revisionName"] in self.revision_urls:
                target["url"] = self.revision_urls[target["revisionName"]]

    def _record(self, obj):
        status = obj.get("status", {})
        traffic = {
            t["revisionName"]: t["percent"]
            for t in status.get("components", {}).get("predictor", {}).get("traffic", [])
        }
        ready = [c["status"] for c in status.get("conditions", []) if c["type"] == "Ready"]
        self.history.append(
            {
                "generation": obj["metadata"]["generation"],
                "traffic": traffic,
                "ready": ready[0] if ready else None,
                "created": status.get("components", {})
                .get("predictor", {})
                .get("latestCreatedRevision"),
            }
        )

    def _visible(self, key):
        """Status as a client sees it right after a change (see the class docstring)."""
        obj = copy.deepcopy(self.objects[key])
        stale = self._stale.get(key)
        if stale and stale[0] > 0:
            self._stale[key] = (stale[0] - 1, stale[1])
            self.stale_served += 1
            obj["status"] = copy.deepcopy(stale[1])
            return obj
        left = self._pending.get(key, 0)
        if left > 0:
            self._pending[key] = left - 1
            before = (stale[1] if stale else {}).get("components", {}).get("predictor", {})
            predictor = obj["status"]["components"]["predictor"]
            predictor["latestReadyRevision"] = before.get("latestReadyRevision", "")
            if "traffic" in before:
                predictor["traffic"] = copy.deepcopy(before["traffic"])
            else:
                predictor.pop("traffic", None)
            obj["status"]["conditions"] = [
                {"type": "Ready", "status": "Unknown", "reason": "RevisionMissing"}
            ]
        return obj

    def _changed(self, key, before_status):
        """Arms the stale / pending views after a change of spec."""
        self._stale[key] = (self.stale_polls, copy.deepcopy(before_status))
        self._pending[key] = self.polls_until_ready

    # -- HTTP ---------------------------------------------------------------------------
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

            def _status(self, code, reason, message):
                mock.rejections.append(message) if code == 422 else None
                self._send(
                    code,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "reason": reason,
                        "message": message,
                        "code": code,
                    },
                )

            def _body(self):
                length = int(self.headers.get("content-length") or 0)
                return json.loads(self.rfile.read(length) or b"null")

            def _route(self):
                match = PATH.match(self.path)
                if not match:
                    self._status(404, "NotFound", f"no route {self.path}")
                    return None
                return match["ns"], match["name"]

            def do_GET(self):
                route = self._route()
                if route is None:
                    return
                mock.requests.append(("GET", self.path, None))
                if mock._should_fail("GET"):
                    self._status(500, "InternalError", "etcdserver: request timed out")
                    return
                with mock._lock:
                    if route not in mock.objects:
                        self._status(404, "NotFound", f'inferenceservices "{route[1]}" not found')
                        return
                    self._send(200, mock._visible(route))

            def do_POST(self):
                route = self._route()
                if route is None:
                    return
                body = self._body()
                mock.requests.append(("POST", self.path, body))
                if mock._should_fail("POST"):
                    self._status(500, "InternalError", "etcdserver: request timed out")
                    return
                ns, _ = route
                name = (body.get("metadata") or {}).get("name")
                error = mock.check(body)
                if error is None and (body["metadata"].get("namespace") not in (None, ns)):
                    error = "metadata.namespace does not match the request path"
                if error:
                    self._status(422, "Invalid", error)
                    return
                with mock._lock:
                    if (ns, name) in mock.objects:
                        self._status(
                            409, "AlreadyExists", f'inferenceservices "{name}" already exists'
                        )
                        return
                    obj = copy.deepcopy(body)
                    obj["metadata"].update(
                        namespace=ns, generation=1, resourceVersion="1", uid=f"uid-{name}"
                    )
                    mock.reconcile(obj, spec_changed=True)
                    error = mock.check(obj)
                    if error:
                        self._status(500, "InternalError", f"status invalid: {error}")
                        return
                    mock.objects[(ns, name)] = obj
                    mock._changed((ns, name), {})
                    mock._record(obj)
                    self._send(201, obj)

            def do_PATCH(self):
                route = self._route()
                if route is None:
                    return
                if self.headers.get("content-type") != "application/merge-patch+json":
                    self._status(415, "UnsupportedMediaType", self.headers.get("content-type"))
                    return
                patch = self._body()
                mock.requests.append(("PATCH", self.path, patch))
                if mock._should_fail("PATCH"):
                    self._status(500, "InternalError", "etcdserver: request timed out")
                    return
                with mock._lock:
                    if route not in mock.objects:
                        self._status(404, "NotFound", f'inferenceservices "{route[1]}" not found')
                        return
                    current = mock.objects[route]
                    merged = merge_patch(current, patch)
                    error = mock.check(
                        {k: v for k, v in merged.items() if k != "status"}
                        | {"status": current.get("status", {})}
                    )
                    if error:
                        self._status(422, "Invalid", error)
                        return
                    spec_changed = merged["spec"] != current["spec"]
                    image_or_model_changed = {
                        k: v
                        for k, v in merged["spec"]["predictor"].items()
                        if k != "canaryTrafficPercent"
                    } != {
                        k: v
                        for k, v in current["spec"]["predictor"].items()
                        if k != "canaryTrafficPercent"
                    }
                    if spec_changed:
                        merged["metadata"]["generation"] += 1
                    merged["metadata"]["resourceVersion"] = str(
                        int(merged["metadata"]["resourceVersion"]) + 1
                    )
                    before_status = copy.deepcopy(current.get("status", {}))
                    mock.reconcile(merged, spec_changed=image_or_model_changed)
                    mock.objects[route] = merged
                    if spec_changed:
                        mock._changed(route, before_status)
                    mock._record(merged)
                    self._send(200, merged)

            def do_DELETE(self):
                route = self._route()
                if route is None:
                    return
                mock.requests.append(("DELETE", self.path, None))
                with mock._lock:
                    mock.objects.pop(route, None)
                self._send(200, {"kind": "Status", "status": "Success"})

        return Handler
