#!/bin/sh
# Creates the secret files docker-compose.yml reads, once; existing files are kept, so
# running it again changes nothing. See docs/deployment.md.
#
# Without Swarm, Compose bind-mounts secret files as they are on the host, and the forge
# runs as an unprivileged user (uid 1000) inside its container: the files are readable
# (0644), the directory holding them is not (0700), so on the host only root gets in.
set -eu
cd "$(dirname "$0")/.."
mkdir -p secrets
chmod 700 secrets
umask 022
new() { [ -s "secrets/$1" ] || { printf '%s' "$2" > "secrets/$1"; echo "created secrets/$1"; }; }
rand() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
new postgres_password "$(rand 24)"
new database_url "postgres://forge:$(cat secrets/postgres_password)@postgres:5432/forge"
new forge_secret "$(rand 32)"
new s3_access_key_id "forge$(rand 6)"
new s3_secret_access_key "$(rand 24)"
