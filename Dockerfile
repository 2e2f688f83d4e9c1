# The sandbox runtime image: python3 with pytest (pytest-style tests run under real pytest), g++ and a JDK (with
# javatuples, which MultiPL-E's Java imports), plus the fork-server worker.
# Build it with: bash sandbox/build_image.sh        (online: FROM python:3.12-slim)
#            or: bash sandbox/build_image.sh --offline (a debootstrapped Debian base, no registry needed)
# The container is started read-only, without network, as user 65534, with tmpfs mounts for /tmp and
# /work (see sandbox/docker.py); nothing in the image itself is writable.
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1

# Install only what the base lacks, so an offline base that already has everything builds without network.
# pytest: Debian's python3-pytest for Debian's python3 (the offline base has it already); a python that is not
# Debian's (python:3.12-slim's, in /usr/local) gets it from PyPI, pinned.
RUN set -eu; \
    missing=""; \
    command -v python3 >/dev/null 2>&1 || missing="$missing python3"; \
    command -v g++ >/dev/null 2>&1 || missing="$missing g++"; \
    { command -v javac >/dev/null 2>&1 && command -v java >/dev/null 2>&1; } || missing="$missing default-jdk-headless"; \
    [ -f /usr/share/java/javatuples.jar ] || missing="$missing libjavatuples-java"; \
    pip_pytest=""; \
    if ! python3 -c 'import pytest' >/dev/null 2>&1; then \
        if [ "$(python3 -c 'import sys; print(sys.prefix)' 2>/dev/null || echo /usr)" = /usr ]; then missing="$missing python3-pytest"; \
        else pip_pytest="pytest==8.3.5"; fi; \
    fi; \
    if [ -n "$missing" ]; then \
        mkdir -p /usr/share/man/man1; \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    if [ -n "$pip_pytest" ]; then python3 -m pip install --no-cache-dir "$pip_pytest"; fi; \
    python3 --version; python3 -m pytest --version; g++ --version | head -n1; javac -version; \
    mkdir -p /opt/sandbox /work

COPY sandbox/worker.py /opt/sandbox/worker.py
RUN python3 -m py_compile /opt/sandbox/worker.py && chmod -R a+rX /opt/sandbox

USER 65534:65534
WORKDIR /work
# Imported (from the bytecode compiled above), not run as a script: compiling worker.py at each start
# left ~2.5 MiB of heap that every job's fork copies (see worker.run).
# Jobs then see neither /opt/sandbox on sys.path nor a `worker` module.
ENTRYPOINT ["python3", "-I", "-c", "import sys; sys.path.insert(0, '/opt/sandbox'); import worker; del sys.path[0], sys.modules['worker']; worker.run()"]
CMD ["--root", "/work", "--scan", "/tmp,/dev/shm,/dev/mqueue"]
