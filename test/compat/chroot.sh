#!/usr/bin/env bash
# The whole pg_regress, isolation and TAP suite against another PostgreSQL
# major, in a Debian chroot that has it: 17 in Debian 13 (trixie), 18 in
# sid.  Debian 12 packages only 15, and those servers need a newer C
# library than Debian 12's, so they run in a chroot made with debootstrap
# from Debian's archive (kept in /var/tmp/pg_perfaudit-chroot-SUITE and
# reused by later runs).  As root:
#
#     bash test/compat/chroot.sh 17
#     bash test/compat/chroot.sh 18
#
# About 2 minutes to make a chroot (once) and 2 to 3 for the suite.  The
# source tree is copied in (the committed tree with `git archive HEAD` in a
# git checkout, else the working tree).  Exit status of `make installcheck`.
#
# The server under test is the chroot's, so its paths are the chroot's:
# pg_config is found where Debian puts it for that major (lib.sh's
# pa_debian_pg_config, the same default as on the host), everything else is
# asked of that pg_config inside the chroot; the packages installed in the
# chroot are test/provision.sh's "installcheck" set for that major.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
major=${1:-}
case $major in
    17) suite=trixie ;;
    18) suite=sid ;;
    *) echo "usage: $0 17|18" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "$0 must run as root (debootstrap, chroot, mount)" >&2; exit 2; }

. "$top/test/lib.sh"
pa_provision chroot

root=/var/tmp/pg_perfaudit-chroot-$suite
read -ra pkgs <<<"$(PG_MAJOR=$major pa_provision --print installcheck)"
pgc=$(pa_debian_pg_config "$major")

# (Before the chroot exists its pg_config cannot be asked where the
# server is: Debian keeps it beside pg_config.)
if [ ! -x "$root$(dirname "$pgc")/postgres" ]; then
    echo "== debootstrap $suite into $root"
    rm -rf "$root"
    debootstrap --variant=minbase --include="$(PG_MAJOR=$major pa_provision --print build | tr ' ' ,),perl" \
        "$suite" "$root" http://deb.debian.org/debian >"$root.debootstrap.log" 2>&1 ||
        { tail -n 20 "$root.debootstrap.log"; exit 1; }
fi

mounted=()
cleanup() {
    local m i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        m=${mounted[$i]}
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
}
trap cleanup EXIT
for m in proc dev dev/pts dev/shm; do
    mount --bind "/$m" "$root/$m"
    mounted+=("$root/$m")
done

echo "== packages in the chroot"
# (Acquire::Check-Valid-Until: a frozen mirror of sid outlives its Release file's short validity)
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Check-Valid-Until=false update -qq
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
echo "   $(chroot "$root" "$(chroot "$root" "$pgc" --bindir)/postgres" --version)"

rm -rf "$root/build"
mkdir -p "$root/build"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$top" archive HEAD | tar -x -C "$root/build"
    echo "== tree: $(git -C "$top" rev-parse --short HEAD)"
else
    tar -C "$top" -c --exclude='*.o' --exclude='*.so' . | tar -x -C "$root/build"
fi
chroot "$root" bash -c "cd /build && make -s PG_CONFIG=$pgc && make -s install PG_CONFIG=$pgc && chown -R postgres /build"
echo "== make installcheck (PostgreSQL $major)"
set +e
chroot "$root" su postgres -s /bin/bash -c "cd /build && make installcheck PG_CONFIG=$pgc" 2>&1 |
    tee "$root/build/installcheck.log" |
    grep -E '^(ok|not ok) |tests (passed|failed)|^test/t/|^Result|^Files='
status=${PIPESTATUS[0]}
set -e
if [ -f "$root/build/regression.diffs" ]; then
    echo "== regression.diffs"; head -n 80 "$root/build/regression.diffs"
fi
exit "$status"
