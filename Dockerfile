# syntax=docker/dockerfile:1
# One image for every role; the command picks it (see deploy/ and README "Deploy"):
#   web | worker | agent-worker | scheduler | migrate | create-admin …
#
#   docker build -t agent-platform .
#   docker build --build-arg BASE_URL=https://agents.example.com -t agent-platform .
#
# BASE_URL is baked into the frontend when it is built (Reflex writes its API URL then). The
# default (http://localhost:3000) also works behind any https host: the browser then reaches
# the backend on the page's own host and the https port. Set it for a plain-http host whose
# port is not 3000.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the pinned dependencies and the frontend ------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /app
# requirements.txt is the lock: every line an exact pin (tests/test_requirements.py). --no-deps:
# nothing outside the lock can slip in; a missing pin fails the build instead.
COPY requirements.txt ./
RUN pip install --no-deps -r requirements.txt
COPY . .
ARG BASE_URL=http://localhost:3000
# The same build `up` runs (reflex export --frontend-only with the venv's own Node and npm,
# offline telemetry off); node_modules is only needed to build, so it stays in this stage.
RUN BASE_URL="$BASE_URL" REFLEX_TELEMETRY_ENABLED=false REFLEX_CHECK_LATEST_VERSION=false \
        python -m agent_platform build --force \
    && test -f .web/build/client/index.html \
    && rm -rf .web/node_modules .web/.react-router data

# --- runtime ----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    DATA_DIR=/data \
    PORT=3000 \
    HOST=0.0.0.0 \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_CHECK_LATEST_VERSION=false \
    LITELLM_LOCAL_MODEL_COST_MAP=True
# A fixed, unprivileged uid (Kubernetes' runAsNonRoot checks the number).
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home app \
    && mkdir -p /data && chown app:app /data
COPY --from=build /opt/venv /opt/venv
# The code stays root-owned (the app cannot rewrite itself); only what Reflex writes at run time
# (.web, .states) and DATA_DIR belong to the app user.
COPY --from=build /app /app
RUN mkdir -p /app/.states && chown -R app:app /app/.web /app/.states
WORKDIR /app
USER 10001:10001
EXPOSE 3000
ENTRYPOINT ["python", "-m", "agent_platform"]
CMD ["web"]
