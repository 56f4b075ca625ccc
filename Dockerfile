# One image for the API, the queue workers and the CLI; docker-compose.yml picks the command.
#   docker build -t btf-atlas .
#   docker run -p 3000:3000 -v atlas:/data btf-atlas                      (the API: serve, HOST 0.0.0.0)
#   docker run -v atlas:/data -v "$PWD/archive:/archive:ro" btf-atlas ingest /archive

# Build: the workspaces installed from the lockfile, the TypeScript compiled (npm ci runs `prepare`: tsc -b), then
# the dev dependencies (typescript, vitest, eslint) dropped. python3, make and g++ build better-sqlite3's native
# module when no prebuilt binary fits.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY libs ./libs
COPY apps ./apps
COPY migrations ./migrations
RUN npm ci && npm prune --omit=dev && npm cache clean --force

# Runtime: the built tree (dist/ of every package, the explorer's assets, the migrations, production
# node_modules), owned by root and read-only to the service, which runs as `node` and writes only /data (the
# catalog, its blobs and downloads). pahole (dwarves) makes BTF from the DWARF of -dbg packages, for kernels built
# without BTF (sync and ingest of such packages).
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends dwarves \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data \
 && chown node:node /data
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/libs ./libs
COPY --from=build /app/apps ./apps
COPY --from=build /app/migrations ./migrations
ENV NODE_ENV=production \
    BTF_ATLAS_DB=/data/atlas.db \
    HOST=0.0.0.0 \
    PORT=3000
USER node
VOLUME ["/data"]
EXPOSE 3000
# Liveness of the API (the slim image has no curl). Worker containers of this image turn it off (compose does).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "apps/cli/bin/btf-atlas.js"]
CMD ["serve"]
