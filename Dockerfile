# PeaceWatch API and dashboard. Build: docker build -t peacewatch .
# Run:   docker run -p 127.0.0.1:8000:8000 -v peacewatch-data:/app/data peacewatch
# The container applies migrations (peacewatch db upgrade) and then serves on port 8000.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system peacewatch \
    && useradd --system --gid peacewatch --home-dir /app --no-create-home peacewatch

WORKDIR /app

# The same install as `make install`, without the dev extras, pinned by the same constraints.
COPY pyproject.toml constraints.txt README.md alembic.ini ./
COPY backend ./backend
COPY dashboard ./dashboard
COPY migrations ./migrations
RUN pip install --no-cache-dir -c constraints.txt . \
    && mkdir -p /app/data \
    && chown peacewatch:peacewatch /app/data

ENV PEACEWATCH_DATABASE_URL=sqlite:////app/data/peacewatch.db
VOLUME ["/app/data"]

USER peacewatch
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

# Migrations are a start step; the app itself never creates tables, and every server process
# refuses to serve on a schema that is not the newest. compose.yaml runs `peacewatch db upgrade`
# as its own one-shot service and starts the app with `serve` alone; containers that migrate as
# they start at the same time take turns (a PostgreSQL advisory lock). PEACEWATCH_WORKERS=N runs
# N server processes (PostgreSQL only; docs/deployment.md).
CMD ["sh", "-c", "peacewatch db upgrade && exec peacewatch serve --host 0.0.0.0 --port 8000"]
