# syntax=docker/dockerfile:1
# Allpay cash-in bot. Build: docker build -t allpay-cashin-bot .
# Run: see compose.yaml (settings from an env file, the database on a volume).
#
# Two stages: "build" turns the source into a wheel; the image that runs gets the locked
# dependencies (requirements/runtime.txt, every file checked against its hash) and that
# wheel, and nothing else of the source tree: the code runs from site-packages.

FROM python:3.11-slim-bookworm AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src

# The build backend (setuptools, wheel) from its own hashed lock, then the wheel itself.
COPY requirements/build.txt /tmp/build.txt
RUN pip install --no-cache-dir --require-hashes --no-deps --only-binary=:all: -r /tmp/build.txt
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY locales ./locales
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .


FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Dependencies first, in their own layer: rebuilt only when the lock changes. Exact versions,
# hashes required, binary wheels only (lxml and xmlsec come as a matching manylinux pair:
# no compilers in the image). `pip check` proves the lock is complete and consistent.
COPY requirements/runtime.txt /tmp/runtime.txt
RUN pip install --no-cache-dir --require-hashes --no-deps --only-binary=:all: -r /tmp/runtime.txt \
    && pip check \
    && rm /tmp/runtime.txt

# Then the bot itself: the wheel built above, installed into site-packages (no secrets in the
# image: they come from the environment at run time).
COPY --from=build /wheels/ /tmp/wheels/
RUN pip install --no-cache-dir --no-deps /tmp/wheels/*.whl \
    && rm -r /tmp/wheels \
    && groupadd --system --gid 10001 cashin \
    && useradd --system --create-home --uid 10001 --gid 10001 --home-dir /home/cashin cashin \
    && mkdir -p /app/data \
    && chown 10001:10001 /app/data

# The working directory holds the database volume only, no source.
WORKDIR /app
USER 10001:10001
VOLUME ["/app/data"]
# /healthz and /metrics listen on the container's loopback: `docker run -p 8080:8080` publishes
# nothing (the HEALTHCHECK runs inside). To be reached from outside the container — Telegram's
# webhook (then only its path is served there), a Prometheus — set WEB_HOST=0.0.0.0 and publish
# the port where only they reach it (compose.yaml: the host's loopback).
ENV DATABASE_URL=sqlite:////app/data/cashin.sqlite3 \
    WEB_HOST=127.0.0.1 \
    WEB_PORT=8080
EXPOSE 8080

# /healthz: database writable, resolver and outbox alive (200), else 503.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "bot", "health"]

# SIGTERM: stop taking updates, let in-flight payment steps reach the journal, exit 0.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot"]
