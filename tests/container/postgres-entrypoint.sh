#!/bin/sh
# Initializes the cluster on first start (POSTGRES_USER with POSTGRES_PASSWORD,
# database POSTGRES_DB), then runs PostgreSQL listening on every interface.
set -eu
data=/var/lib/postgresql/data
if [ ! -s "$data/PG_VERSION" ]; then
	pw=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pw"
	initdb -D "$data" --username="$POSTGRES_USER" --pwfile="$pw" -E UTF8 --locale=C \
		--auth-local=trust --auth-host=scram-sha-256 >/dev/null
	rm -f "$pw"
	printf "listen_addresses = '*'\n" >>"$data/postgresql.conf"
	printf 'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' \
		>>"$data/pg_hba.conf"
	db=${POSTGRES_DB:-$POSTGRES_USER}
	if [ "$db" != postgres ]; then
		pg_ctl -D "$data" -o "-c listen_addresses=''" -w start >/dev/null
		psql -X -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres \
			-c "CREATE DATABASE \"$db\" OWNER \"$POSTGRES_USER\""
		pg_ctl -D "$data" -m fast -w stop >/dev/null
	fi
fi
exec postgres -D "$data"
