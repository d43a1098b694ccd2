# syntax=docker/dockerfile:1
# Gatehouse: OpenID Connect provider. Two stages: compile TypeScript, then a runtime image
# with production dependencies only, running as the unprivileged `node` user.

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: the only one (argon2's) checks for its prebuilt binary, which this stage
# never loads; and the root `prepare` script would build before the sources are copied.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-slim
# WEB_CONCURRENCY=auto: one worker per CPU the container may use.
# Memory per worker (measured in BENCHMARKS.md, "Memory"): an 8 MiB young generation and a
# 256 MiB ceiling on the old one keep V8's heap near its live size (≈ 55 MB under load instead of
# 100-250 MB on a machine with plenty of RAM), for ≈ 25 % more CPU per request, most of it
# garbage collection: drop NODE_OPTIONS where CPU matters more than memory. A worker that ever
# needs more heap stops with "heap out of memory" and is restarted: raise the ceiling then.
# GLIBC_TUNABLES: argon2's 19 MiB per password check is mapped for each check and given back
# after it (mmap_threshold) instead of staying in the process, on huge pages where the kernel
# allows them (hugetlb: ≈ 3 ms of a 30 ms check instead of ≈ 9); two malloc arenas in all.
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/data \
    WEB_CONCURRENCY=auto \
    NODE_OPTIONS="--max-semi-space-size=8 --max-old-space-size=256" \
    GLIBC_TUNABLES="glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=1048576:glibc.malloc.arena_max=2"
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the root `prepare` script would run the TypeScript build, and argon2 needs
# no install step here: node-gyp-build loads its prebuilt prebuilds/linux-x64/argon2.glibc.node
# (node:24-slim is Debian, glibc) at run time.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && mkdir -p /data \
 && chown node:node /data
COPY --from=build /app/dist ./dist
COPY views ./views
# The message catalogues of the hosted pages and mails (src/i18n/catalogues.ts reads them at start-up).
COPY locales ./locales
# The common-password list `users add` and `set-password` check new passwords against.
COPY lists ./lists
COPY migrations ./migrations
COPY bin ./bin
# The admin CLI on PATH: `docker compose exec gatehouse gatehouse users list`.
RUN ln -s /app/bin/gatehouse.js /usr/local/bin/gatehouse

USER node
# The embedded database (used when DATABASE_URL is unset) lives here.
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
