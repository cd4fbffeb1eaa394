# Redis from Debian's package, for hosts that cannot pull redis:7.2.5-bookworm (scripts/compose_e2e.sh and
# deploy/compose/local-images.yml). Same role as the public image: compose passes the same command line
# (bounded memory, LRU, no persistence, users from the ACL secret).
#
#   docker build --build-arg BASE_IMAGE=debian:bookworm-slim -f deploy/docker/redis.Dockerfile -t kd-redis:0.1.0-local .
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

# The user first, with the official image's uid 999, so that the package reuses it and USER is numeric.
# hadolint ignore=DL3008
RUN groupadd --system --gid 999 redis \
    && useradd --system --uid 999 --gid redis --home-dir /data --shell /usr/sbin/nologin redis \
    && apt-get update \
    && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data && chown redis:redis /data

WORKDIR /data
USER 999:999
EXPOSE 6379
CMD ["redis-server"]
