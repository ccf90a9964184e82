# Front-end assets from the npm registry (pinned in package-lock.json); only the files the pages serve reach the final image.
FROM node:20-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 SCRM_INSTANCE_PATH=/var/lib/scrm
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
# .dockerignore keeps the host emulator (sandbox/), tests/ and bench/ out: production never runs them
COPY . .
# the same file `make setup` puts there: the H5 pages serve WeUI from the backend itself
COPY --from=assets /assets/node_modules/weui/dist/style/weui.min.css h5/static/vendor/weui.min.css
# and Swagger UI for the API docs page, as `make setup` copies it
COPY --from=assets /assets/node_modules/swagger-ui-dist/swagger-ui-bundle.js \
     /assets/node_modules/swagger-ui-dist/swagger-ui.css /assets/node_modules/swagger-ui-dist/favicon-32x32.png \
     scrm/api/static/vendor/
RUN pip install --no-cache-dir --no-deps . && useradd --system --home /var/lib/scrm scrm \
    && mkdir -p /var/lib/scrm /var/lib/scrm-metrics && chown scrm /var/lib/scrm /var/lib/scrm-metrics
USER scrm
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "4", "--access-logfile", "-", "scrm.wsgi:app"]
