#!/usr/bin/env bash
# Build the sandbox image (wizardcoder-sandbox:latest) from the repository's Dockerfile.
#
#   bash sandbox/build_image.sh            # FROM python:3.12-slim; falls back to --offline when no registry answers
#   bash sandbox/build_image.sh --offline  # FROM a Debian base made here with debootstrap (no registry needed)
#
# Options: --offline | --online, --tag NAME (default: $WIZARDCODER_SANDBOX_IMAGE or wizardcoder-sandbox:latest),
#          --base IMAGE (use this base image as is), --mirror URL (Debian mirror for debootstrap),
#          --rebuild-base (rebuild the offline base even if it exists).
# Idempotent: the offline base (wizardcoder-base:bookworm, or $WIZARDCODER_BASE_IMAGE) is built only when missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAG="${WIZARDCODER_SANDBOX_IMAGE:-wizardcoder-sandbox:latest}"
ONLINE_BASE="python:3.12-slim"
OFFLINE_BASE="${WIZARDCODER_BASE_IMAGE:-wizardcoder-base:bookworm}"
SUITE="bookworm"
MODE="auto"
ROOTFS_TMP=""
BASE=""
MIRROR=""
REBUILD_BASE=0

while [ $# -gt 0 ]; do
    case "$1" in
        --offline) MODE="offline" ;;
        --online) MODE="online" ;;
        --tag) TAG="$2"; shift ;;
        --base) BASE="$2"; shift ;;
        --mirror) MIRROR="$2"; shift ;;
        --rebuild-base) REBUILD_BASE=1 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "build_image.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

say() { echo "[build_image] $*" >&2; }

if ! docker info >/dev/null 2>&1; then
    say "no Docker engine is reachable. Start one (e.g. 'sudo systemctl start docker' or"
    say "'setsid dockerd >/tmp/dockerd.log 2>&1 &'), or use the local sandbox backend (--sandbox local)."
    exit 1
fi

find_mirror() {
    # The Debian mirror this machine's apt uses (deb822 .sources files or classic sources.list).
    local uri=""
    uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' \
          | grep -v -- '-security' | head -n1 || true)
    if [ -z "$uri" ]; then
        uri=$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
              | grep -v -- '-security' | awk '{for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' \
              | head -n1 || true)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

build_offline_base() {
    if [ "$REBUILD_BASE" = 0 ] && docker image inspect "$OFFLINE_BASE" >/dev/null 2>&1; then
        say "base image $OFFLINE_BASE exists; skipping debootstrap"
        return
    fi
    if ! command -v debootstrap >/dev/null 2>&1; then
        say "debootstrap is missing; installing it (apt-get install debootstrap)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    local mirror="${MIRROR:-$(find_mirror)}"
    ROOTFS_TMP="$(mktemp -d /tmp/wizardcoder-rootfs.XXXXXX)"
    trap 'rm -rf "$ROOTFS_TMP"' EXIT
    local rootfs="$ROOTFS_TMP"
    say "debootstrap $SUITE from $mirror into $rootfs (python3 + pytest, g++, default-jdk-headless; a few minutes)"
    debootstrap --variant=minbase --include=python3,python3-pytest,g++,default-jdk-headless,libjavatuples-java "$SUITE" "$rootfs" "$mirror" >&2
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    say "importing the rootfs as $OFFLINE_BASE"
    tar -C "$rootfs" -c . | docker import - "$OFFLINE_BASE" >/dev/null
    rm -rf "$rootfs"
}

if [ -z "$BASE" ]; then
    if [ "$MODE" = "auto" ]; then
        if docker image inspect "$ONLINE_BASE" >/dev/null 2>&1 || timeout 60 docker pull -q "$ONLINE_BASE" >/dev/null 2>&1; then
            MODE="online"
        else
            say "cannot pull $ONLINE_BASE (no registry reachable?): building offline"
            MODE="offline"
        fi
    fi
    if [ "$MODE" = "offline" ]; then
        build_offline_base
        BASE="$OFFLINE_BASE"
    else
        BASE="$ONLINE_BASE"
    fi
fi

say "building $TAG from base $BASE"
# A minimal build context (the Dockerfile and the worker), streamed as a tar: no .dockerignore needed.
# The legacy builder works everywhere (no buildx plugin needed) and never pulls an imported base.
tar -C "$ROOT" -c Dockerfile sandbox/worker.py \
    | DOCKER_BUILDKIT=0 docker build --build-arg "BASE_IMAGE=$BASE" -t "$TAG" - >&2
say "built $TAG"
docker run --rm --network none --read-only --user 65534:65534 --entrypoint python3 "$TAG" \
    -c 'import sys; print("sandbox image ok: python", sys.version.split()[0])'
