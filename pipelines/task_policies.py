"""How each kind of task runs on a cluster: caching, retries, resources and timeouts.

One table for every pipeline, so that the rules read in one place:

- Caching: a task that reads a moving source is cached only on the source's identity (the
  never-cached fingerprint task feeds it); a task with side effects outside its own outputs
  (registering or promoting a model, deploying, rolling back, starting runs) never caches.
- Retries with exponential back-off only on idempotent tasks that touch a network (GCS, MLflow
  reads); a task whose side effect cannot be repeated safely is not retried.
- Requests and limits per task; TFDV on 1,000,000 rows peaks near 3 GiB in the validation stage,
  so it gets the most memory.
- A timeout per task (kfp-kubernetes ``set_timeout``: the pod's ``activeDeadlineSeconds``).
"""

from __future__ import annotations

from dataclasses import dataclass

from kfp import dsl, kubernetes


@dataclass(frozen=True)
class TaskPolicy:
    """How one task runs.

    Attributes:
        cache: Whether KFP may reuse an earlier execution's outputs.
        retries: Retries after a failure (0 = none).
        cpu_request: CPU request (Kubernetes quantity).
        cpu_limit: CPU limit.
        memory_request: Memory request.
        memory_limit: Memory limit.
        timeout_seconds: Longest run time of one attempt.
    """

    cache: bool
    retries: int
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    timeout_seconds: int


#: Back-off of retried tasks: 30 s, then 60 s, 120 s (capped at 10 minutes).
BACKOFF_DURATION = "30s"
BACKOFF_FACTOR = 2.0
BACKOFF_MAX_DURATION = "600s"

#: Task name -> policy.
POLICIES: dict[str, TaskPolicy] = {
    # Lists the source: cheap, network, must run every time.
    "fingerprint": TaskPolicy(False, 3, "250m", "1", "512Mi", "1Gi", 15 * 60),
    # Reads the source, writes a deterministic raw-zone path: idempotent; cached on identity.
    "ingest": TaskPolicy(True, 3, "1", "2", "4Gi", "8Gi", 60 * 60),
    # Reads the raw zone (network), writes only its outputs.
    "pii-scan": TaskPolicy(True, 2, "1", "2", "4Gi", "8Gi", 60 * 60),
    # TFDV; writes the statistics store under its own span (a re-run writes the same bytes).
    # Its skew check reads the predictor's decision logs, a moving source no fingerprint
    # covers, so never cached (a cached skew verdict would go stale as late decisions land).
    "data-validation": TaskPolicy(False, 2, "2", "4", "8Gi", "16Gi", 2 * 60 * 60),
    # Reads the span's decision logs (a moving source: late uploads and spills land later, and
    # no fingerprint covers them), so never cached; writes only its outputs, so retried.
    "feature-engineering": TaskPolicy(False, 2, "1", "2", "4Gi", "8Gi", 60 * 60),
    # Writes the feature store (offline files, registry, online rows): a side effect outside
    # its outputs, so never cached; rewriting the same rows is safe, so retried.
    "materialize-features": TaskPolicy(False, 2, "1", "2", "4Gi", "8Gi", 60 * 60),
    # Registers a model version: a side effect, not repeated by a retry or skipped by a cache.
    "train-policy": TaskPolicy(False, 0, "2", "4", "4Gi", "8Gi", 2 * 60 * 60),
    # Reads the registry and tags the run (idempotent tags): retried, never cached.
    "evaluate-policy": TaskPolicy(False, 2, "2", "4", "4Gi", "8Gi", 2 * 60 * 60),
    # Deploys and promotes: never cached, never retried (the rollout rolls itself back).
    "deploy-kserve": TaskPolicy(False, 0, "500m", "1", "1Gi", "2Gi", 60 * 60),
    # Exit handler: reads the pipeline root, writes its own output.
    "run-summary": TaskPolicy(False, 2, "250m", "1", "512Mi", "1Gi", 15 * 60),
    # Monitoring reads decision logs and the statistics store: idempotent, never cached
    # (the newest span moves).
    "monitor-serving": TaskPolicy(False, 2, "1", "2", "4Gi", "8Gi", 60 * 60),
    # Starts a training run: a side effect.
    "start-retraining": TaskPolicy(False, 0, "250m", "1", "512Mi", "1Gi", 15 * 60),
    # Moves registry aliases and the deployment back.
    "rollback-champion": TaskPolicy(False, 0, "500m", "1", "1Gi", "2Gi", 30 * 60),
}


def apply_policy(task: dsl.PipelineTask, name: str, display_name: str) -> dsl.PipelineTask:
    """Applies the policy of ``name`` and a display name to a task.

    Args:
        task: The task.
        name: Its key in :data:`POLICIES` (the task's name in the compiled pipeline).
        display_name: What the Kubeflow UI shows (words, not identifiers).

    Returns:
        The task.
    """
    policy = POLICIES[name]
    task.set_display_name(display_name)
    task.set_caching_options(enable_caching=policy.cache)
    if policy.retries:
        task.set_retry(
            num_retries=policy.retries,
            backoff_duration=BACKOFF_DURATION,
            backoff_factor=BACKOFF_FACTOR,
            backoff_max_duration=BACKOFF_MAX_DURATION,
        )
    task.set_cpu_request(policy.cpu_request).set_cpu_limit(policy.cpu_limit)
    task.set_memory_request(policy.memory_request).set_memory_limit(policy.memory_limit)
    kubernetes.set_timeout(task, policy.timeout_seconds)
    return task
