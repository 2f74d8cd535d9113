"""Registry promotion against a REAL `mlflow server` on 127.0.0.1: lineage, compare-and-set
promotion, concurrent writers, rollback, and failing closed when the server is unreachable."""

import threading

import mlflow
import pytest

from quizops.errors import ModelNotFoundError, RegistryError
from quizops.tracking import (
    PROMOTION_LOCK_MODEL,
    Lineage,
    champion_for_promotion,
    promote,
    promote_in_registry,
    read_alias,
    read_champion,
    register_policy,
    rollback_to_previous,
    version_by_alias,
)
from tests.conftest import free_port, running_mlflow_server

pytestmark = pytest.mark.service

LINEAGE = Lineage(
    span="2026-11-23",
    data_hash="ab" * 32,
    kfp_run_id="run-123",
    image="ghcr.io/quizops/quizops-core:0.1.0",
    code_version="0.1.0",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # Its own server: these tests move the champion alias, which other modules' tests read.
    with running_mlflow_server(tmp_path_factory.mktemp("registry-server")) as url:
        yield url


@pytest.fixture(scope="module")
def source(tmp_path_factory, server):
    """A run with a policy artifact to register versions from."""
    folder = tmp_path_factory.mktemp("policy-src")
    (folder / "policy.json").write_text("{}")
    client = mlflow.MlflowClient(server, server)
    experiment = client.create_experiment("registry-tests")
    run = client.create_run(experiment)
    client.log_artifacts(run.info.run_id, str(folder), "policy")
    client.set_terminated(run.info.run_id)
    return f"runs:/{run.info.run_id}/policy", run.info.run_id


def test_registration_carries_lineage_and_nothing_is_champion_yet(server, source):
    assert read_champion(server) == ""  # no registered model yet: genuinely unset
    uri, run_id = source
    version = register_policy(uri, run_id, LINEAGE, server, tags={"blessed": "true"})
    assert read_champion(server) == ""  # model exists, alias not set: still genuinely unset
    tags = mlflow.MlflowClient(server, server).get_model_version("quiz-policy", version).tags
    assert tags == {
        "lineage.span": "2026-11-23",
        "lineage.data_hash": "ab" * 32,
        "lineage.kfp_run_id": "run-123",
        "lineage.image": "ghcr.io/quizops/quizops-core:0.1.0",
        "lineage.code_version": "0.1.0",
        "blessed": "true",
    }


def test_promotion_is_compare_and_set(server, source):
    uri, run_id = source
    first = register_policy(uri, run_id, LINEAGE, server)
    second = register_policy(uri, run_id, LINEAGE, server)
    champion = read_champion(server)
    promote(first, champion, server)
    assert read_champion(server) == first
    # A caller that read the champion before `first` was promoted is refused.
    with pytest.raises(RegistryError, match="champion changed since it was read"):
        promote(second, champion, server)
    assert read_champion(server) == first
    result = promote(second, first, server)
    assert (result.champion, result.previous, result.replaced) == (second, first, first)
    assert read_alias("previous", server) == first
    with pytest.raises(ModelNotFoundError, match="version '999' is not registered"):
        promote("999", second, server)
    client = mlflow.MlflowClient(server, server)
    assert PROMOTION_LOCK_MODEL not in {m.name for m in client.search_registered_models()}


def test_two_concurrent_registrations_and_promotions_lose_nothing(server, source):
    uri, run_id = source
    start = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def writer(name: str) -> None:
        try:
            start.wait(timeout=30)
            version = register_policy(uri, run_id, LINEAGE, server)
            refusals = 0
            for _ in range(10):  # bounded: re-read the champion after each refusal
                seen = read_champion(server)
                try:
                    promote(version, seen, server)
                    break
                except RegistryError:
                    refusals += 1
            else:
                raise AssertionError("never promoted")
            outcome[name] = (version, seen)
        except BaseException as exc:  # surfaced below
            outcome[name] = exc

    before = read_champion(server)
    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(isinstance(v, BaseException) for v in outcome.values()), outcome
    (va, seen_a), (vb, seen_b) = outcome["a"], outcome["b"]
    assert va != vb  # each registration got its own version
    champion, previous = read_champion(server), read_alias("previous", server)
    # Whoever promoted second saw the other's version as champion: a chain, nothing lost.
    assert {champion, previous} == {va, vb}
    first_promoted = previous
    assert {seen_a, seen_b} == {before, first_promoted}
    versions = {
        v.version
        for v in mlflow.MlflowClient(server, server).search_model_versions("name='quiz-policy'")
    }
    assert {va, vb} <= {str(v) for v in versions}


def test_rollback_restores_previous_and_cannot_bounce(server, source):
    uri, run_id = source
    good = register_policy(uri, run_id, LINEAGE, server)
    promote(good, read_champion(server), server)
    bad = register_policy(uri, run_id, LINEAGE, server)
    assert promote_in_registry(bad, server) == good
    with pytest.raises(RegistryError, match="champion changed"):
        rollback_to_previous(server, expected_champion=good)
    result = rollback_to_previous(server, expected_champion=bad)
    assert (result.champion, result.replaced) == (good, bad)
    assert read_champion(server) == good
    assert read_alias("previous", server) == ""
    client = mlflow.MlflowClient(server, server)
    assert client.get_model_version("quiz-policy", bad).tags["rolled_back"] == "true"
    with pytest.raises(RegistryError, match="no 'previous' version"):
        rollback_to_previous(server)
    assert read_champion(server) == good


def test_an_unreachable_server_fails_closed(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(RegistryError, match="refusing to treat it as unset"):
        read_champion(dead)
    with pytest.raises(RegistryError, match="refusing to treat it as unset"):
        version_by_alias("champion", dead)
    with pytest.raises(RegistryError):
        promote("1", "", dead)
    with pytest.raises(RegistryError):
        rollback_to_previous(dead)


def test_alias_not_set_on_sqlite_means_no_champion(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert version_by_alias("champion", uri) is None
    mlflow.MlflowClient(uri, uri).create_registered_model("quiz-policy")
    assert version_by_alias("champion", uri) is None


def test_promotion_refuses_when_the_champion_changed_since_evaluation(server, source):
    uri, run_id = source
    evaluated_against = read_champion(server)
    challenger = register_policy(
        uri, run_id, LINEAGE, server, tags={"gate.champion_version": evaluated_against}
    )
    other = register_policy(uri, run_id, LINEAGE, server)
    promote(other, evaluated_against, server)  # another run promoted meanwhile
    with pytest.raises(RegistryError, match=r"champion changed since version .* was evaluated"):
        champion_for_promotion(challenger, server)
    fresh = register_policy(uri, run_id, LINEAGE, server, tags={"gate.champion_version": other})
    assert champion_for_promotion(fresh, server) == other
    untagged = register_policy(uri, run_id, LINEAGE, server)
    assert champion_for_promotion(untagged, server) == other
