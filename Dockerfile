# The forge server image: Node 20, built from this repository.
FROM node:20-bookworm-slim
WORKDIR /app
COPY . .
RUN npm ci && npm run build && npm prune --omit=dev
ENV NODE_ENV=production PORT=3000 FORGE_DATA_DIR=/data
EXPOSE 3000
VOLUME ["/data"]
CMD ["node", "apps/server/dist/main.js"]
