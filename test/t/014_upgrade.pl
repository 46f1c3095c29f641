# The upgrade path (the oldextversions pattern): for every earlier version
# that can be installed, CREATE EXTENSION at that version, use it with the
# current library (a server is upgraded before ALTER EXTENSION runs), then
# ALTER EXTENSION pg_perfaudit UPDATE: the objects are then exactly those
# of a fresh install of the current version (functions with their bodies,
# settings and privileges, tables with their columns, defaults, policies,
# indexes and comments), the old data is intact, and it is usable.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_stat_statements,pg_perfaudit'
});
$node->start;

my $current = $node->safe_psql('postgres',
    q{SELECT default_version FROM pg_available_extensions WHERE name = 'pg_perfaudit'});
my @old = split /\n/, $node->safe_psql('postgres', qq{
    SELECT version FROM pg_available_extension_versions
     WHERE name = 'pg_perfaudit' AND version <> '$current' ORDER BY version});
ok(@old >= 1, "earlier versions to upgrade from: @old (current $current)");

# Everything that makes up the extension's objects, one line each.
my $catalog = q{
WITH objs AS (
  SELECT 'function ' || p.oid::regprocedure::text || ' returns ' || pg_get_function_result(p.oid)
         || ' ' || p.prokind::text || p.provolatile::text || p.proparallel::text || p.prosecdef::text
         || ' config=' || coalesce(array_to_string(p.proconfig, ','), '')
         || ' acl=' || coalesce(p.proacl::text, 'default')
         || ' src=' || md5(p.prosrc) || ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '')
    FROM pg_proc p WHERE p.pronamespace = 'perfaudit'::regnamespace
  UNION ALL
  SELECT 'relation ' || c.relname || ' ' || c.relkind::text || ' rls=' || c.relrowsecurity::text
         || ' acl=' || coalesce(c.relacl::text, 'default')
         || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '')
    FROM pg_class c WHERE c.relnamespace = 'perfaudit'::regnamespace
  UNION ALL
  SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
         || ' notnull=' || a.attnotnull::text || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
         || ' storage=' || a.attstorage::text || ' compression=' || a.attcompression::text
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE c.relnamespace = 'perfaudit'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'perfaudit'::regnamespace
  UNION ALL
  SELECT 'constraint ' || conrelid::regclass::text || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = 'perfaudit'::regnamespace
  UNION ALL
  SELECT 'policy ' || tablename || ' ' || policyname || ' ' || cmd || ' ' || roles::text || ' '
         || coalesce(qual, '') || ' ' || coalesce(with_check, '')
    FROM pg_policies WHERE schemaname = 'perfaudit'
  UNION ALL
  SELECT 'member ' || pg_describe_object(classid, objid, objsubid)
    FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
     AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_perfaudit')
  UNION ALL
  SELECT 'config ' || unnest(extconfig)::regclass::text FROM pg_extension WHERE extname = 'pg_perfaudit'
)
SELECT string_agg(o, E'\n' ORDER BY o COLLATE "C") FROM objs o(o)};

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION pg_perfaudit');
my $fresh = $node->safe_psql('fresh', $catalog);
ok(length($fresh) > 1000, 'the catalog of a fresh install');

for my $v (@old)
{
    my $db = "from_$v" =~ s/\W/_/gr;
    $node->safe_psql('postgres', qq{CREATE DATABASE "$db"});
    $node->safe_psql($db, qq{
        CREATE EXTENSION pg_perfaudit VERSION '$v';
        CREATE TABLE items (id int PRIMARY KEY, organization_id int NOT NULL, name text);
        INSERT INTO items SELECT g, g % 10, 'item ' || g FROM generate_series(1, 2000) g;
        ANALYZE items;
    });
    is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'pg_perfaudit'}),
       $v, "$v installed");

    # The current library with the old objects: a run, a benchmark, a baseline.
    my $before = $node->safe_psql($db, q{
        SELECT perfaudit.start('before the update') \gset
        SELECT name FROM items WHERE id = 1;
        SELECT name FROM items WHERE id = 2;
        SELECT name FROM items WHERE id = 3;
        SELECT name FROM items WHERE id = 4;
        SELECT name FROM items WHERE id = 5;
        SELECT count(*) FROM items;
        SELECT statements, findings FROM perfaudit.stop();
        SELECT iterations FROM perfaudit.benchmark('SELECT name FROM items WHERE organization_id = $1 AND id = 11', 20, 0, ARRAY['1'], 'lookup');
        SELECT perfaudit.save_baseline('before', (SELECT max(run_id) FROM perfaudit.runs)) > 0;
    });
    like($before, qr/^6\|[1-9]\d*\n20\nt$/m, "$v with the current library: a run (6 statements, with findings), a benchmark, a baseline");
    my $data = q{
        SELECT (SELECT string_agg(format('%s|%s|%s', run_id, label, statements), ',' ORDER BY run_id) FROM perfaudit.runs),
               (SELECT count(*) FROM perfaudit.run_statements),
               (SELECT string_agg(kind, ',' ORDER BY kind) FROM perfaudit.findings),
               (SELECT string_agg(format('%s|%s|%s', benchmark_id, label, cardinality(samples_ms)), ',') FROM perfaudit.benchmarks),
               (SELECT count(*) FROM perfaudit.baselines)};
    my $data_before = $node->safe_psql($db, $data);

    $node->safe_psql($db, 'ALTER EXTENSION pg_perfaudit UPDATE');
    is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'pg_perfaudit'}),
       $current, "$v updated to $current");
    my $updated = $node->safe_psql($db, $catalog);
    is($updated, $fresh, "$v -> $current: the objects are those of a fresh $current install")
        or diag(join "\n", grep { my $l = $_; !grep { $_ eq $l } split /\n/, $fresh } split /\n/, $updated);
    is($node->safe_psql($db, $data), $data_before, "$v -> $current: runs, statements, findings, benchmarks, baselines intact");

    # And what the new version adds works, on old and new runs alike.
    my $after = $node->safe_psql($db, q{
        SELECT perfaudit.start('after the update') \gset
        SELECT name FROM items WHERE organization_id = 3 AND id = 3;
        SELECT statements FROM perfaudit.stop();
        SELECT tenant_latency IS NOT NULL FROM perfaudit.runs WHERE label = 'after the update';
        SELECT perfaudit.report_html((SELECT min(run_id) FROM perfaudit.runs)) LIKE '<!DOCTYPE html>%';
        SELECT perfaudit.assert_no_regression('before', 100, (SELECT min(run_id) FROM perfaudit.runs), 1000);
    });
    is($after, "item 3\n1\nt\nt\nt", "$v -> $current: new runs, report_html() of an old run, the old baseline");
}

$node->stop;
done_testing();
