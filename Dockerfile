# The tego-ops worker image. One process serves the shared queue and, with --host, the queues of
# the hosts whose Docker socket and files are mounted into it.
FROM node:20-bookworm-slim

# pg_dump/pg_basebackup/pg_receivewal for PostgreSQL work, redis-check-rdb (redis-tools) to check
# and count Redis backups, zstd for compression, nginx for `nginx -t` of rendered configs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 redis-tools zstd nginx-light ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY activities ./activities
COPY client ./client
COPY inventory ./inventory
COPY workers ./workers
COPY workflows ./workflows
COPY tsconfig.json ./
# Workflows are bundled at build time: the worker starts at once, without webpack's memory peak.
RUN node --import tsx workers/bundle.ts /app/dist/workflow-bundle.js

ENV NODE_ENV=production TEGO_OPS_CONFIG=/etc/tego-ops/ops.yaml TEGO_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
EXPOSE 9464
ENTRYPOINT ["node", "--import", "tsx", "workers/main.ts"]
CMD ["--metrics-host", "0.0.0.0"]
