# VisionaryAI images for the layout in deploy/compose.yaml (see docs/scaling.md).
#
#   docker build --target app   -t visionary-app .    # one backend process (run several)
#   docker build --target proxy -t visionary-proxy --build-arg PUBLIC_URL=https://images.example.com .
#
# The proxy image is Caddy with the exported frontend baked in, aimed at PUBLIC_URL.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG CADDY_IMAGE=caddy:2.6-alpine

FROM ${PYTHON_IMAGE} AS python-deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements.txt .
RUN python -m venv /venv && /venv/bin/pip install --no-compile -r requirements.txt

# The static frontend: Reflex compiles it with bun, which comes from the npm registry.
FROM python-deps AS frontend
ARG PUBLIC_URL=https://localhost
ARG BUN_VERSION=1.4.5
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm unzip \
    && rm -rf /var/lib/apt/lists/* \
    && npm install --global --ignore-scripts "@oven/bun-linux-x64@${BUN_VERSION}"
ENV REFLEX_BUN_PATH=/usr/local/lib/node_modules/@oven/bun-linux-x64/bin/bun \
    REFLEX_TELEMETRY_ENABLED=false REFLEX_CHECK_LATEST_VERSION=false \
    REFLEX_API_URL=${PUBLIC_URL} REFLEX_DEPLOY_URL=${PUBLIC_URL} VISIONARY_DATA_DIR=/tmp/build-data
COPY . .
RUN /venv/bin/reflex export --frontend-only --no-zip --env prod

FROM ${CADDY_IMAGE} AS proxy
COPY deploy/Caddyfile /etc/caddy/Caddyfile
COPY --from=frontend /app/.web/build/client /srv
ENV VISIONARY_STATIC=/srv
EXPOSE 80 443

# One backend process: state in Redis, the index in PostgreSQL, images in Azure Blob Storage.
FROM ${PYTHON_IMAGE} AS app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/venv/bin:$PATH \
    REFLEX_TELEMETRY_ENABLED=false REFLEX_CHECK_LATEST_VERSION=false \
    VISIONARY_DATA_DIR=/data VISIONARY_LOG_FORMAT=json
RUN groupadd --system --gid 10001 visionary \
    && useradd --system --uid 10001 --gid visionary --home-dir /app --shell /usr/sbin/nologin visionary \
    && mkdir -p /data && chown visionary:visionary /data
WORKDIR /app
COPY --from=python-deps /venv /venv
COPY --chown=visionary:visionary rxconfig.py alembic.ini ./
COPY --chown=visionary:visionary alembic ./alembic
COPY --chown=visionary:visionary assets ./assets
COPY --chown=visionary:visionary visionary_app ./visionary_app
# The app answers the pages itself (with its security headers and visitor cookie); Caddy
# serves the scripts and styles of the same build.
COPY --from=frontend --chown=visionary:visionary /app/.web/build/client ./.web/build/client
ENV VISIONARY_SERVE_PAGES=true
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["reflex", "run", "--env", "prod", "--backend-only", "--backend-host", "0.0.0.0", "--backend-port", "8000"]
