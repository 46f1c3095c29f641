#!/usr/bin/env bash
# The control file is the one version source; META.json, the built
# install script and debian/changelog must agree with it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
v=$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" "$top/pg_perfaudit.control")
meta=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["version"], m["provides"]["pg_perfaudit"]["version"])' "$top/META.json" 2>/dev/null \
       || perl -MJSON::PP -e 'local $/; open F, $ARGV[0]; my $m = decode_json(<F>); print "$m->{version} $m->{provides}{pg_perfaudit}{version}\n"' "$top/META.json")
[ "$meta" = "$v $v" ] || { echo "version mismatch: control $v, META.json $meta" >&2; exit 1; }
[ -f "$top/pg_perfaudit--$v.sql" ] || { echo "pg_perfaudit--$v.sql was not built" >&2; exit 1; }
grep -q "pg_perfaudit--$v.sql" "$top/pg_perfaudit--$v.sql" || { echo "install script header does not name $v" >&2; exit 1; }
# debian/changelog's top entry: the upstream part of its version (no epoch, no revision).
deb=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$top/debian/changelog")
deb=${deb#*:}
[ "${deb%-*}" = "$v" ] || { echo "version mismatch: control $v, debian/changelog ${deb:-(none)}" >&2; exit 1; }
# The client helpers: clients/python (perfaudit.__version__, which
# pyproject.toml reads), clients/ruby (Perfaudit::VERSION, which the
# gemspec reads).
grep -q '^version = { attr = "perfaudit.__version__" }$' "$top/clients/python/pyproject.toml" && py_project=$v ||
    py_project="(not perfaudit.__version__)"
py_module=$(sed -n 's/^__version__ = "\([^"]*\)"$/\1/p' "$top/clients/python/perfaudit/__init__.py")
rb=$(sed -n 's/^ *VERSION = "\([^"]*\)"$/\1/p' "$top/clients/ruby/lib/perfaudit/version.rb")
[ "$py_project $py_module $rb" = "$v $v $v" ] ||
    { echo "version mismatch: control $v, clients/python ${py_project:-?}/${py_module:-?}, clients/ruby ${rb:-?}" >&2; exit 1; }
echo "version $v: control, META.json, install script, debian/changelog and the client helpers agree"
