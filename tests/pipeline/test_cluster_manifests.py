"""The cluster prerequisites in manifests/cluster/ are valid Kubernetes objects (deserialized
into the kubernetes client's models and serialized back unchanged, so an unknown or misspelled
field fails), grant what the code does, and give the secrets the keys the pipelines mount."""

import re
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from quizops import names

REPO = Path(__file__).resolve().parents[2]
CLUSTER = REPO / "manifests" / "cluster"
MODELS = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "Secret"): "V1Secret",
    ("rbac.authorization.k8s.io/v1", "Role"): "V1Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "V1RoleBinding",
}


def documents(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((CLUSTER / name).read_text()) if d]


def all_objects() -> list[dict]:
    return [d for p in sorted(CLUSTER.glob("*.yaml")) if p.name != "kustomization.yaml"
            for d in documents(p.name)]  # fmt: skip


def strip_none(value):
    if isinstance(value, dict):
        return {k: strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_none(v) for v in value]
    return value


@pytest.mark.parametrize("obj", all_objects(), ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_every_object_round_trips_through_the_kubernetes_model(obj):
    api = client.ApiClient()
    model_name = MODELS[(obj["apiVersion"], obj["kind"])]
    model = api._ApiClient__deserialize(obj, model_name)  # the client's own deserializer
    assert strip_none(api.sanitize_for_serialization(model)) == obj


def test_the_round_trip_catches_a_misspelled_field():
    api = client.ApiClient()
    bad = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x"},
           "automountServiceAccountTokens": False}  # fmt: skip
    model = api._ApiClient__deserialize(bad, "V1ServiceAccount")
    assert strip_none(api.sanitize_for_serialization(model)) != bad


def test_names_are_valid_and_come_from_quizops_names():
    rfc1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    for obj in all_objects():
        assert rfc1123.match(obj["metadata"]["name"]), obj["metadata"]["name"]
    accounts = {o["metadata"]["name"] for o in documents("serviceaccounts.yaml")}
    assert accounts == {names.PIPELINE_SERVICE_ACCOUNT, names.PREDICTOR_SERVICE_ACCOUNT}
    namespaces = {o["metadata"]["name"] for o in documents("namespace.yaml")}
    namespaced = {o["metadata"]["namespace"] for o in all_objects() if o["kind"] != "Namespace"}
    assert namespaced == namespaces == {"quizops"}


def test_rbac_grants_the_inferenceservice_verbs_the_deploy_code_uses():
    call = re.compile(r"\.(get|create|patch|replace|delete|list)_namespaced_custom_object\b")
    used = set()
    for path in (REPO / "quizops").rglob("*.py"):
        used |= set(call.findall(path.read_text()))
    verb = {"get": "get", "create": "create", "patch": "patch", "replace": "update",
            "delete": "delete", "list": "list"}  # fmt: skip
    roles = {o["metadata"]["name"]: o for o in documents("rbac.yaml") if o["kind"] == "Role"}
    (rule,) = [r for role in roles.values() for r in role["rules"]
               if "serving.kserve.io" in r["apiGroups"]]  # fmt: skip
    assert rule["resources"] == ["inferenceservices"]
    assert set(rule["verbs"]) == {verb[v] for v in used}  # exactly what the code does
    bindings = [o for o in documents("rbac.yaml") if o["kind"] == "RoleBinding"]
    bound = {(b["roleRef"]["name"], s["name"]) for b in bindings for s in b["subjects"]}
    for role in roles:
        assert (role, names.PIPELINE_SERVICE_ACCOUNT) in bound


def test_secret_shapes_hold_no_values_and_the_keys_the_pipelines_mount():
    secrets = {o["metadata"]["name"]: o for o in documents("secrets.template.yaml")}
    for secret in secrets.values():
        assert "data" not in secret
        assert all(value == "" for value in secret["stringData"].values())
    mounted: dict[str, set[str]] = {}
    for path in (REPO / "compiled").glob("*.yaml"):
        docs = list(yaml.safe_load_all(path.read_text()))
        if len(docs) < 2:
            continue
        for executor in docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values():
            for entry in executor.get("secretAsEnv", []):
                name = entry.get("secretName") or entry.get("secretNameParameter", {}).get(
                    "runtimeValue", {}).get("constant")  # fmt: skip
                mounted.setdefault(name, set()).update(k["secretKey"] for k in entry["keyToEnv"])
    assert mounted, "the compiled pipelines mount no secret?"
    for name, keys in mounted.items():
        assert name in secrets, f"secret {name} has no shape in secrets.template.yaml"
        assert keys <= set(secrets[name]["stringData"]), name
    assert names.PII_KEY_SECRET in mounted


def test_kustomization_lists_every_object_file_but_the_secret_template():
    kustomization = yaml.safe_load((CLUSTER / "kustomization.yaml").read_text())
    files = {p.name for p in CLUSTER.glob("*.yaml")} - {"kustomization.yaml",
                                                        "secrets.template.yaml"}  # fmt: skip
    assert set(kustomization["resources"]) == files


def test_env_configs_run_under_the_pipeline_service_account():
    for env in ("dev", "staging", "prod"):
        config = yaml.safe_load((REPO / "pipelines" / "configs" / f"{env}.yaml").read_text())
        assert config["service_account"] == names.PIPELINE_SERVICE_ACCOUNT


def test_rbac_lets_the_pipeline_start_a_training_run():
    source = (REPO / "quizops" / "monitoring" / "retrain.py").read_text()
    calls = set(re.findall(r'api\.call\(\s*"(GET|POST)",\s*f?"(/[a-z]+)', source))
    needed = {("list" if method == "GET" else "create", path.strip("/")) for method, path in calls}
    assert needed == {("list", "pipelines"), ("list", "experiments"), ("create", "experiments"),
                      ("create", "runs")}  # fmt: skip
    role = next(o for o in documents("rbac.yaml") if o["metadata"]["name"] ==
                "quizops-retraining-starter")  # fmt: skip
    granted = {(verb, resource) for rule in role["rules"] for verb in rule["verbs"]
               for resource in rule["resources"]}  # fmt: skip
    assert needed <= granted and ("list", "pipelines/versions") in granted
