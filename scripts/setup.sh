#!/usr/bin/env bash
# Installs what tego-ops needs on a Debian 12 machine, skipping whatever is already there:
# Debian packages, the Temporal CLI and MinIO (built from source: nothing else can be downloaded
# here), and the npm dependencies. Starting servers is the sandbox's job (test/harness), not this.
set -euo pipefail
cd "$(dirname "$0")/.."

cache_dir="${TEGO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tego-ops}"
bin_dir="$cache_dir/bin"
say() { printf '[setup] %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------------------------
# docker.io: the engine the deploy workflows drive; docker-compose: validates docker-compose.yml;
# postgresql-15: primary + replica servers and pg_dump/pg_basebackup; redis-server, nginx-light,
# zstd: the rest of the sandbox and the backup compressor; chromium: the headless browser the UI tests
# (test/ui) drive with playwright-core, which cannot download a browser of its own here; prometheus:
# only for its promtool, which checks and unit-tests the shipped alert rules (monitoring/prometheus).
packages=(docker.io docker-compose postgresql-15 postgresql-client-15 redis-server nginx-light zstd chromium prometheus)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    say "missing Debian packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
    exit 1
  fi
  say "installing ${missing[*]}"
  # Keep the packages from starting their services (redis on 6379, nginx on 80): the sandbox
  # starts its own servers on its own ports.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The prometheus package is here for promtool only: its server must not start with the machine.
  if [[ " ${missing[*]} " == *" prometheus "* && -d /run/systemd/system ]]; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

# --- Go builds (Temporal CLI with the dev server and UI; MinIO; the image registry) ----------------------------------
go_bin=$(command -v go || true)
[[ -z $go_bin && -x /usr/local/go/bin/go ]] && go_bin=/usr/local/go/bin/go
build() { # name module@version
  local name=$1 module=$2
  [[ -x "$bin_dir/$name" ]] && return 0
  if [[ -z $go_bin ]]; then
    say "Go 1.24 or newer is needed to build $name (Debian's golang-go is too old); put go on PATH" >&2
    exit 1
  fi
  say "building $name from $module (once; cached in $bin_dir)"
  mkdir -p "$bin_dir"
  GOBIN="$bin_dir" GOFLAGS=-trimpath "$go_bin" install "$module"
}
# v1.5.1 is the newest tag `go install` accepts: later ones carry a replace directive.
build temporal github.com/temporalio/cli/cmd/temporal@v1.5.1 &
temporal_build=$!
# MinIO publishes no semver tags; this is the newest commit the module proxy serves.
build minio github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c &
minio_build=$!
# The image registry deploys pull from (CNCF distribution).
build registry github.com/distribution/distribution/v3/cmd/registry@v3.1.2 &
registry_build=$!
wait "$temporal_build"
wait "$minio_build"
wait "$registry_build"

# --- npm dependencies --------------------------------------------------------------------------
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi
say "ready"
