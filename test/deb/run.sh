#!/usr/bin/env bash
# The Debian package (debian/): builds postgresql-15-perfaudit from a copy
# of the tree with dpkg-buildpackage, installs it with dpkg, checks what it
# ships, and runs the extension from it on a throwaway cluster: CREATE
# EXTENSION, a capture run with an N+1 loop of top-level statements, one of
# a PL/pgSQL loop (track = 'all'), and the 0.1.0 -> current upgrade path.
#
#     bash test/deb/run.sh        (as root on Debian 12)
#
# Installs what it is missing (test/provision.sh deb: debhelper, dpkg-dev,
# build-essential, fakeroot, postgresql-server-dev-all for pg_buildext).  The copy is what
# git lists in the tree, committed or not: `git ls-files --cached --others
# --exclude-standard`, so build products and ignored files stay behind
# (without git: the whole tree, which debian/rules clean then cleans).
#
# The installed extension is left as it was found.  test/run-tests.sh has
# installed the tree with `make install` before this runs, and the suites
# after it use those files; the package installs the same paths.  So the
# files the package will overwrite are saved first, the package is
# installed and tested, then purged and the saved files put back (no
# rebuild, and nothing is built or installed from the source tree itself).
# A package that was installed before the test is left installed (the new
# build).  Other processes that install the extension take the lock
# /tmp/pa-install.lock; when that file exists, it is held from the save to
# the restore.  test/run-tests.sh runs the sub-suites one after another.
#
# Exits non-zero on any failed check; the last line is "deb: N passed, M
# failed", and the same counts go to $PA_RESULTS/deb when
# test/run-tests.sh runs it (pa_result).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

. "$top/test/lib.sh"
pa_provision deb
pa_pg_paths

t_start=$(date +%s)
pkg=postgresql-$PG_MAJOR-perfaudit
v=$(pa_make_var EXTVERSION)
deb_version=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$top/debian/changelog")
source_name=$(sed -n '1s/^\([^ ]*\) .*/\1/p' "$top/debian/changelog")
debfile=${pkg}_${deb_version#*:}_$(dpkg --print-architecture).deb

n_pass=0 n_fail=0
check() {       # check DESCRIPTION CMD...: one test, CMD's exit status
    local what=$1
    shift
    if "$@"; then
        n_pass=$((n_pass + 1)); echo "ok $((n_pass + n_fail)) - $what"
    else
        n_fail=$((n_fail + 1)); echo "not ok $((n_pass + n_fail)) - $what"
    fi
}
finish() {
    echo "deb: $n_pass passed, $n_fail failed ($(( $(date +%s) - t_start )) s)"
    pa_result deb "$n_pass" "$n_fail"
    [ "$n_fail" -eq 0 ]
}

# --- cleanup: the cluster, the package, the saved files --------------------
pa_workdir pg_perfaudit-deb
installed=0     # 1 once dpkg -i ran: the cleanup purges and restores
was_installed=0
restore() {
    [ $installed -eq 1 ] || return 0
    installed=0
    if [ $was_installed -eq 1 ]; then
        echo "== $pkg was installed before the test: left installed ($deb_version)"
        return 0
    fi
    as_root dpkg --purge "$pkg" >"$work/purge.log" 2>&1 || { echo "dpkg --purge $pkg failed:"; cat "$work/purge.log"; }
    if [ -s "$work/saved.list" ]; then
        as_root tar -C / -xpf "$work/saved.tar" || echo "restoring the files the package replaced failed"
    fi
    echo "== $pkg purged; the $(wc -l <"$work/saved.list") files it had replaced restored"
}
cleanup() {
    pa_stop_cluster 60
    restore
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the copy and the build -----------------------------------------------
src=$work/build/$source_name-${v}
mkdir -p "$src"
if git -c safe.directory="$top" -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Deleted but not yet committed files are still listed: skip them.
    git -c safe.directory="$top" -C "$top" ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$top/$f" ] && printf '%s\0' "$f"; done |
        tar -C "$top" --null -T - -cf - | tar -C "$src" -xf -
else
    # Not a git work tree (an unpacked tarball): all of it, then what a
    # build there left (debian/rules clean runs make clean too).
    cp -a "$top/." "$src/"
    (cd "$src" && debian/rules clean) >"$work/preclean.log" 2>&1 || { cat "$work/preclean.log"; exit 1; }
fi
outside_debian() { (cd "$src" && find . -path ./debian -prune -o \( -type f -o -type l \) -print | sort); }
outside_debian >"$work/files.before"
echo "== building $debfile from a copy of the tree ($(wc -l <"$work/files.before") files outside debian/)"

t0=$(date +%s)
build_ok=0
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 && build_ok=1
echo "   dpkg-buildpackage -us -uc -b: $(( $(date +%s) - t0 )) s"
check "dpkg-buildpackage -us -uc -b succeeds" [ $build_ok -eq 1 ]
if [ $build_ok -ne 1 ]; then
    tail -n 40 "$work/build.log"
    finish
    exit 1
fi
deb=$work/build/$debfile
check "it built $debfile" [ -f "$deb" ]
if [ ! -f "$deb" ]; then
    ls -l "$work/build"
    finish
    exit 1
fi
others=()
for f in "$work/build"/*.deb; do [ "$f" = "$deb" ] || others+=("${f##*/}"); done
echo "   $(stat -c %s "$deb") bytes; also built: ${others[*]:-nothing else}"
outside_debian >"$work/files.after"
check "the build leaves no file outside debian/ in the tree" \
    diff -u "$work/files.before" "$work/files.after"
no_tests_ran() { ! grep -E -q 'pg_virtualenv|pg_regress|installcheck' "$work/build.log"; }
check "no tests ran during the build (override_dh_pgxs_test)" no_tests_ran
depends=$(dpkg-deb -f "$deb" Depends)
check "Depends names the server, postgresql-$PG_MAJOR ($depends)" \
    grep -q -E "(^|, )postgresql-$PG_MAJOR( |,|$)" <<<"$depends"

# --- install --------------------------------------------------------------
if [ -e /tmp/pa-install.lock ]; then
    exec 9>>/tmp/pa-install.lock
    flock -w 600 9 || { echo "/tmp/pa-install.lock: still held after 600 s"; exit 1; }
fi
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    was_installed=1
fi
# The regular files of the package that exist already (make install's):
# saved, to be put back after the purge.
dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -n 's|^\./|/|p' | grep -v '/$' |
    while IFS= read -r f; do [ -f "$f" ] && printf '%s\n' "${f#/}"; done >"$work/saved.list" || true
if [ -s "$work/saved.list" ]; then
    as_root tar -C / -cf "$work/saved.tar" -T "$work/saved.list"
fi
installed=1
install_ok=0
as_root dpkg -i "$deb" >"$work/install.log" 2>&1 && install_ok=1
check "dpkg -i $debfile" [ $install_ok -eq 1 ]
[ $install_ok -eq 1 ] || cat "$work/install.log"

dpkg -L "$pkg" >"$work/files.list" 2>/dev/null || true
listed() { grep -q -x -F "$1" "$work/files.list"; }
check "dpkg -L lists $pkglibdir/pg_perfaudit.so" listed "$pkglibdir/pg_perfaudit.so"
check "dpkg -L lists $sharedir/extension/pg_perfaudit.control" listed "$sharedir/extension/pg_perfaudit.control"
# The scripts the Makefile installs: the built ones (DATA_built: the
# install script and the upgrade scripts to this version) and the released
# ones of versions/ (DATA).
scripts=()
for f in $(pa_make_var DATA_built "$src") $(pa_make_var DATA "$src"); do scripts+=("${f##*/}"); done
missing=()
for f in "${scripts[@]}"; do listed "$sharedir/extension/$f" || missing+=("$f"); done
check "dpkg -L lists the ${#scripts[@]} SQL scripts (${scripts[*]})${missing:+; missing: ${missing[*]}}" \
    test ${#missing[@]} -eq 0 -a ${#scripts[@]} -ge 2
docs_listed() { listed "/usr/share/doc/$pkg/README.md.gz" && listed "/usr/share/doc/$pkg/changelog.gz"; }
check "dpkg -L lists README.md and CHANGELOG.md (as changelog) in /usr/share/doc/$pkg" docs_listed
verified() { [ -z "$(dpkg --verify "$pkg" 2>&1)" ]; }
check "dpkg --verify $pkg: the installed files are the package's" verified
echo "   $(grep -c -v '/$' "$work/files.list") paths, among them:"
grep -E '\.so$|\.control$|\.sql$|/doc/.*\.gz$' "$work/files.list" | sed 's/^/      /'

# --- the extension from the package ---------------------------------------
pa_start_cluster --preload pg_perfaudit
psql_su() { "$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres "$@"; }
q() { psql_su -d deb -c "$1" 2>&1; }
is() {      # is DESCRIPTION GOT WANT
    if [ "$2" = "$3" ]; then check "$1" true; else check "$1 (got '$2', want '$3')" false; fi
}

psql_su -d postgres -c 'CREATE DATABASE deb'
is "CREATE EXTENSION pg_perfaudit: version $v" \
    "$(q "CREATE EXTENSION pg_perfaudit; SELECT extversion FROM pg_extension WHERE extname = 'pg_perfaudit'")" "$v"
psql_su -d deb >/dev/null <<'SQL'
CREATE TABLE items (id int PRIMARY KEY, organization_id int NOT NULL, v text);
INSERT INTO items SELECT g, g % 4 + 1, 'item ' || g FROM generate_series(1, 400) g;
ANALYZE items;
SQL

# A run of top-level statements: one query for organization 2's items, then
# one query per item (12): 13 statements, one n_plus_one finding.
{
    echo "SELECT perfaudit.start('deb');"
    echo "SELECT id FROM items WHERE organization_id = 2 ORDER BY id LIMIT 12;"
    for id in $(seq 5 4 49); do
        echo "SELECT v FROM items WHERE organization_id = 2 AND id = $id;"
    done
    echo "SELECT 'run:' || run_id || ':' || statements FROM perfaudit.stop();"
} >"$work/capture.sql"
psql_su -d deb -f "$work/capture.sql" >"$work/capture.out" 2>&1 || cat "$work/capture.out"
run=$(sed -n 's/^run:\([0-9]*\):.*/\1/p' "$work/capture.out")
is "capture run 'deb': 13 statements" "$(sed -n 's/^run:[0-9]*://p' "$work/capture.out")" 13
is "run 'deb': one n_plus_one finding, tenant 2, its 12 calls" \
    "$(q "SELECT string_agg(kind || ' tenant ' || tenant || ' calls ' || calls, ', ') FROM perfaudit.findings
           WHERE run_id = ${run:-0} AND kind = 'n_plus_one'")" "n_plus_one tenant 2 calls 12"

# A PL/pgSQL loop, with nested statements tracked: the DO and its 20
# queries, one n_plus_one finding at nesting level 1.
out=$(psql_su -d deb 2>&1 <<'SQL'
SET perfaudit.track = 'all';
SELECT perfaudit.start('deb do');
DO $$
BEGIN
    FOR i IN 1..20 LOOP
        PERFORM v FROM items WHERE organization_id = 3 AND id = 4 * i + 2;
    END LOOP;
END $$;
SELECT 'run:' || run_id || ':' || statements FROM perfaudit.stop();
SQL
) || echo "$out"
run=$(sed -n 's/^run:\([0-9]*\):.*/\1/p' <<<"$out")
is "capture run 'deb do' (track = all): 21 statements" "$(sed -n 's/^run:[0-9]*://p' <<<"$out")" 21
is "run 'deb do': one n_plus_one finding, tenant 3, its 20 calls, nesting level 1" \
    "$(q "SELECT string_agg(kind || ' tenant ' || tenant || ' calls ' || calls || ' level ' || (detail->>'nesting_level'), ', ')
           FROM perfaudit.findings WHERE run_id = ${run:-0} AND kind = 'n_plus_one'")" "n_plus_one tenant 3 calls 20 level 1"
is "perfaudit.runs: the two runs are stored" \
    "$(q "SELECT string_agg(label || ' ' || statements, ', ' ORDER BY run_id) FROM perfaudit.runs")" "deb 13, deb do 21"

# The upgrade path the package ships: 0.1.0 (versions/), then ALTER
# EXTENSION ... UPDATE through the built upgrade script.
psql_su -d postgres -c 'CREATE DATABASE deb_upgrade'
is "CREATE EXTENSION pg_perfaudit VERSION '0.1.0', ALTER EXTENSION UPDATE: version $v" \
    "$(psql_su -d deb_upgrade -c "CREATE EXTENSION pg_perfaudit VERSION '0.1.0'" -c 'ALTER EXTENSION pg_perfaudit UPDATE' \
         -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_perfaudit'" 2>&1)" "$v"

pa_stop_cluster 60
restore
finish
