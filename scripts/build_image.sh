#!/usr/bin/env bash
# `make image`: the base image from Debian packages (scripts/build_base_image.sh), then the project image
# from deploy/Dockerfile and uv.lock, tagged as the Helm values expect (ghcr.io/cartera/cartera-pipelines:
# <version in pyproject.toml>). Needs a running dockerd (scripts/ensure_docker.sh).
#
# Cached and idempotent: the base image is reused while its recipe is unchanged, and BuildKit reuses every
# layer whose inputs did not change (the dependency layer depends only on pyproject.toml and uv.lock).
# Prints the image name on stdout; timings and the size go to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

DOCKER=${DOCKER:-/usr/bin/docker}
IMAGE_REPOSITORY=${IMAGE_REPOSITORY:-ghcr.io/cartera/cartera-pipelines}
BASE_IMAGE=${BASE_IMAGE:-cartera-base:bookworm}
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)
IMAGE=${IMAGE:-$IMAGE_REPOSITORY:$VERSION}
UV_VERSION=$(sed -n 's/^UV_VERSION := //p' Makefile)
# The host's CA bundle, as a build secret: downloads inside the build trust what this host trusts (a
# TLS-inspecting proxy included); it is mounted per command and never stored in the image.
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

log() { printf '[image] %s\n' "$*" >&2; }

started=$(date +%s)
BASE_IMAGE=$BASE_IMAGE DOCKER=$DOCKER bash scripts/build_base_image.sh >/dev/null
base_done=$(date +%s)

secret=()
[ -s "$CA_BUNDLE" ] && secret=(--secret "id=ca_bundle,src=$CA_BUNDLE")
log "building $IMAGE on $BASE_IMAGE"
DOCKER_BUILDKIT=1 "$DOCKER" build --network host --progress plain \
  -f deploy/Dockerfile \
  --build-arg "BASE_IMAGE=$BASE_IMAGE" \
  --build-arg "IMAGE_VERSION=$VERSION" \
  --build-arg "UV_VERSION=$UV_VERSION" \
  "${secret[@]}" \
  -t "$IMAGE" . >"${IMAGE_BUILD_LOG:-/tmp/cartera-image-build.log}" 2>&1 || {
  tail -n 40 "${IMAGE_BUILD_LOG:-/tmp/cartera-image-build.log}" >&2
  exit 1
}
done_at=$(date +%s)
# the previous build of this tag, now untagged, goes (unless a container still uses it)
"$DOCKER" image prune -f --filter "label=org.opencontainers.image.title=cartera-pipelines" >/dev/null
size=$("$DOCKER" image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.2f GB", $1/1e9}')
log "$IMAGE ready: $size; base $((base_done - started)) s, project $((done_at - base_done)) s"
echo "$IMAGE"
