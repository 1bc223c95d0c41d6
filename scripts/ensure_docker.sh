#!/usr/bin/env bash
# Makes sure Docker (Debian's docker.io) and debootstrap are installed and dockerd is running, for
# `make image` and `make rehearsal`. Idempotent: installs only what is missing, starts dockerd only when
# its socket does not answer.
#
# dockerd runs with --bridge=none --iptables=false --ip-forward=false: no docker0 bridge, no NAT rules,
# no address on a private range. Every build and container of this project uses `--network host`.
#
# Exit status: 0 ready; 3 this machine cannot run dockerd (not root, no apt, the daemon does not start):
# callers (the rehearsal in .ci/run) print the reason and skip.
set -euo pipefail

log() { printf '[docker] %s\n' "$*" >&2; }
cannot() { log "cannot run dockerd here: $*"; exit 3; }

DOCKER=${DOCKER:-/usr/bin/docker}
SOCKET=/var/run/docker.sock
LOG_FILE=/var/log/cartera-dockerd.log
PID_FILE=/var/run/docker.pid

answers() { "$DOCKER" info >/dev/null 2>&1; }

if [ -x "$DOCKER" ] && [ -S "$SOCKET" ] && answers; then
  command -v debootstrap >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ] || {
    log "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  }
  log "dockerd is up ($("$DOCKER" version --format '{{.Server.Version}}'))"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || cannot "installing and starting dockerd needs root (you are $(id -un))"
command -v apt-get >/dev/null 2>&1 || cannot "no apt-get (a Debian machine is expected)"

missing=()
[ -x /usr/sbin/dockerd ] && [ -x "$DOCKER" ] || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  # --no-install-recommends: no docker-compose, no cgroupfs-mount scripts; only the engine and client
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || cannot "apt-get install ${missing[*]} failed"
fi

if ! answers; then
  if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    log "dockerd (pid $(cat "$PID_FILE")) is running but does not answer yet"
  else
    log "starting dockerd (log: $LOG_FILE)"
    # its own session (setsid): the daemon outlives the shell, the CI job or the make that started it;
    # containerd is started by dockerd itself when it does not run as a service
    setsid -f /usr/sbin/dockerd --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
      --host "unix://$SOCKET" --pidfile "$PID_FILE" >>"$LOG_FILE" 2>&1 </dev/null
    for _ in $(seq 1 20); do [ -s "$PID_FILE" ] && break; sleep 0.5; done
  fi
  for _ in $(seq 1 120); do
    answers && break
    [ -s "$PID_FILE" ] && ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null \
      && cannot "dockerd exited; last lines of $LOG_FILE: $(tail -n 5 "$LOG_FILE" | tr '\n' ' ')"
    sleep 0.5
  done
  answers || cannot "dockerd did not answer within 60 s; see $LOG_FILE"
fi
log "dockerd is up ($("$DOCKER" version --format '{{.Server.Version}}'), storage $("$DOCKER" info --format '{{.Driver}}'))"
