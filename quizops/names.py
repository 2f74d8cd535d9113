"""Every name the suite shares across modules, images and clusters, in one place.

After MLflow's ``environment_variables.py``: a module, a component, the pipeline or the predictor
that needs the registered model's name, an alias, a Kubernetes secret, an environment variable or
an image reads it from here, so that renaming one thing is one edit.
"""

from __future__ import annotations

# --- model registry -------------------------------------------------------------------------

#: Registered model name of the quiz policy in MLflow, and the KServe model name.
MODEL_NAME = "quiz-policy"
#: Registry alias of the version that serves students.
CHAMPION_ALIAS = "champion"
#: Registry alias of the version the champion replaced (what a rollback restores).
PREVIOUS_ALIAS = "previous"
#: Model version tag: the evaluation gate's verdict on the version ("true"/"false").
GATE_BLESSED_TAG = "blessed"
#: Model version tag: the champion version the gate compared the version with ("" = none);
#: promotion compares and sets against it.
GATE_CHAMPION_TAG = "gate.champion_version"
#: Name of the KServe InferenceService (and its Kubernetes labels).
SERVICE_NAME = MODEL_NAME
#: Model version tag where the evaluation gate records the champion it compared against; the
#: deploy stage refuses to promote when the champion is no longer that version.
GATE_CHAMPION_TAG = "gate.champion_version"
#: Kubernetes service account the predictor pods run under (manifests/ creates it).
PREDICTOR_SERVICE_ACCOUNT = "quizops-predictor"
#: Kubernetes service account of the pipelines' pods (runs InferenceService verbs in deploy and
#: rollback; manifests/cluster/serviceaccounts.yaml).
PIPELINE_SERVICE_ACCOUNT = "quizops-pipeline"

# --- Kubernetes secrets -----------------------------------------------------------------------

#: Secret holding the HMAC pseudonymization key under key :data:`PII_KEY_SECRET_KEY`.
PII_KEY_SECRET = "quizops-pii-key"
#: Key inside :data:`PII_KEY_SECRET` that holds the key.
PII_KEY_SECRET_KEY = "key"
#: Secret holding MLflow credentials (optional keys ``username`` and ``password``).
MLFLOW_SECRET = "quizops-mlflow"
#: Secret holding the feature store's Redis connection string under key ``connection_string``.
FEAST_REDIS_SECRET = "quizops-feast-redis"

# --- environment variables --------------------------------------------------------------------

#: Local home folder (default ``./.quizops``).
HOME_ENV = "QUIZOPS_HOME"
#: The pseudonymization key itself (hex or text); production: from :data:`PII_KEY_SECRET`.
PII_KEY_ENV = "QUIZOPS_PII_KEY"
#: Path of a local key file (local runs).
PII_KEY_FILE_ENV = "QUIZOPS_PII_KEY_FILE"
#: Feast repository folder (holds ``feature_store.yaml``); default ``$QUIZOPS_HOME/feature_store``.
FEATURE_STORE_ENV = "QUIZOPS_FEATURE_STORE"
#: Redis connection string of the production online store (from :data:`FEAST_REDIS_SECRET`).
FEAST_REDIS_ENV = "QUIZOPS_FEAST_REDIS"
#: Folder that holds the ``quizops_predictor`` package.
PREDICTOR_PATH_ENV = "QUIZOPS_PREDICTOR_PATH"
#: Serving variant of a predictor process, ``champion`` or ``canary`` (metrics, decision log).
VARIANT_ENV = "QUIZOPS_VARIANT"
#: The image a stage runs in (set by the image; a lineage tag of registered policies).
IMAGE_ENV = "QUIZOPS_IMAGE"
#: Where a predictor writes its decision log: a local folder or ``gs://bucket/prefix``.
DECISIONS_URI_ENV = "QUIZOPS_DECISIONS_URI"
#: The two serving variants.
CHAMPION_VARIANT = "champion"
CANARY_VARIANT = "canary"
#: MLflow's own tracking URI variable.
MLFLOW_TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
#: MLflow's own credential variables, filled from :data:`MLFLOW_SECRET`.
MLFLOW_USERNAME_ENV = "MLFLOW_TRACKING_USERNAME"
MLFLOW_PASSWORD_ENV = "MLFLOW_TRACKING_PASSWORD"

# --- images -------------------------------------------------------------------------------------

#: Container registry the images are pushed to.
IMAGE_REGISTRY = "ghcr.io/quizops"
#: Tag of every image (the package version; cd.yml pushes exactly this tag).
IMAGE_VERSION = "0.1.0"
CORE_IMAGE = f"{IMAGE_REGISTRY}/quizops-core:{IMAGE_VERSION}"
VALIDATION_IMAGE = f"{IMAGE_REGISTRY}/quizops-validation:{IMAGE_VERSION}"
PREDICTOR_IMAGE = f"{IMAGE_REGISTRY}/quizops-predictor:{IMAGE_VERSION}"
