#!/bin/sh
# Runs once, from the postgres image's /docker-entrypoint-initdb.d, when the
# data volume is empty. One cluster holds ballotflow's database and Temporal's
# two; each application gets its own role, owning only its own databases, so the
# superuser password never has to reach an application container.
#
# Env (set by docker-compose.yml): BALLOTFLOW_DB_PASSWORD, TEMPORAL_DB_PASSWORD.
# Changing them later does not re-run this script: use ALTER ROLE then.
# No `set -eu`: the entrypoint sources a script that is not executable, and
# those options would then leak into it; ON_ERROR_STOP makes psql fail instead.

: "${BALLOTFLOW_DB_PASSWORD:?BALLOTFLOW_DB_PASSWORD is required}"
: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD is required}"

# Passwords go in as psql variables (:'name' quotes them as SQL literals), so a
# quote in a password cannot break out of the statement.
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
	-v ballotflow_pw="$BALLOTFLOW_DB_PASSWORD" -v temporal_pw="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE ballotflow LOGIN PASSWORD :'ballotflow_pw';
-- CREATEDB: temporal-sql-tool's create-database step checks the privilege even
-- when the database already exists.
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_pw';
CREATE DATABASE ballotflow OWNER ballotflow;
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
SQL
