#!/bin/sh
# Validates docker-compose.yml (and the files it mounts) without a Docker engine:
#   deploy/check-compose.sh            # from anywhere in the repository
# Uses `docker compose` when present, else a standalone docker-compose v2+.
# Exits 0 with a notice when neither is installed, unless STRICT=1 (for CI
# machines that are meant to have one).
set -eu

cd "$(dirname "$0")/.."

status=0
for f in deploy/postgres/init-databases.sh deploy/temporal/setup-schema.sh deploy/temporal/setup-namespace.sh; do
	sh -n "$f" || status=1
done
for f in deploy/temporal/dynamicconfig.yaml deploy/dex/config.yaml deploy/tls/Caddyfile; do
	[ -f "$f" ] || { echo "missing $f" >&2; status=1; }
done

# Compose v1 (Debian's docker-compose 1.29) rejects the top-level `name:` and is
# end-of-life: only v2 and later count.
compose=
if docker compose version >/dev/null 2>&1; then
	compose="docker compose"
elif command -v docker-compose >/dev/null 2>&1; then
	case "$(docker-compose version --short 2>/dev/null)" in
	1.* | "") ;;
	*) compose="docker-compose" ;;
	esac
fi
if [ -z "$compose" ]; then
	echo "check-compose: no Docker Compose v2+ ('docker compose' or docker-compose) found; compose file not checked" >&2
	[ "${STRICT:-0}" = 1 ] && exit 1
	exit "$status"
fi

# -q: validate only. Variables come from the environment or .env with their
# in-file defaults, so no secret is needed to check the file.
$compose -f docker-compose.yml config -q || status=1
[ "$status" = 0 ] && echo "check-compose: docker-compose.yml is valid ($($compose version --short 2>/dev/null || echo "$compose"))"
exit "$status"
