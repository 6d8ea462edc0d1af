#!/bin/sh
# A throw-away PostgreSQL cluster for the tests (the *_pg entries of ctest,
# docs/server.md "Database").
# Usage: scripts/pg/cluster.sh start DIR | stop DIR | url DIR [DBNAME]
#   start: a fresh cluster in DIR/data (any earlier one there stopped and
#          removed), run by an unprivileged user (root: `nobody`, as initdb
#          refuses root), listening on a Unix socket only (no TCP), in a
#          directory of its own whose path is written to DIR/host; trust
#          authentication for the cluster's superuser `omc`, on that socket.
#   stop:  stop it and remove DIR and the socket's directory.
#   url:   the libpq URI of database DBNAME (default postgres) in it.
set -eu

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
	echo "usage: $0 start|stop|url DIR [DBNAME]" >&2
	exit 2
}

bindir() {
	for d in "$(pg_config --bindir 2>/dev/null || true)" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	echo "cluster.sh: no initdb/pg_ctl found: install postgresql (scripts/deps.sh test)" >&2
	return 1
}

# Run as the cluster's owner: ourselves, or nobody when we are root.
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u nobody -- "$@"
	else
		"$@"
	fi
}

stop_cluster() {
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w -t 120 stop >/dev/null 2>&1 || true
	fi
	if [ -f "$dir/host" ]; then
		sock=$(cat "$dir/host")
		case "$sock" in /tmp/omc-pg.*) rm -rf "$sock" ;; esac
	fi
	rm -rf "$dir"
}

case "$cmd" in
start)
	bin=$(bindir)
	stop_cluster
	mkdir -p "$dir"
	# The socket's path must fit sun_path (107 bytes): a short directory.
	sock=$(mktemp -d /tmp/omc-pg.XXXXXX)
	if [ "$(id -u)" = 0 ]; then
		chown nobody "$dir" "$sock"
	fi
	chmod 755 "$dir" "$sock"
	as_owner "$bin/initdb" -D "$dir/data" -U omc --auth=trust -E UTF8 --locale=C.UTF-8 --no-instructions \
		>"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		exit 1
	}
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 120 \
		-o "-c listen_addresses='' -k $sock -c unix_socket_permissions=0777 -c max_connections=200" start \
		>/dev/null || {
		cat "$dir/data/server.log" >&2
		exit 1
	}
	echo "$sock" >"$dir/host"
	echo "cluster.sh: PostgreSQL up in $dir, socket in $sock"
	;;
stop)
	stop_cluster
	;;
url)
	echo "postgresql:///${3:-postgres}?host=$(cat "$dir/host")&user=omc"
	;;
*)
	echo "usage: $0 start|stop|url DIR [DBNAME]" >&2
	exit 2
	;;
esac
