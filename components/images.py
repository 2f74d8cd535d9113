"""Every container image the components run in, with its tag, in one place.

Locally each image is a virtual environment under ``.venvs/`` built from the same lock
(``LOCAL_ENVS``); the local runner executes each task in the environment of its image.
"""

REGISTRY = "ghcr.io/quizops"
VERSION = "0.1.0"

CORE_IMAGE = f"{REGISTRY}/quizops-core:{VERSION}"
VALIDATION_IMAGE = f"{REGISTRY}/quizops-validation:{VERSION}"
PREDICTOR_IMAGE = f"{REGISTRY}/quizops-predictor:{VERSION}"

#: Image -> name of the local virtual environment (``.venvs/<name>``) that stands in for it.
LOCAL_ENVS: dict[str, str] = {CORE_IMAGE: "core", VALIDATION_IMAGE: "validation"}
