#!/bin/sh
# Creates ballotflow's Temporal namespace and registers the custom search
# attributes the ballot workflows upsert (workflows/api.go). The temporalio/server
# image, unlike the retired auto-setup image, creates no namespace by itself.
# Idempotent: existing namespace and attributes are left alone.
#
# Env: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE (both also read by the temporal CLI),
# TEMPORAL_NAMESPACE_RETENTION.
set -eu

ns=${TEMPORAL_NAMESPACE:-default}
retention=${TEMPORAL_NAMESPACE_RETENTION:-720h}
# name:type pairs; keep in step with workflows/api.go.
attributes="BallotStatus:Keyword County:Keyword ElectionId:Keyword"

# The compose healthcheck only sees the frontend port open; wait until every
# Temporal service answers.
attempt=1
until temporal operator cluster health >/dev/null 2>&1; do
	if [ "$attempt" -ge 60 ]; then
		echo "Temporal at $TEMPORAL_ADDRESS not healthy after $attempt attempts" >&2
		temporal operator cluster health
		exit 1
	fi
	attempt=$((attempt + 1))
	sleep 2
done

if temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
	echo "namespace $ns exists"
else
	temporal operator namespace create --namespace "$ns" --retention "$retention"
	echo "namespace $ns created, retention $retention"
fi

# Right after creation the namespace may not be in every service's cache yet.
attempt=1
until existing=$(temporal operator search-attribute list --namespace "$ns" 2>/dev/null); do
	if [ "$attempt" -ge 30 ]; then
		temporal operator search-attribute list --namespace "$ns"
		exit 1
	fi
	attempt=$((attempt + 1))
	sleep 2
done

for pair in $attributes; do
	name=${pair%%:*}
	type=${pair#*:}
	if printf '%s\n' "$existing" | grep -qw "$name"; then
		echo "search attribute $name exists"
		continue
	fi
	temporal operator search-attribute create --namespace "$ns" --name "$name" --type "$type"
	echo "search attribute $name ($type) created"
done
