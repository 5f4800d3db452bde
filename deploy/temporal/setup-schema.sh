#!/bin/sh
# Creates (if missing) and migrates Temporal's two PostgreSQL databases with the
# schemas embedded in temporal-sql-tool, so they always match the admin-tools
# image, which must carry the same version as the server image.
# Safe to run on every `docker compose up`: create-database ignores an existing
# database, setup-schema -v 0.0 only adds the version tables, and update-schema
# applies only the versions not yet applied.
#
# Env: SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD (read by
# temporal-sql-tool itself); TEMPORAL_DB and TEMPORAL_VISIBILITY_DB.
set -eu

db=${TEMPORAL_DB:-temporal}
visibility_db=${TEMPORAL_VISIBILITY_DB:-temporal_visibility}

# depends_on waits for pg_isready, but the first start of the postgres image
# restarts the server after its init scripts: retry the first connection.
attempt=1
until temporal-sql-tool --db "$db" create-database >/dev/null 2>&1; do
	if [ "$attempt" -ge 30 ]; then
		echo "PostgreSQL at ${SQL_HOST}:${SQL_PORT} not usable after $attempt attempts" >&2
		temporal-sql-tool --db "$db" create-database # show the error
		exit 1
	fi
	attempt=$((attempt + 1))
	sleep 2
done

temporal-sql-tool --db "$db" setup-schema -v 0.0
temporal-sql-tool --db "$db" update-schema --schema-name postgresql/v12/temporal

temporal-sql-tool --db "$visibility_db" create-database
temporal-sql-tool --db "$visibility_db" setup-schema -v 0.0
temporal-sql-tool --db "$visibility_db" update-schema --schema-name postgresql/v12/visibility

echo "Temporal schemas are up to date in $db and $visibility_db"
