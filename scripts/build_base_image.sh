#!/usr/bin/env bash
# The base image of deploy/Dockerfile, built from Debian packages alone (no public image registry is
# reachable from here): debootstrap a minimal bookworm root with Python 3.11, the Firebird client and the
# time zone database, bring it up to date with bookworm-security, strip caches and docs, `docker import` it.
#
#   bash scripts/build_base_image.sh            # prints the image name on stdout
#
# Cached: the image is tagged with a hash of this script, so a second run (or a fresh clone on the same
# machine) finds it and does nothing; edit the package list below and the next run builds a new one.
# Also tagged $BASE_IMAGE (default cartera-base:bookworm), the name deploy/Dockerfile starts FROM.
set -euo pipefail

DOCKER=${DOCKER:-/usr/bin/docker}
BASE_IMAGE=${BASE_IMAGE:-cartera-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SUITE=bookworm
# python3.11: the interpreter uv.lock was resolved for; libfbclient2: what `fdb` loads to reach Firebird;
# tzdata: Bogotá/Santiago/Guayaquil dates; ca-certificates: HTTPS to Contifico, MLflow, webhooks;
# netbase: /etc/services and /etc/protocols, which gRPC and the database drivers look up.
PACKAGES=python3.11,libfbclient2,tzdata,ca-certificates,netbase

log() { printf '[base-image] %s\n' "$*" >&2; }

hash=$(sha256sum "$0" | cut -c1-12)
tagged="${BASE_IMAGE%%:*}:${SUITE}-${hash}"
if "$DOCKER" image inspect "$tagged" >/dev/null 2>&1; then
  log "$tagged is already built"
  "$DOCKER" tag "$tagged" "$BASE_IMAGE"
  echo "$BASE_IMAGE"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || { log "debootstrap needs root"; exit 1; }
command -v debootstrap >/dev/null || { log "debootstrap is missing: run scripts/ensure_docker.sh"; exit 1; }

work=$(mktemp -d /var/tmp/cartera-base.XXXXXX)
root="$work/rootfs"
cleanup() {
  # a failed step may leave /proc or /sys mounted inside the root: never delete through a mount
  umount "$root/proc" "$root/sys" 2>/dev/null || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

started=$(date +%s)
log "debootstrap $SUITE ($PACKAGES) from $MIRROR"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}

cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
log "security updates"
chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c \
  'apt-get update -qq && apt-get -y -qq -o Dpkg::Options::=--force-confold upgrade && apt-get clean' \
  >"$work/upgrade.log" 2>&1 || { tail -n 30 "$work/upgrade.log" >&2; exit 1; }
umount "$root/proc"

# What an image does not need: package lists and caches, docs, man pages, locales other than C.UTF-8.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/debconf/*-old \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/* \
  "$root"/tmp/* "$root"/root/.cache
: >"$root/etc/resolv.conf"  # the container runtime provides its own
cat >"$root/etc/apt/apt.conf.d/90cartera-image" <<'EOF'
APT::Install-Recommends "false";
Dpkg::Options { "--force-confold"; };
EOF

log "docker import as $tagged"
tar -C "$root" --numeric-owner -c . | "$DOCKER" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/usr/bin/python3.11"]' \
  --message "debootstrap $SUITE minbase + $PACKAGES" \
  - "$tagged" >/dev/null
"$DOCKER" tag "$tagged" "$BASE_IMAGE"
log "built $tagged in $(($(date +%s) - started)) s ($("$DOCKER" image inspect --format '{{.Size}}' "$tagged" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$BASE_IMAGE"
