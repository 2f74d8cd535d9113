"""Every container image the components run in, with its tag (names from ``quizops.names``).

Locally each image is a virtual environment under ``.venvs/`` built from the same lock
(``LOCAL_ENVS``); the local runner executes each task in the environment of its image.
"""

from quizops.names import (
    CORE_IMAGE,
    IMAGE_REGISTRY,
    IMAGE_VERSION,
    PREDICTOR_IMAGE,
    VALIDATION_IMAGE,
)

REGISTRY = IMAGE_REGISTRY
VERSION = IMAGE_VERSION

__all__ = ["CORE_IMAGE", "LOCAL_ENVS", "PREDICTOR_IMAGE", "REGISTRY", "VALIDATION_IMAGE", "VERSION"]

#: Image -> name of the local virtual environment (``.venvs/<name>``) that stands in for it.
LOCAL_ENVS: dict[str, str] = {CORE_IMAGE: "core", VALIDATION_IMAGE: "validation"}
