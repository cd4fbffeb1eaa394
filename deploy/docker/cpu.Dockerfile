# CPU image of the project: teacher (CPU), Ray head and workers, the trainer job, export and gateway.
#
# Build from the repository root:
#   docker build -f deploy/docker/cpu.Dockerfile -t kd-distill:0.1.0-cpu .
#
# Python's patch version and Ray's version must be the same on every node of a Ray cluster (Ray refuses
# to join nodes that differ), so both are pinned here and in cuda.Dockerfile to the same values.
FROM python:3.11.13-slim-bookworm

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG RAY_VERSION=2.60.0

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed, unprivileged user. The data, model and checkpoint folders are created here and owned by it,
# so that empty named volumes mounted on them inherit that ownership.
RUN groupadd --gid 10001 kd \
    && useradd --uid 10001 --gid kd --create-home --shell /usr/sbin/nologin kd \
    && mkdir -p /data /models/served /models/teacher /checkpoints \
    && chown -R kd:kd /data /models /checkpoints

# torch first, from the CPU index: `pip install .` then finds torch==2.13.0 satisfied and never pulls the
# multi-gigabyte CUDA build from PyPI.
RUN pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"

WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir . "ray[default,train]==${RAY_VERSION}" \
    && rm -rf /app/build /app/*.egg-info

# numeric, so that Kubernetes runAsNonRoot can verify it
USER 10001:10001

# gateway, teacher gRPC, teacher metrics, Ray GCS, Ray dashboard / job API
EXPOSE 8000 50051 9100 6380 8265

CMD ["kd", "--help"]
