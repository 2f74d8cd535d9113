# The `core` image of quizops components, built from the same uv.lock as the local
# .venvs/core environment (`make install`). Build from the repository root:
#   docker build -f images/core.Dockerfile -t ghcr.io/quizops/quizops-core:0.1.0 .
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    PATH=/opt/venv/bin:$PATH \
    QUIZOPS_PREDICTOR_PATH=/app/kserve \
    QUIZOPS_IMAGE=ghcr.io/quizops/quizops-core:0.1.0

RUN pip install --no-cache-dir uv==0.13.9

WORKDIR /app
# Dependencies first (cached layer), exactly as locked; then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --extra core --no-install-project
COPY quizops ./quizops
# The deploy component's local target starts the predictor process from this image too.
COPY kserve/quizops_predictor ./kserve/quizops_predictor
RUN uv sync --frozen --no-dev --extra core --no-editable \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin quizops

USER 10001
WORKDIR /home/quizops
