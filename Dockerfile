# Production image: compiled JavaScript on Node 20. The embedded PostgreSQL binaries stay in node_modules but are
# unused here because docker-compose passes DATABASE_URL.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production QUOTA_TRACKER_USE_DIST=1
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY --from=build /app/dist ./dist
USER node
ENTRYPOINT ["node", "bin/quota-tracker.js"]
CMD ["start"]
