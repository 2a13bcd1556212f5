# syntax=docker/dockerfile:1
# Allpay cash-in bot. Build: docker build -t allpay-cashin-bot .
# Run: see compose.yaml (settings from an env file, the database on a volume).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes.
# (lxml and xmlsec come as manylinux wheels: no compilers in the image.)
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the bot itself (no secrets in the image: they come from the environment at run time).
COPY README.md ./
COPY bot ./bot
COPY locales ./locales
RUN pip install --no-cache-dir --no-deps . \
    && groupadd --system --gid 10001 cashin \
    && useradd --system --create-home --uid 10001 --gid 10001 --home-dir /home/cashin cashin \
    && mkdir -p /app/data \
    && chown 10001:10001 /app/data

USER 10001:10001
VOLUME ["/app/data"]
ENV DATABASE_URL=sqlite:////app/data/cashin.sqlite3 \
    WEB_HOST=0.0.0.0 \
    WEB_PORT=8080
EXPOSE 8080

# /healthz: database writable, resolver and outbox alive (200), else 503.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "bot", "health"]

# SIGTERM: stop taking updates, let in-flight payment steps reach the journal, exit 0.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot"]
