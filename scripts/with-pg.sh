#!/bin/sh
# Run a command beside a throwaway PostgreSQL: scripts/with-pg.sh CMD [ARG...]
#
# initdb's a fresh cluster in a mktemp folder under $TMPDIR (or /tmp), starts
# it listening only on a unix socket in that folder (no TCP port, so nothing
# can clash with another cluster or another run), creates database tvs_test,
# exports TVS_TEST_PG (a postgres:// URL naming that socket) and runs CMD.
# The server is stopped and the folder removed however CMD ends (trap), and
# CMD's exit status is ours.
#
# The server's binaries are Debian's (package postgresql: the newest
# /usr/lib/postgresql/N/bin), else initdb/pg_ctl on PATH, or PG_BINDIR. When
# there are none, CMD runs without TVS_TEST_PG and the PostgreSQL tests skip
# themselves; this script says so in one line. When there are some but the
# server does not start, that is a failure, never a skip: the log is shown,
# CMD still runs (without TVS_TEST_PG, so the other tests are unaffected) and
# the exit status is 1 whatever CMD's. A TVS_TEST_PG already set is used as
# it is (a server of your own) and nothing is started.
#
# initdb and postgres refuse to run as root, so under root (CI) the cluster
# belongs to an unprivileged user: PG_USER if set, else "postgres" (which the
# Debian package creates), else a system user "tvs-pg" made here. Clients
# connect as database superuser "tvs" by trust over the socket, which only
# that user and root can reach (the folder is mode 0700). The server runs with
# fsync off: it is scratch, and durability is SQLite's test, not this one's.
set -eu

log() { echo "with-pg: $*" >&2; }

[ $# -ge 1 ] || { echo "usage: $0 CMD [ARG...]" >&2; exit 2; }
if [ -n "${TVS_TEST_PG:-}" ]; then
	log "TVS_TEST_PG is set: using that server"
	exec "$@"
fi

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && bindir=$d
	done
fi
if [ -z "$bindir" ] && command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
	bindir=$(dirname "$(command -v initdb)")
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ] || [ ! -x "$bindir/postgres" ]; then
	log "SKIP PostgreSQL tests: no PostgreSQL server binaries (apt-get install postgresql, or set PG_BINDIR); TVS_TEST_PG unset"
	exec "$@"
fi

# as_pg CMD...: run CMD as the cluster's owner, from a folder it can read
if [ "$(id -u)" -eq 0 ]; then
	pguser=${PG_USER:-}
	if [ -z "$pguser" ]; then
		if id postgres >/dev/null 2>&1; then
			pguser=postgres
		else
			pguser=tvs-pg
			id "$pguser" >/dev/null 2>&1 ||
				useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$pguser"
		fi
	fi
	as_pg() { (cd / && runuser -u "$pguser" -- "$@"); }
else
	pguser=$(id -un)
	as_pg() { (cd / && "$@"); }
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/tvs-pg.XXXXXX")
stop() {
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}
trap 'rc=$?; stop; exit $rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# $1: what failed; $2: the log to show
fail() {
	log "FAIL: $1; running without TVS_TEST_PG, then failing"
	[ -z "${2:-}" ] || [ ! -f "$2" ] || tail -n 30 "$2" >&2
	return 1
}

# initdb, start, create the database; sets TVS_TEST_PG
start() {
	[ "$(id -u)" -ne 0 ] || chown "$pguser" "$dir" || return 1
	chmod 0700 "$dir"
	# a socket path must fit in sun_path (107 bytes)
	[ ${#dir} -le 80 ] || { fail "temporary folder path too long for a unix socket: $dir (set TMPDIR)"; return; }
	as_pg "$bindir/initdb" -D "$dir/data" -U tvs --auth=trust -E UTF8 --locale=C --no-sync \
		>"$dir/initdb.log" 2>&1 || { fail "initdb failed (as $pguser, $bindir)" "$dir/initdb.log"; return; }
	# the server writes its log itself, as $pguser, so it must create the file
	as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 60 \
		-o "-c listen_addresses= -k $dir -p 5432 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		start >"$dir/pg_ctl.log" 2>&1 ||
		{ fail "the server did not start (as $pguser, $bindir)" "$dir/data/server.log"; return; }
	# any client will do for one statement; the server's own folder has psql
	psql=$bindir/psql
	[ -x "$psql" ] || psql=psql
	"$psql" -X -q -v ON_ERROR_STOP=1 "postgres://tvs@/postgres?host=$dir&port=5432" \
		-c "CREATE DATABASE tvs_test" >"$dir/createdb.log" 2>&1 ||
		{ fail "CREATE DATABASE tvs_test failed" "$dir/createdb.log"; return; }
	TVS_TEST_PG="postgres://tvs@/tvs_test?host=$dir&port=5432"
	export TVS_TEST_PG
	log "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') in $dir as $pguser: TVS_TEST_PG=$TVS_TEST_PG"
}

pg_failed=
start || pg_failed=1
set +e
"$@"
rc=$?
[ -z "$pg_failed" ] || exit 1
exit $rc
