# CUDA image of the project: the GPU teacher and the GPU Ray workers that run the trainer.
#
# Build from the repository root:
#   docker build -f deploy/docker/cuda.Dockerfile -t kd-distill:0.1.0-cuda .
#
# The NVIDIA runtime base brings the CUDA user-space set-up (NVIDIA_* variables, driver mounts through the
# NVIDIA container toolkit); PyTorch's wheels from PyPI bring their own CUDA libraries.
# Ubuntu 24.04 ships Python 3.12, but a Ray cluster needs the SAME Python patch version on every node and
# the CPU image (head node) runs Python 3.11.13; uv installs exactly that interpreter (a relocatable
# python-build-standalone build), so no apt packages are needed at all.
FROM ghcr.io/astral-sh/uv:0.8.0 AS uv

FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04

ARG PYTHON_VERSION=3.11.13
ARG TORCH_VERSION=2.13.0
ARG RAY_VERSION=2.60.0

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1 \
    UV_PYTHON_INSTALL_DIR=/opt/python \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:${PATH}

COPY --from=uv /uv /usr/local/bin/uv

RUN uv python install "${PYTHON_VERSION}" \
    && uv venv --seed --python "${PYTHON_VERSION}" /opt/venv

RUN groupadd --gid 10001 kd \
    && useradd --uid 10001 --gid kd --create-home --shell /usr/sbin/nologin kd \
    && mkdir -p /data /models/served /models/teacher /checkpoints \
    && chown -R kd:kd /data /models /checkpoints

# PyPI's torch==2.13.0 for Linux is the CUDA build (its CUDA runtime comes as nvidia-* wheels).
RUN pip install --no-cache-dir "torch==${TORCH_VERSION}"

# The dependencies from pyproject.toml alone first, so that a source change rebuilds only the last layers.
WORKDIR /app
COPY pyproject.toml /app/
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt "ray[default,train]==${RAY_VERSION}" \
    && rm /tmp/requirements.txt

COPY . /app
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf /app/build /app/*.egg-info

# numeric, so that Kubernetes runAsNonRoot can verify it
USER 10001:10001

ENV KD_TEACHER_DEVICE=cuda

# teacher gRPC, teacher metrics, Ray dashboard agent
EXPOSE 50051 9100 52365

CMD ["kd", "--help"]
