#!/usr/bin/env bash
# Creates the secrets that docker-compose.yml mounts, once, with random values (a second run keeps them):
#   ray_token        Ray's token authentication (head, workers, job submitter)
#   teacher_token    the token every teacher RPC must carry (trainer, distill-data clients)
#   redis_users.acl  Redis users: `kd` (password, only the commands the cache uses, only kd:* keys),
#                    `healthcheck` (PING only), the default user off
#   redis_url        the teacher's Redis URL with the `kd` password
# The folder is private to you (0700); the files inside are 0644 so that the containers' own users
# (uid 10001, redis) can read them where compose mounts them (/run/secrets/...). Never commit it.
#
# Usage: scripts/make_secrets.sh [FOLDER]     (default: secrets/ beside docker-compose.yml)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-secrets}
mkdir -p "$DIR"
chmod 700 "$DIR"

new_secret() { python3 -c 'import secrets; print(secrets.token_hex(32))'; }
write() {  # write FILE CONTENT (only if FILE is missing or empty)
  if [ ! -s "$DIR/$1" ]; then
    printf '%s\n' "$2" > "$DIR/$1.tmp"
    mv "$DIR/$1.tmp" "$DIR/$1"
    echo "created $DIR/$1"
  fi
}

write ray_token "$(new_secret)"
write teacher_token "$(new_secret)"
if [ ! -s "$DIR/redis_users.acl" ] || [ ! -s "$DIR/redis_url" ]; then
  password=$(new_secret)
  rm -f "$DIR/redis_users.acl" "$DIR/redis_url"
  write redis_users.acl "user default off
user kd on >$password ~kd:* resetchannels -@all +ping +mget +set +select
user healthcheck on >healthcheck -@all +ping"
  write redis_url "redis://kd:$password@redis:6379/0"
fi
chmod 644 "$DIR"/ray_token "$DIR"/teacher_token "$DIR"/redis_users.acl "$DIR"/redis_url
