#!/usr/bin/env bash
# Installs the system packages kd-distill needs that a fresh Debian/Ubuntu machine lacks:
#   redis-server      - the teacher's cache; tests start their own server on a free port
#   docker-compose    - `docker-compose config` in tests/deploy
#   chromium, chromium-driver, fonts-liberation - the gateway page's browser test (fonts: readable
#                     screenshots; a Recommends that --no-install-recommends would skip)
#   python3-venv, python3-pip - to create the project's virtualenv
#
# Idempotent: packages already installed are skipped quietly, and `apt-get update` runs only when
# something is missing. Runs as root (CI) or through sudo when it is available.
#
# Usage: scripts/install_system_deps.sh [--dry-run]
#   --dry-run   print what is missing and the commands that would run, change nothing
set -euo pipefail

DRY_RUN=0
case "${1:-}" in
  "") ;;
  --dry-run) DRY_RUN=1 ;;
  -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
  *) echo "install_system_deps.sh: unknown argument '$1' (use --dry-run or --help)" >&2; exit 2 ;;
esac

die() {
  echo "install_system_deps.sh: $*" >&2
  exit 1
}

# The distribution's name for each package the project needs. Ubuntu ships Chromium under other names
# (and only as snap wrappers, which do not work in containers: there, use Debian or Google's builds).
package_list() {
  local distro_id=""
  if [[ -r /etc/os-release ]]; then
    # shellcheck disable=SC1091
    distro_id="$(. /etc/os-release && echo "${ID:-}")"
  fi
  local browser=(chromium chromium-driver fonts-liberation)
  if [[ "$distro_id" == "ubuntu" ]]; then
    browser=(chromium-browser chromium-chromedriver fonts-liberation)
    echo "install_system_deps.sh: note: on Ubuntu, Chromium comes as a snap wrapper" >&2
  fi
  echo redis-server docker-compose "${browser[@]}" python3-venv python3-pip
}

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# How to run a command as root: directly, through sudo, or not at all.
as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run '$*': run as root or install sudo"
  fi
}

run() {
  if [[ "$DRY_RUN" -eq 1 ]]; then
    echo "would run: $*"
  else
    as_root "$@"
  fi
}

main() {
  if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    die "this script is for Debian/Ubuntu (apt-get and dpkg-query not found)"
  fi
  local missing=() pkg
  # shellcheck disable=SC2046
  for pkg in $(package_list); do
    is_installed "$pkg" || missing+=("$pkg")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    [[ "$DRY_RUN" -eq 1 ]] && echo "all system packages are installed"
    return 0
  fi
  echo "installing: ${missing[*]}"
  run env DEBIAN_FRONTEND=noninteractive apt-get update -q
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

main
