#!/usr/bin/env bash
# Makes sure PostgreSQL answers on 127.0.0.1:5432 with trust auth for user postgres, as on the
# development and CI machines. Starts the local cluster when it is stopped, and installs
# Debian's PostgreSQL when there is none. Does nothing when BALLOTFLOW_TEST_DATABASE_URL or a
# non-local DATABASE_URL points elsewhere.
set -euo pipefail

ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if [[ -n "${BALLOTFLOW_TEST_DATABASE_URL:-}" ]]; then exit 0; fi
if command -v pg_isready >/dev/null && ready; then exit 0; fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi

if ! command -v pg_ctlcluster >/dev/null; then
	echo "ensure-postgres: installing PostgreSQL from Debian's packages" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
fi

version=$(ls /etc/postgresql | sort -n | tail -n 1)
if [[ -z "$version" ]]; then
	echo "ensure-postgres: no PostgreSQL cluster found under /etc/postgresql" >&2
	exit 1
fi
conf_dir="/etc/postgresql/$version/main"
# Local development only: trust connections from this machine, listen on loopback.
if ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$conf_dir/pg_hba.conf"; then
	echo "ensure-postgres: allowing trust auth from 127.0.0.1 (local development cluster)" >&2
	$sudo sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$conf_dir/pg_hba.conf"
fi
echo "ensure-postgres: starting PostgreSQL $version" >&2
$sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null ||
	$sudo pg_ctlcluster --skip-systemctl-redirect "$version" main reload

for _ in $(seq 1 30); do
	if ready; then exit 0; fi
	sleep 1
done
echo "ensure-postgres: PostgreSQL did not come up on 127.0.0.1:5432" >&2
exit 1
