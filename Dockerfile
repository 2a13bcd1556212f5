# syntax=docker/dockerfile:1
# A first working image; the operations issue hardens it (health check, compose, layers).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY locales ./locales
RUN pip install . \
    && useradd --create-home --uid 10001 cashin \
    && mkdir -p /app/data && chown cashin /app/data

USER cashin
VOLUME ["/app/data"]
ENV DATABASE_URL=sqlite:////app/data/cashin.sqlite3
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot"]
