# shellcheck shell=bash
# Shared functions of scripts/run and scripts/test.  Source it; do not run it.
#
#   ensure_packages [EXTRA_PKG...]      install what is missing (Debian 12, apt-get)
#   ensure_console_deps                 node and npm (installed if missing), then
#                                       console/node_modules from package-lock.json
#   build_dir DIR [MESON_OPTION...]     meson setup (once, or again when the options
#                                       change) and meson compile
#   build_fuzz_dir DIR                  the same with clang, -Dfuzz=true and the
#                                       sanitizers; compiles only the fuzz targets
#   free_port                           print a TCP port nobody listens on
#   pg_bin_dir                          print the newest /usr/lib/postgresql/N/bin
#   pg_runas                            print the user that runs PostgreSQL ("" = me)
#   pg_resolve_datadir PATH             make PATH usable as a cluster directory
#                                       (may turn it into a symlink) and print the
#                                       real directory
#   pg_start [--no-fsync] DATADIR PORT  initdb if needed, start, wait; reuse a
#                                       running cluster.  Sets PG_PORT.
#   pg_stop DATADIR                     stop the cluster if it runs
#   pg_url PORT DB                      print postgresql://allot@127.0.0.1:PORT/DB
#
# The clusters are private: superuser "allot", trust authentication, listening on
# 127.0.0.1 and on a unix socket inside the cluster directory only.

# The packages to build allotd and to run it against a private PostgreSQL.
ALLOT_BUILD_PACKAGES=(
	build-essential meson ninja-build pkg-config
	libmicrohttpd-dev libgnutls28-dev libjansson-dev libpq-dev libssl-dev libcurl4-openssl-dev
	libsystemd-dev postgresql postgresql-contrib curl openssl
)
# scripts/test also validates docker/compose.yaml (docker-compose), drives
# Debian's Chromium (the browser suite), builds and runs the image (the
# container suite: podman and its network, runc, the offline base made by
# debootstrap), verifies the systemd unit and lints the man pages (the install
# suite), and runs the libFuzzer targets (clang, and its sanitizer and
# libFuzzer runtimes); bench/ needs wrk.  (Used by the scripts that source
# this file.)
# shellcheck disable=SC2034
ALLOT_FUZZ_PACKAGES=(clang libclang-rt-14-dev)
# shellcheck disable=SC2034
ALLOT_TEST_PACKAGES=(
	docker-compose chromium podman podman-compose runc netavark aardvark-dns iptables debootstrap
	systemd groff-base man-db python3-prometheus-client "${ALLOT_FUZZ_PACKAGES[@]}"
)
# shellcheck disable=SC2034
ALLOT_BENCH_PACKAGES=(wrk postgresql-contrib)

# The PostgreSQL superuser of a private cluster.
ALLOT_PG_USER=allot

log() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
}

die() {
	log "error: $*"
	exit 1
}

# Runs a command as root: directly, or with sudo (non-interactive when there is
# no terminal to ask a password on).
as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif [[ -t 0 ]]; then
		sudo "$@"
	else
		sudo -n "$@"
	fi
}

# ensure_packages [EXTRA_PKG...]: installs the build packages and the extra ones
# that are not installed yet.  A no-op (no apt-get at all) when nothing is missing.
ensure_packages() {
	local pkg status
	local -a missing=()

	if ! command -v dpkg-query >/dev/null 2>&1; then
		log "not a Debian system: install by hand: ${ALLOT_BUILD_PACKAGES[*]} $*"
		return 0
	fi
	for pkg in "${ALLOT_BUILD_PACKAGES[@]}" "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
		if [[ $status != "install ok installed" ]]; then
			missing+=("$pkg")
		fi
	done
	if ((${#missing[@]} == 0)); then
		return 0
	fi

	log "installing ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends -o DPkg::Lock::Timeout=300 \
		"${missing[@]}" </dev/null
}

# ensure_console_deps: the console (console/) is built with Node.js: installs
# Debian's nodejs and npm when no node or npm is on PATH (a newer Node.js
# already installed is kept), then runs `npm ci` from console/package-lock.json
# when console/node_modules is missing or was installed from another lockfile.
# Nothing is fetched when node_modules is current.
ensure_console_deps() {
	local dir=${ALLOT_ROOT:?}/console stamp want
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		log "installing nodejs npm (to build the console)"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends -o DPkg::Lock::Timeout=300 nodejs npm </dev/null
	fi
	stamp=$dir/node_modules/.allot-lock.sha256
	want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
	if [[ -f $stamp && $(<"$stamp") == "$want" ]]; then
		return 0
	fi
	log "npm ci in console/ (from package-lock.json)"
	# --ignore-scripts: no package needs an install script (esbuild finds its
	# binary through its platform package).
	(cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) || return
	printf '%s\n' "$want" >"$stamp"
}

# build_dir DIR [MESON_OPTION...]: configures DIR with the options (once; again
# with --reconfigure when they change) and compiles it.
build_dir() {
	local dir=$1
	shift
	local stamp="$dir/.allot-setup-options"
	local wanted="$*"

	if [[ ! -f $dir/meson-private/coredata.dat ]]; then
		meson setup "$dir" "$@" || return
	elif [[ ! -f $stamp || $(<"$stamp") != "$wanted" ]]; then
		meson setup --reconfigure "$dir" "$@" || return
	fi
	printf '%s\n' "$wanted" >"$stamp"
	meson compile -C "$dir"
}

# build_fuzz_dir DIR: a clang build of the libFuzzer targets (tests/fuzz), with
# AddressSanitizer and UndefinedBehaviorSanitizer; only they are compiled.
build_fuzz_dir() {
	local dir=$1
	local -a opts=(-Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false)
	local stamp="$dir/.allot-setup-options"
	if ! command -v clang >/dev/null 2>&1; then
		log "clang is not installed (needed for the libFuzzer targets)"
		return 1
	fi
	if [[ ! -f $dir/meson-private/coredata.dat ]]; then
		CC=clang meson setup "$dir" "${opts[@]}" || return
	elif [[ ! -f $stamp || $(<"$stamp") != "${opts[*]}" ]]; then
		CC=clang meson setup --reconfigure "$dir" "${opts[@]}" || return
	fi
	printf '%s\n' "${opts[*]}" >"$stamp"
	meson compile -C "$dir" fuzz-targets
}

# port_is_free PORT: true when nothing listens on PORT (TCP, any address).
port_is_free() {
	local port=$1
	if command -v ss >/dev/null 2>&1; then
		# Any socket on the port counts, not only listeners: a client's local
		# port makes a server's bind fail just the same.
		[[ -z $(ss -tanH "sport = :$port" 2>/dev/null) ]]
	else
		! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
	fi
}
free_port() {
	# Below the kernel's ephemeral range (net.ipv4.ip_local_port_range), so no
	# client connection can take the port between this check and the bind.
	local low=20000 high=32767
	if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
		read -r high _ </proc/sys/net/ipv4/ip_local_port_range
		high=$((high - 1))
		((high > low + 1000)) || high=$((low + 1000))
	fi
	local span=$((high - low + 1)) start i port
	start=$((RANDOM % span))
	for ((i = 0; i < 500; i++)); do
		port=$((low + (start + i) % span))
		if port_is_free "$port"; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	log "no free TCP port found"
	return 1
}

# pg_bin_dir: the bin directory of the newest installed PostgreSQL.
pg_bin_dir() {
	local dir
	dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d \
		2>/dev/null | sort -V | tail -n 1)
	if [[ -z $dir || ! -x $dir/initdb ]]; then
		log "no PostgreSQL server found under /usr/lib/postgresql"
		return 1
	fi
	printf '%s\n' "$dir"
}

# pg_runas: initdb refuses to run as root, so root runs the cluster as the
# "postgres" system user (created by the postgresql package); anyone else runs it
# as themselves (prints nothing).
pg_runas() {
	if [[ $(id -u) -eq 0 ]]; then
		printf 'postgres\n'
	fi
}

# pg_as CMD...: runs CMD as the cluster's user, from "/" so that a working
# directory the postgres user cannot read does not matter.
pg_as() {
	local user
	user=$(pg_runas)
	if [[ -n $user ]]; then
		(cd / && runuser -u "$user" -- "$@")
	else
		"$@"
	fi
}

# pg_resolve_datadir PATH: prints the directory that holds the cluster meant to
# live at PATH.  That is PATH itself, unless the cluster's user cannot reach it
# (root with a repository under /root): then the cluster lives in
# /var/tmp/allot-pg-<hash of PATH>/ and PATH becomes a symlink to it.
pg_resolve_datadir() {
	local want=$1 parent user hash real
	if [[ -L $want ]]; then
		real=$(readlink "$want")
		mkdir -p "$real"
		printf '%s\n' "$real"
		return 0
	fi
	parent=$(dirname "$want")
	mkdir -p "$parent"
	parent=$(cd "$parent" && pwd -P)
	user=$(pg_runas)
	if [[ -z $user ]] || runuser -u "$user" -- test -x "$parent" 2>/dev/null; then
		printf '%s\n' "$parent/${want##*/}"
		return 0
	fi
	if [[ -e $want ]]; then
		die "$want exists but user $user cannot reach it; remove it"
	fi
	hash=$(printf '%s' "$parent/${want##*/}" | sha256sum | cut -c1-12)
	real=/var/tmp/allot-pg-$hash
	mkdir -p "$real"
	ln -s "$real" "$want"
	printf '%s\n' "$real"
}

# pg_running DATADIR: true when the cluster in DATADIR runs.
pg_running() {
	local datadir=$1 bin
	[[ -f $datadir/postmaster.pid ]] || return 1
	bin=$(pg_bin_dir) || return 1
	pg_as "$bin/pg_ctl" -D "$datadir" status >/dev/null 2>&1
}

# pg_conf_quote VALUE: VALUE as a postgresql.conf string.
pg_conf_quote() {
	printf "'%s'" "${1//\'/\'\'}"
}

# pg_start [--no-fsync] [--password-file FILE] DATADIR PORT: initializes the
# cluster in DATADIR if it is new, starts it on 127.0.0.1:PORT and waits until it
# answers.  A cluster that already runs is reused as it is.  Sets PG_PORT to the
# port it listens on.  --no-fsync is for throw-away clusters: a crash may
# corrupt them.  --password-file makes a new cluster require that password
# (scram-sha-256) instead of trusting every local connection.
pg_start() {
	local fsync=on pwfile=
	while [[ ${1:-} == --* ]]; do
		case $1 in
		--no-fsync) fsync=off ;;
		--password-file)
			pwfile=$2
			shift
			;;
		*) break ;;
		esac
		shift
	done
	local datadir=$1 port=$2
	local bin user socketdir initlog i
	bin=$(pg_bin_dir) || return
	user=$(pg_runas)

	if pg_running "$datadir"; then
		PG_PORT=$(sed -n 4p "$datadir/postmaster.pid")
		log "PostgreSQL already running in $datadir on port $PG_PORT"
		return 0
	fi

	mkdir -p "$datadir"
	chmod 700 "$datadir"
	if [[ -n $user ]]; then
		chown "$user:" "$datadir"
	fi
	if [[ ! -f $datadir/PG_VERSION ]]; then
		initlog=$(mktemp)
		local auth=(--auth=trust) pwcopy=
		if [[ -n $pwfile ]]; then
			# initdb runs as the cluster's user, who may not reach pwfile.
			pwcopy=$(mktemp)
			cat "$pwfile" >"$pwcopy"
			[[ -n $user ]] && chown "$user:" "$pwcopy"
			auth=(--auth=scram-sha-256 --pwfile="$pwcopy")
		fi
		if ! pg_as "$bin/initdb" -D "$datadir" "${auth[@]}" \
			--username="$ALLOT_PG_USER" -E UTF8 --locale=C >"$initlog" 2>&1; then
			cat "$initlog" >&2
			rm -f "$initlog" "$pwcopy"
			log "initdb failed in $datadir"
			return 1
		fi
		rm -f "$initlog" "$pwcopy"
		printf "\n# allot: the settings of each start\ninclude_if_exists = 'allot.conf'\n" \
			>>"$datadir/postgresql.conf"
	fi

	# A unix socket path is limited to about 107 bytes: without room for one,
	# the cluster listens on TCP only.
	socketdir=$datadir
	if ((${#socketdir} > 80)); then
		socketdir=
	fi
	{
		printf '# Written by scripts/lib/common.sh at each start.\n'
		printf 'listen_addresses = %s\n' "'127.0.0.1'"
		printf 'port = %s\n' "$port"
		printf 'unix_socket_directories = %s\n' "$(pg_conf_quote "$socketdir")"
		printf 'max_connections = 300\n'
		printf 'shared_buffers = 128MB\n'
		printf 'fsync = %s\n' "$fsync"
		if [[ $fsync == off ]]; then
			printf 'synchronous_commit = off\nfull_page_writes = off\n'
		fi
	} >"$datadir/allot.conf"
	if [[ -n $user ]]; then
		chown "$user:" "$datadir/allot.conf"
	fi

	if ! pg_as "$bin/pg_ctl" -D "$datadir" -l "$datadir/server.log" \
		-w -t 60 start >/dev/null; then
		tail -n 20 "$datadir/server.log" >&2 || true
		log "PostgreSQL did not start in $datadir (log: $datadir/server.log)"
		return 1
	fi
	for ((i = 0; i < 60; i++)); do
		if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
			PG_PORT=$port
			return 0
		fi
		sleep 0.5
	done
	log "PostgreSQL in $datadir does not answer on port $port"
	return 1
}

# pg_stop DATADIR: stops the cluster in DATADIR if it runs.
pg_stop() {
	local datadir=$1 bin
	pg_running "$datadir" || return 0
	bin=$(pg_bin_dir) || return
	pg_as "$bin/pg_ctl" -D "$datadir" -m fast -w -t 60 stop >/dev/null
}

# pg_url PORT DB [PASSWORD]: the connection URL of database DB of a private
# cluster.  The password is hex, so it needs no escaping in a URL.
pg_url() {
	if [[ -n ${3:-} ]]; then
		printf 'postgresql://%s:%s@127.0.0.1:%s/%s\n' "$ALLOT_PG_USER" "$3" "$1" "$2"
	else
		printf 'postgresql://%s@127.0.0.1:%s/%s\n' "$ALLOT_PG_USER" "$1" "$2"
	fi
}
