# pg_perfaudit -- PGXS build
#
# The control file is the one version source: EXTVERSION is read from it, the
# install script is generated as pg_perfaudit--$(EXTVERSION).sql (from the
# parts in sql-src/) and the C code receives it as PA_EXTVERSION.  META.json is checked against it by
# test/check-version.sh (part of the test suite).

EXTENSION = pg_perfaudit
EXTVERSION = $(shell sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" $(EXTENSION).control)

MODULE_big = pg_perfaudit
OBJS = $(patsubst %.c,%.o,$(wildcard src/*.c))
PGFILEDESC = "pg_perfaudit - tenant-aware query auditing"

# The install script, and the upgrade scripts to this version (both built
# from sql-src/, below).
UPGRADES = $(patsubst sql-src/upgrade/%.sql,$(EXTENSION)--%.sql,$(wildcard sql-src/upgrade/*--$(EXTVERSION).sql))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql $(UPGRADES)
# The install and upgrade scripts of earlier versions as released (kept so
# that CREATE EXTENSION ... VERSION and every upgrade path can be tested:
# test/t/014_upgrade.pl).
DATA = $(wildcard versions/$(EXTENSION)--*.sql)
EXTRA_CLEAN = $(DATA_built)

PG_CONFIG ?= pg_config

# -Wextra's unused-parameter warning fires on every hook and callback whose
# signature core dictates; missing-field-initializers fires on PG's own
# struct-initialiser idioms ({NULL, 0, false}).  Everything else is an error.
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
PG_CPPFLAGS = -DPA_EXTVERSION=\"$(EXTVERSION)\"

REGRESS = setup capture nesting prepared utility parallel persist findings tenants benchmark concurrent baselines failure_modes misuse privileges text store live_rows tenant_texts tenant_lists cursors batches severity insert_tenants observed observed_rows red_team cleanup
REGRESS_OPTS = --temp-instance=./tmp_regress --temp-config=test/pg_perfaudit.conf

# Isolation specs (pg_isolation_regress): test/specs, test/expected.
ISOLATION = perfaudit_reset perfaudit_concurrent_runs
ISOLATION_OPTS = --inputdir=test --temp-instance=./tmp_isolation --temp-config=test/pg_perfaudit.conf --load-extension=pg_perfaudit

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild every object when a header
# changes (a struct that grew must not be read with the old layout).
$(OBJS): $(wildcard src/*.h)

# The install script is its parts joined in name order (the pg_cron way):
# sql-src/00_schema.sql first, the numbers say what follows what.  sed reads
# the files as one stream.  The directory is a prerequisite too, so that a
# part added, removed or renamed rebuilds the script.
SQL_PARTS = $(sort $(wildcard sql-src/*.sql))

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS) sql-src $(EXTENSION).control
	sed -e "s/@EXTVERSION@/$(EXTVERSION)/g" $(SQL_PARTS) > $@

# An upgrade script to this version is sql-src/upgrade/FROM--VERSION.sql
# (what changes beyond the code: tables, objects dropped) followed by the
# code parts, every function and view in them CREATE OR REPLACE: each
# function is written once, and an upgraded database gets what a fresh
# install has.  A released upgrade script is frozen into versions/.
SQL_CODE_PARTS = $(filter-out sql-src/00_%,$(SQL_PARTS))

$(UPGRADES): $(EXTENSION)--%.sql: sql-src/upgrade/%.sql $(SQL_CODE_PARTS) sql-src $(EXTENSION).control
	sed -e "s/@EXTVERSION@/$(EXTVERSION)/g" $< $(SQL_CODE_PARTS) > $@
