# The forge server image: Node.js 24 (LTS) with npm 11, built from this repository, run
# as the unprivileged `node` user. See docs/deployment.md.

# Build: compiles the TypeScript and the optional zstd-napi addon (libzstd from source).
FROM node:24-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# The npm this repository pins (package.json "packageManager").
RUN npm install -g npm@11.19.1
WORKDIR /app
COPY . .
RUN npm ci && npm run build && npm prune --omit=dev

# Run: the built tree, owned by root and read-only to the server; only /data is writable.
FROM node:24-bookworm-slim
ENV NODE_ENV=production PORT=3000 FORGE_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app /app
RUN mkdir -p /data && chown node:node /data \
 && ln -s /app/apps/server/bin/forge.js /usr/local/bin/forge
USER node
EXPOSE 3000
VOLUME ["/data"]
CMD ["node", "apps/server/dist/main.js"]
