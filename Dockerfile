# One image for the api and the worker (docker-compose.yml picks the command).
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY libs ./libs
COPY apps ./apps
COPY migrations ./migrations
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production BTF_ATLAS_DB=/data/atlas.db HOST=0.0.0.0
COPY --from=build /app /app
VOLUME ["/data", "/archive"]
ENTRYPOINT ["node", "apps/cli/bin/btf-atlas.js"]
CMD ["serve"]
