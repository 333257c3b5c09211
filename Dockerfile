# The dubbo-mesh image: `docker build -t dubbo-mesh:0.1.0 .` at the repository root.
# One executable, `dubbo-mesh`: a container's args are a command and its flags, as in
# deploy/ (`args: [proxy, --node, …]`); there is no default command.
#
# No Docker daemon runs where the tests run: test/docker-image.test.ts builds this file's tree
# by running the same instructions in temp folders, then runs the image's entrypoint. It
# implements only the instructions used here and refuses any other, so keep to them (FROM … AS,
# WORKDIR, COPY [--from], RUN with relative paths, ENV, USER uid:gid, ENTRYPOINT ["node", …]).

# Build: every workspace's dependencies and the TypeScript build, then production dependencies only.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY . .
RUN npm ci --no-audit --no-fund
RUN npm run build
# The image runs the CLI: the workspaces that only serve tests and benchmarks go before the
# prune, and their dependencies with them (test-support's playwright-core); then the scope
# folders the prune emptied, the sources and the build's bookkeeping.
RUN rm -rf packages/test-support benchmarks \
 && npm prune --omit=dev --no-audit --no-fund \
 && find node_modules -mindepth 1 -maxdepth 1 -type d -empty -delete \
 && rm -rf packages/*/src packages/*/tsconfig.json packages/*/tsconfig.tsbuildinfo

# Run: what the CLI loads (each workspace's package.json and dist/, and the files it reads at
# run time: the discovery .proto files, the admin web page, the demo's mesh), as uid 1000, the
# base image's `node` user (numeric, so `runAsNonRoot` can verify it).
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/proto ./proto
COPY --from=build /src/packages ./packages
USER 1000:1000
ENTRYPOINT ["node", "/app/packages/cli/bin/dubbo-mesh.js"]
