#!/usr/bin/env bash
# `docker compose up`, for real, on this machine: builds the images without any registry but the package
# registries, runs the whole stack (Redis, teacher, Ray head + worker, a short training job, export, gateway),
# translates through the gateway's published port, checks the exposure rules, and removes everything.
#
#   bash scripts/compose_e2e.sh            # about 15-25 minutes on 2 cores; output with timings on stdout
#
# What it does, in order (each step timed):
#   1. installs docker.io and debootstrap when missing; starts its own dockerd (own data folder and socket)
#   2. a Debian bookworm base image from Debian's packages (debootstrap | docker import)
#   3. the project image (deploy/docker/cpu.Dockerfile) on that base, with the CPU torch wheel that pip
#      resolves here put in the build context, and the host's extra CA certificates (a TLS proxy's);
#      Redis from deploy/docker/redis.Dockerfile (deploy/compose/local-images.yml swaps it in)
#   4. secrets (scripts/make_secrets.sh), the teacher and the corpus into the compose volumes
#   5. docker-compose up (+ deploy/compose/e2e.yml: the same training job, 20 steps), health checks,
#      the training job and the export, then REST translation on 127.0.0.1:8000
#   6. exposure: the gateway's port is the only published one (docker port, ss); Ray refuses a job
#      submission without the token; the gateway refuses to start on a public address without API keys
#   7. docker-compose down -v, dockerd stopped, its folders removed (also on failure or Ctrl-C)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
SHARED=${KD_SHARED:-$(cd .. && pwd)/shared}
WORK=${KD_E2E_WORK:-/tmp/kd-e2e}
PROJECT=kd-e2e
START=$(date +%s)
step() { echo "[compose-e2e $(date +%H:%M:%S) +$(( $(date +%s) - START ))s] $*"; }
fail() { echo "[compose-e2e] FAILED: $*" >&2; exit 1; }

[ -f "$SHARED/models/teacher-bible-es-en-small/config.json" ] || fail "no reference teacher under $SHARED/models"
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  step "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
command -v docker-compose >/dev/null || fail "docker-compose missing: run scripts/install_system_deps.sh"

mkdir -p "$WORK"
export DOCKER_HOST="unix://$WORK/docker.sock"
COMPOSE=(docker-compose -p "$PROJECT" -f docker-compose.yml -f deploy/compose/local-images.yml -f deploy/compose/e2e.yml)
DOCKERD_PID=""
HAD_DOCKER0=""
cleanup() {
  set +e
  step "tearing down"
  if [ -n "$DOCKERD_PID" ]; then
    "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1
    docker ps -aq | xargs -r docker rm -f >/dev/null 2>&1
    kill "$DOCKERD_PID" 2>/dev/null; wait "$DOCKERD_PID" 2>/dev/null
    # dockerd leaves its bridge and its iptables rules behind: put the host back as it was.
    [ -n "$HAD_DOCKER0" ] || ip link delete docker0 2>/dev/null
    [ -s "$WORK/iptables.before" ] && iptables-restore < "$WORK/iptables.before"
    [ -s "$WORK/ip_forward.before" ] && cat "$WORK/ip_forward.before" > /proc/sys/net/ipv4/ip_forward
  fi
  rm -rf "$REPO"/deploy/docker/wheels/*.whl "$REPO"/deploy/docker/ca-certificates/*.crt
  [ -n "${KD_E2E_KEEP:-}" ] || rm -rf "$WORK"
  left=$(pgrep -f "dockerd --data-root $WORK" || true)
  [ -z "$left" ] || echo "dockerd still running: $left" >&2
  if [ -z "$left" ] && { [ -n "$HAD_DOCKER0" ] || ! ip link show docker0 >/dev/null 2>&1; }; then
    step "no container, network, bridge or daemon left behind"
  fi
}
trap cleanup EXIT

step "1. starting dockerd (data $WORK/data, socket $WORK/docker.sock)"
HAD_DOCKER0=$(ip link show docker0 2>/dev/null || true)
iptables-save > "$WORK/iptables.before" 2>/dev/null || true
cat /proc/sys/net/ipv4/ip_forward > "$WORK/ip_forward.before"
dockerd --data-root "$WORK/data" --exec-root "$WORK/exec" -H "$DOCKER_HOST" --pidfile "$WORK/docker.pid" \
  >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
docker info >/dev/null 2>&1 || fail "dockerd did not start; see $WORK/dockerd.log"

step "2. Debian bookworm base image from Debian's packages (debootstrap)"
if ! docker image inspect kd-base:bookworm >/dev/null 2>&1; then
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates bookworm \
    "$WORK/rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 || fail "debootstrap; see $WORK/debootstrap.log"
  tar -C "$WORK/rootfs" -c . | docker import - kd-base:bookworm >/dev/null
  rm -rf "$WORK/rootfs"
fi

step "3. building kd-distill:0.1.0-cpu and kd-redis:0.1.0-local on it"
python3 -m pip download "torch==2.13.0" --no-deps -d deploy/docker/wheels -q
cp /usr/local/share/ca-certificates/*.crt deploy/docker/ca-certificates/ 2>/dev/null || true
docker build -q --build-arg BASE_IMAGE=kd-base:bookworm -f deploy/docker/cpu.Dockerfile -t kd-distill:0.1.0-cpu . \
  >"$WORK/build-cpu.log" 2>&1 || { tail -30 "$WORK/build-cpu.log"; fail "building the project image"; }
docker build -q --build-arg BASE_IMAGE=kd-base:bookworm -f deploy/docker/redis.Dockerfile -t kd-redis:0.1.0-local . \
  >"$WORK/build-redis.log" 2>&1 || { tail -30 "$WORK/build-redis.log"; fail "building the Redis image"; }
docker images --format '  {{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'kd-(distill|redis|base)'

step "4. secrets, teacher and corpus into the volumes"
bash scripts/make_secrets.sh >/dev/null
"${COMPOSE[@]}" run --rm --no-deps -v "$SHARED/models/teacher-bible-es-en-small:/src:ro" --entrypoint sh \
  export -c 'cp -r /src/. /models/teacher/' >/dev/null
"${COMPOSE[@]}" run --rm --no-deps -v "$SHARED/data/bible-es-en:/src:ro" --entrypoint sh \
  ray-head -c 'mkdir -p /data/bible-es-en && cp /src/*.tsv /data/bible-es-en/' >/dev/null

step "5. docker-compose up"
diagnose() {  # which service is not healthy, and why
  "${COMPOSE[@]}" ps
  for id in $(docker ps -aq); do
    health=$(docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}: {{range .State.Health.Log}}{{.Output}} {{end}}{{end}}' "$id")
    echo "  $health" | cut -c1-400
  done
}
if ! "${COMPOSE[@]}" up -d --no-build > "$WORK/up.log" 2>&1; then
  sed 's/^/  /' "$WORK/up.log" | grep -v "Creating"; diagnose; fail "docker-compose up"
fi
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2; shift 2
  for _ in $(seq "$limit"); do "$@" >/dev/null 2>&1 && { step "$what"; return 0; }; sleep 1; done
  "${COMPOSE[@]}" ps; "${COMPOSE[@]}" logs --tail 40; fail "$what: not within ${limit}s"
}
healthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "$("${COMPOSE[@]}" ps -q "$1")")" = healthy ]; }
exited_ok() { [ "$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$("${COMPOSE[@]}" ps -q "$1")")" = "exited 0" ]; }
for svc in redis teacher ray-head ray-worker gateway; do wait_for 600 "$svc is healthy" healthy "$svc"; done
wait_for 1200 "the training job finished (trainer exited 0)" exited_ok trainer
"${COMPOSE[@]}" logs --no-color trainer | grep -E "\[trainer\] (step|end)" | tail -3 | sed 's/^/  /'
wait_for 300 "the export finished (export exited 0)" exited_ok export
served() { curl -sf http://127.0.0.1:8000/v1/models | python3 -c 'import json,sys; ids=[m["id"] for m in json.load(sys.stdin)["models"]]; sys.exit("student-ka" not in ids)'; }
wait_for 120 "the gateway serves student-ka (hot reload)" served
answer=$(curl -sf http://127.0.0.1:8000/v1/translate -H 'content-type: application/json' \
  -d '{"text": "Y dijo Dios: Sea la luz.", "model": "student-ka", "max_length": 32}')
echo "  POST /v1/translate -> $answer"
python3 -c 'import json,sys; a=json.loads(sys.argv[1]); assert a["model"]=="student-ka" and isinstance(a["translation"], str)' "$answer"

step "6. exposure checks"
published=$(docker ps --format '{{.Names}} {{.Ports}}' | grep -- '->' || true)
echo "$published" | sed 's/^/  published: /'
[ "$(echo "$published" | wc -l)" -eq 1 ] && echo "$published" | grep -q "gateway.*127.0.0.1:8000->8000/tcp" \
  || fail "something other than the gateway is published"
for port in 6379 50051 9100 6380 8265 52365; do
  ! ss -ltnH "sport = :$port" | grep -q docker-proxy || fail "port $port is published on the host"
done
ss -ltnp "sport = :8000" | grep -q docker-proxy || fail "the gateway's port is not published"
step "  only the gateway's port 8000 is published"
if "${COMPOSE[@]}" run --rm --no-deps -e RAY_AUTH_TOKEN_PATH=/nonexistent trainer \
     ray job list --address http://ray-head:8265 >"$WORK/no-token.log" 2>&1; then
  fail "Ray accepted a job API call without the token"
fi
grep -qiE "auth|token" "$WORK/no-token.log" || { cat "$WORK/no-token.log"; fail "no authentication error"; }
"${COMPOSE[@]}" run --rm --no-deps trainer ray job list --address http://ray-head:8265 >/dev/null \
  || fail "Ray refused the job API with the token"
step "  Ray refuses the job API without the token and accepts it with it"
if "${COMPOSE[@]}" run --rm --no-deps -e KD_GATEWAY_PUBLIC_ADDRESS=0.0.0.0 gateway >"$WORK/anon.log" 2>&1; then
  fail "the gateway started on a public address without API keys"
fi
grep -q "without API keys" "$WORK/anon.log" || { cat "$WORK/anon.log"; fail "no clear refusal"; }
step "  the gateway refuses a public address without API keys"
step "end to end: passed in $(( $(date +%s) - START ))s"
