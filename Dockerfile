# Front-end assets from the npm registry (pinned in package-lock.json), copied or bundled by assets/build.sh as
# `make setup` does; only the files the pages serve reach the final image.
FROM node:20-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY assets assets
RUN sh assets/build.sh

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 SCRM_INSTANCE_PATH=/var/lib/scrm
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
# .dockerignore keeps the host emulator (sandbox/), tests/ and bench/ out: production never runs them
COPY . .
# the assets as `make setup` builds them, and the English catalog compiled
COPY --from=assets /assets/h5/static/vendor h5/static/vendor
COPY --from=assets /assets/console/static/vendor console/static/vendor
COPY --from=assets /assets/scrm/api/static/vendor scrm/api/static/vendor
RUN pybabel compile --use-fuzzy -d scrm/translations
RUN pip install --no-cache-dir --no-deps . && useradd --system --home /var/lib/scrm scrm \
    && mkdir -p /var/lib/scrm /var/lib/scrm-metrics && chown scrm /var/lib/scrm /var/lib/scrm-metrics
USER scrm
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "4", "--access-logfile", "-", "scrm.wsgi:app"]
