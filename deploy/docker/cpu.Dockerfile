# CPU image of the project: teacher (CPU), Ray head and workers, the trainer job, export and gateway.
#
# Build from the repository root:
#   docker build -f deploy/docker/cpu.Dockerfile -t kd-distill:0.1.0-cpu .
#
# Python's patch version and Ray's version must be the same on every node of a Ray cluster (Ray refuses
# to join nodes that differ), so both are pinned here and in cuda.Dockerfile to the same values.
#
# Where no container registry is reachable (scripts/compose_e2e.sh): BASE_IMAGE can be any Debian-like image
# with python3 and pip (e.g. one made with debootstrap), a torch wheel placed in deploy/docker/wheels/ is
# installed instead of the download, and CA certificates in deploy/docker/ca-certificates/ (a proxy's) are
# trusted. Every node of one cluster must use the same image, so the Python pin still holds per build.
ARG BASE_IMAGE=python:3.11.13-slim-bookworm
FROM ${BASE_IMAGE}

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG RAY_VERSION=2.60.0

# PIP_BREAK_SYSTEM_PACKAGES: a Debian base's Python is "externally managed"; the image is the environment.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_BREAK_SYSTEM_PACKAGES=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt

COPY deploy/docker/ca-certificates/ /usr/local/share/ca-certificates/
# `python` is what every command line runs; a Debian base only has `python3`.
RUN update-ca-certificates \
    && if ! command -v python >/dev/null; then ln -s "$(command -v python3)" /usr/local/bin/python; fi

# A fixed, unprivileged user. The data, model and checkpoint folders are created here and owned by it,
# so that empty named volumes mounted on them inherit that ownership.
RUN groupadd --gid 10001 kd \
    && useradd --uid 10001 --gid kd --create-home --shell /usr/sbin/nologin kd \
    && mkdir -p /data /models/served /models/teacher /checkpoints \
    && chown -R kd:kd /data /models /checkpoints

# torch first, from the CPU index (or the wheel in deploy/docker/wheels/): `pip install .` then finds
# torch==2.13.0 satisfied and never pulls the multi-gigabyte CUDA build from PyPI.
COPY deploy/docker/wheels/ /tmp/wheels/
RUN if ls /tmp/wheels/torch-*.whl >/dev/null 2>&1; then pip install --no-cache-dir /tmp/wheels/torch-*.whl; \
    else pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"; fi \
    && rm -rf /tmp/wheels

# The dependencies next, from pyproject.toml alone, so that a change to the sources rebuilds only the last
# layers (seconds, not the many minutes of downloading the dependencies again).
WORKDIR /app
COPY pyproject.toml /app/
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt "ray[default,train]==${RAY_VERSION}" \
    && rm /tmp/requirements.txt

COPY . /app
# /app is what `ray job submit --working-dir /app` uploads: no wheels in it.
RUN rm -rf /app/deploy/docker/wheels \
    && pip install --no-cache-dir --no-deps . \
    && rm -rf /app/build /app/*.egg-info

# numeric, so that Kubernetes runAsNonRoot can verify it
USER 10001:10001

# gateway, teacher gRPC, teacher metrics, Ray GCS, Ray dashboard / job API
EXPOSE 8000 50051 9100 6380 8265

CMD ["kd", "--help"]
