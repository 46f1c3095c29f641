# Shell functions shared by the test, demo and benchmark scripts (sourced,
# not run).  They need bash.

# pa_install PACKAGE...: installs with apt-get those of the Debian packages
# that are not installed; as root, or through sudo.
pa_install() {
    local need=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
            need+=("$pkg")
    done
    [ ${#need[@]} -eq 0 ] && return 0
    echo "== installing: ${need[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null; then
            echo "missing packages and not root: apt-get install ${need[*]}" >&2
            return 1
        fi
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

# pa_workdir NAME: a fresh directory for a throwaway cluster, /tmp/NAME.XXXXXX,
# in $work (mode 0700, owned by postgres when run as root: the clusters use
# trust authentication, so no other local user may reach their socket;
# root still can); $run_as
# runs a command as the user the cluster runs as (PostgreSQL refuses root);
# $port is a random port number (with listen_addresses = '' it only names
# the socket in $work).
pa_workdir() {
    work=$(mktemp -d "/tmp/$1.XXXXXX")     # /tmp: a socket path is at most 107 bytes
    chmod 700 "$work"
    run_as=()
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$work"
        run_as=(runuser -u postgres --)
    fi
    port=$(( 20000 + RANDOM % 20000 ))
}

# pa_start_cluster: initdb in $work/data and start it with both libraries
# preloaded, listening only on the socket in $work (port $port); each
# argument is one more postgresql.conf line.  pa_stop_cluster stops it
# (harmless when it never started).
pa_start_cluster() {
    local bindir=/usr/lib/postgresql/${PG_MAJOR:-15}/bin
    "${run_as[@]}" "$bindir/initdb" -D "$work/data" -U postgres -A trust -E UTF8 --locale=C \
        --no-sync >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; return 1; }
    {
        cat <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$work'
unix_socket_permissions = 0700
shared_preload_libraries = 'pg_stat_statements,pg_perfaudit'
compute_query_id = auto
jit = off
CONF
        [ $# -eq 0 ] || printf '%s\n' "$@"
    } >>"$work/data/postgresql.conf"
    "${run_as[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null ||
        { cat "$work/server.log" >&2; return 1; }
}
pa_stop_cluster() {
    [ -f "$work/data/postmaster.pid" ] || return 0
    "${run_as[@]}" "/usr/lib/postgresql/${PG_MAJOR:-15}/bin/pg_ctl" -D "$work/data" -m fast -w stop \
        >/dev/null 2>&1 || true
}

# pa_pg_source: prints the directory of the PostgreSQL 15.18 source tree
# (Debian's postgresql-15 source package, patches applied), fetching it with
# apt-get source into $PA_CACHE (default /var/cache/pg_perfaudit) the first
# time: deb-src is added to Debian's sources file (idempotently), and the
# packages the builds need (bison, flex, dpkg-dev to unpack, zlib, ICU) are
# installed.  The tree is kept pristine: the scripts build in separate
# (VPATH) directories.  Needs root the first time.
PA_PG_SOURCE_VERSION=${PA_PG_SOURCE_VERSION:-15.18-0+deb12u1}
pa_pg_source() {
    local cache=${PA_CACHE:-/var/cache/pg_perfaudit} upstream=${PA_PG_SOURCE_VERSION%%-*}
    local dir=$cache/postgresql-15-$upstream sources=/etc/apt/sources.list.d/debian.sources
    if [ -f "$dir/configure" ]; then echo "$dir"; return 0; fi
    pa_install bison flex dpkg-dev zlib1g-dev libicu-dev pkg-config gcc make >&2 || return 1
    if [ -f "$sources" ] && grep -q '^Types: deb$' "$sources"; then
        sed -i 's/^Types: deb$/Types: deb deb-src/' "$sources"
        apt-get update -qq >&2 || return 1
    fi
    mkdir -p "$cache"
    (cd "$cache" && apt-get source -qq "postgresql-15=$PA_PG_SOURCE_VERSION") >&2 ||
        { apt-get update -qq >&2 &&
          (cd "$cache" && apt-get source -qq "postgresql-15=$PA_PG_SOURCE_VERSION") >&2; } || return 1
    [ -f "$dir/configure" ] || { echo "no source tree in $dir" >&2; return 1; }
    echo "$dir"
}
