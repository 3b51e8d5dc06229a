# One image for every nylas-stream role (ingress, processor, CLI); the compose file picks the command.
# The production build (tsconfig.prod.json) leaves out the simulator and the no-Docker local runtime:
# `up`, `stop`, `infra` and `simulate` answer "not in this image" here and run from a clone (npm start).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json tsconfig.prod.json ./
COPY scripts/clean-output.js scripts/
COPY lib lib
COPY cli cli
COPY ingress ingress
COPY processors processors
COPY schemas schemas
RUN npm run build:production && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
# The Avro contracts are read at run time (schemas register/check, the processor's encoder).
COPY --from=build /app/schemas schemas
COPY bin bin
# The processor's state (one RocksDB database, a key range per partition). Mount a volume here: on the same disk
# a restart restores only the changelog past the store's checkpoint; on an empty one, the whole changelog.
ENV PROCESSOR_STATE_DIR=/var/lib/nylas-stream/state
# glibc settings and Node flags of every role, the same that `nylas-stream up` gives its services
# (lib/service-runtime.ts says why each; docs/operations.md, "Processor memory", has the figures): two
# malloc arenas instead of glibc's 8 per core.
ENV MALLOC_ARENA_MAX=2
RUN mkdir -p /var/lib/nylas-stream/state && chown -R node:node /var/lib/nylas-stream
VOLUME /var/lib/nylas-stream/state
USER node
# V8's young generation at 16 MiB per semi-space (Node 24 would grow it to 64): given here because V8 reads
# it only at start-up. A flag set on this line wins over the same flag in NODE_OPTIONS.
ENTRYPOINT ["node", "--max-semi-space-size=16", "dist/cli/index.js"]
CMD ["--help"]
