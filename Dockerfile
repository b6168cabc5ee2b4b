# syntax=docker/dockerfile:1
# The service image: `einvoice serve` by default, `einvoice migrate` / `einvoice worker` by command.
# Multi-stage: dependencies are built in a throw-away stage; the runtime stage holds only the venv.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# The compiled core (core/) is Rust: a C compiler for ring's assembly, and rustup's toolchain.
RUN apt-get update && apt-get install -y --no-install-recommends build-essential curl ca-certificates \
 && curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
    | sh -s -- -y --profile minimal --default-toolchain 1.95.0
ENV PATH=/root/.cargo/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
# The compiled core: optional (the service runs the pure path without it, einvoice/accelerator.py),
# built here for its speed. It has no dependencies.
COPY core core
RUN /opt/venv/bin/pip install --no-deps ./core
# Dependencies next, so a code change does not reinstall them: the whole runtime tree from the
# lock (scripts/lock), each file checked against its hash.
COPY requirements.lock ./
RUN /opt/venv/bin/pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY einvoice einvoice
COPY api api
COPY signing signing
COPY storage storage
COPY lookup lookup
COPY loadtest loadtest
COPY ingest ingest
# The project without dependencies: the lock installed them all (tests/test_dependencies.py holds
# the lock to pyproject.toml).
RUN /opt/venv/bin/pip install --no-deps . && /opt/venv/bin/pip check

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin einvoice \
 && mkdir -p /var/lib/einvoice/authority-keys \
 && chown einvoice /var/lib/einvoice/authority-keys && chmod 700 /var/lib/einvoice/authority-keys
COPY --from=build /opt/venv /opt/venv
# The authority's signing keys live in a volume mounted on this folder (compose.yaml).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    EINVOICE_HTTP_HOST=0.0.0.0 \
    EINVOICE_ENVIRONMENT=production \
    EINVOICE_AUTHORITY_KEYS_DIR=/var/lib/einvoice/authority-keys
USER einvoice
WORKDIR /tmp
# 8000: the API; 9100: its Prometheus metrics (EINVOICE_METRICS_PORT), for the scraper only (set
# EINVOICE_METRICS_HOST=0.0.0.0 where it must reach them, as compose.yaml does).
EXPOSE 8000 9100
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["einvoice", "serve"]
