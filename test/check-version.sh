#!/usr/bin/env bash
# The control file is the one version source; META.json and the built
# install script must agree with it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
v=$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" "$top/pg_perfaudit.control")
meta=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["version"], m["provides"]["pg_perfaudit"]["version"])' "$top/META.json" 2>/dev/null \
       || perl -MJSON::PP -e 'local $/; open F, $ARGV[0]; my $m = decode_json(<F>); print "$m->{version} $m->{provides}{pg_perfaudit}{version}\n"' "$top/META.json")
[ "$meta" = "$v $v" ] || { echo "version mismatch: control $v, META.json $meta" >&2; exit 1; }
[ -f "$top/pg_perfaudit--$v.sql" ] || { echo "pg_perfaudit--$v.sql was not built" >&2; exit 1; }
grep -q "pg_perfaudit--$v.sql" "$top/pg_perfaudit--$v.sql" || { echo "install script header does not name $v" >&2; exit 1; }
echo "version $v: control, META.json and install script agree"
