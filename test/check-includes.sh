#!/usr/bin/env bash
# Fails when the modules of src/ depend on each other in a cycle.
#
# A module is a base name: src/X.c and src/X.h.  X depends on Y when
# src/X.c or src/X.h includes "Y.h" (a header of src/).  A C file cannot
# call what it does not include (the build has -Werror), so an include
# cycle is the only way two modules can call each other.  tsort(1) reports
# a cycle ("input contains a loop"); the check prints the edges and fails.
#
#   bash test/check-includes.sh [SRC_DIR]       exit 0: no cycle
set -euo pipefail

src=${1:-$(cd "$(dirname "$0")/.." && pwd)/src}
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT

for f in "$src"/*.c "$src"/*.h; do
    from=$(basename "$f"); from=${from%.*}
    echo "$from $from" >>"$edges"            # every module appears
    sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"/]*\)\.h".*/\1/p' "$f" |
        while read -r to; do
            [ -f "$src/$to.h" ] || continue   # not ours
            [ "$to" = "$from" ] && continue
            echo "$from $to"
        done >>"$edges"
done

if ! out=$(tsort "$edges" 2>&1 >/dev/null) || [ -n "$out" ]; then
    echo "check-includes: include cycle between src/ modules (each loop, as tsort lists it):" >&2
    echo "$out" | sed -e 's/^tsort: //' -e 's/^.*input contains a loop:$/  loop:/' \
        -e 's/^\([a-z_0-9]*\)$/    \1/' >&2
    exit 1
fi
n=$(sort -u "$edges" | awk '$1 != $2' | wc -l)
m=$(ls "$src"/*.c "$src"/*.h | sed 's/\.[ch]$//' | sort -u | wc -l)
echo "check-includes: $m modules, $n dependencies, no cycle"
