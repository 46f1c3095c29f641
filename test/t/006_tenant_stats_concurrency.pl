# Concurrent updates of the always-on tenant statistics: many backends
# counting into the same and into different tenants lose no call; a full
# table evicts the least active tenants while clients keep running; reset()
# under load neither crashes nor blocks the workload.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('tenantstats');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_stat_statements,pg_perfaudit'
perfaudit.max_tenants = 100
perfaudit.max_tenant_statements = 200
max_connections = 40
});
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION pg_perfaudit;
    CREATE EXTENSION pg_stat_statements;
    CREATE TABLE items (id int PRIMARY KEY, organization_id int NOT NULL, name text);
    INSERT INTO items SELECT g, g % 1000, 'item ' || g FROM generate_series(1, 20000) g;
    CREATE INDEX ON items (organization_id);
    ANALYZE items;
});

# 1. 16 clients x 500 statements over 40 tenants (with a $n parameter, so
# the tenant comes from the bound value of a prepared statement).
$node->safe_psql('postgres', 'SELECT perfaudit.reset(); SELECT pg_stat_statements_reset()');
$node->pgbench(
    '-n -M prepared -c 16 -j 2 -t 500', 0,
    [qr{processed: 8000/8000}], [qr{^$}], 'pgbench: 16 clients, 40 tenants',
    {
        'org.sql' => q{
\set org random(1, 40)
SELECT count(*) FROM items WHERE organization_id = :org;
}
    });

is($node->safe_psql('postgres', q{
    SELECT sum(calls) FROM perfaudit.tenant_stats
     WHERE tenant ~ '^[0-9]+$' AND tenant::int BETWEEN 1 AND 40}),
   '8000', 'tenant_stats: all 8000 calls counted, none lost to concurrency');
is($node->safe_psql('postgres', q{
    SELECT count(*) FROM perfaudit.tenant_stats
     WHERE tenant ~ '^[0-9]+$' AND tenant::int BETWEEN 1 AND 40}),
   '40', 'one entry per tenant');
is($node->safe_psql('postgres', q{
    SELECT s.calls = p.calls
      FROM (SELECT queryid, sum(calls) AS calls FROM perfaudit.tenant_statements
             WHERE tenant ~ '^[0-9]+$' AND tenant::int BETWEEN 1 AND 40
             GROUP BY queryid) s
      JOIN pg_stat_statements p USING (queryid)
     WHERE p.query LIKE 'SELECT count(*) FROM items WHERE organization_id%'}),
   't', 'tenant_statements agrees with pg_stat_statements on the queryid and its calls');
is($node->safe_psql('postgres', q{
    SELECT bool_and(p95_ms <= max_ms AND mean_ms <= max_ms AND rows = calls)
      FROM perfaudit.tenant_stats
     WHERE tenant ~ '^[0-9]+$' AND tenant::int BETWEEN 1 AND 40}),
   't', 'per-tenant figures consistent');

# 2. 1000 tenants into a 100-entry table: the least active are evicted.
$node->safe_psql('postgres', 'SELECT perfaudit.reset()');
# tenant 1 is busy (half the calls), the others are seen a few times each
$node->pgbench(
    '-n -M prepared -c 8 -j 2 -t 1000', 0,
    [qr{processed: 8000/8000}], [qr{^$}], 'pgbench: 8 clients, 1000 tenants',
    {
        'busy.sql@1' => q{
SELECT count(*) FROM items WHERE organization_id = 1;
},
        'many.sql@1' => q{
\set org random(2, 999)
SELECT count(*) FROM items WHERE organization_id = :org;
}
    });
# (first, before other statements are counted)
is($node->safe_psql('postgres',
    q{SELECT sum(calls) FROM perfaudit.tenant_stats WHERE tenant IS NOT NULL}),
   '8000', 'totals stay exact: tenants not admitted and evicted ones are counted in (other)');
my ($tenants, $max, $evictions) = split /\|/, $node->safe_psql('postgres',
    'SELECT tenants, max_tenants, evictions FROM perfaudit.tenant_stats_info()');
ok($tenants <= $max, "the table stays within max_tenants ($tenants <= $max)");
ok($evictions > 0, "evictions counted ($evictions)");
is($node->safe_psql('postgres',
    q{SELECT calls > 1000 FROM perfaudit.tenant_stats WHERE tenant = '1'}),
   't', 'the busiest tenant survives eviction with its counts');
ok($node->safe_psql('postgres',
    q{SELECT coalesce(sum(calls), 0) FROM perfaudit.tenant_stats WHERE tenant = '(other)'}) > 0,
   'an (other) row holds them');

# 2b. Admission: 90 busy tenants (50 calls each) fill most of the table,
# then 5000 tenants are seen once each: the busy tenants keep their rows
# with exact counts (one-off tenants do not push them out; they are
# counted in (other)); then a new busy tenant is admitted.
$node->safe_psql('postgres', 'SELECT perfaudit.reset()');
$node->safe_psql('postgres', q{
SET perfaudit.track = 'all';
DO $$ BEGIN FOR r IN 1..50 LOOP FOR i IN 1..90 LOOP
    PERFORM count(*) FROM items WHERE organization_id = i; END LOOP; END LOOP; END $$;
DO $$ BEGIN FOR i IN 1000..5999 LOOP
    PERFORM count(*) FROM items WHERE organization_id = i; END LOOP; END $$;
});
is($node->safe_psql('postgres', q{
    SELECT count(*) FILTER (WHERE calls = 50), count(*)
      FROM perfaudit.tenant_stats WHERE tenant ~ '^[0-9]+$' AND tenant::int <= 90}),
   '90|90', 'the 90 busy tenants keep their rows and exact counts');
my $oneoff = $node->safe_psql('postgres', q{
    SELECT count(*) FROM perfaudit.tenant_stats WHERE tenant ~ '^[0-9]+$' AND tenant::int >= 1000});
ok($oneoff <= 10, "one-off tenants took only the spare room, no busy tenant's place ($oneoff rows)");
my ($other, $evicted) = split /\|/, $node->safe_psql('postgres', q{
    SELECT (SELECT calls FROM perfaudit.tenant_stats WHERE tenant = '(other)'),
           (SELECT evictions FROM perfaudit.tenant_stats_info())});
ok($other >= 4990 && $other <= 5000, "the one-off tenants are counted in (other) ($other)");
ok($evicted <= 10, "few evictions ($evicted)");
$node->safe_psql('postgres', q{
SET perfaudit.track = 'all';
DO $$ BEGIN FOR r IN 1..300 LOOP
    PERFORM count(*) FROM items WHERE organization_id = 7777; END LOOP; END $$;
});
my $busy = $node->safe_psql('postgres',
    q{SELECT calls FROM perfaudit.tenant_stats WHERE tenant = '7777'});
ok($busy ne '' && $busy >= 150, "a new busy tenant is admitted (" . ($busy || 'absent') . " of its 300 calls its own)");
is($node->safe_psql('postgres',
    q{SELECT sum(calls) FROM perfaudit.tenant_stats WHERE tenant IS NOT NULL}),
   '9800', 'totals exact: 4500 + 5000 + 300');

# 2c. Bounds hold with statements the table has no room for (every IN-list
# length is its own queryid): 1600 distinct statements of one tenant into
# 200 rows; and statements without a tenant are the NULL row, not
# (other), in a database first seen after the tables filled.
$node->safe_psql('postgres', q{
SET perfaudit.track = 'all';
DO $$ BEGIN FOR a IN 1..40 LOOP FOR b IN 1..40 LOOP
    EXECUTE 'SELECT ' || array_to_string(array_fill(1, ARRAY[b]), ',') ||
            ' FROM items WHERE organization_id = 1 AND id IN (' ||
            array_to_string(array_fill(1, ARRAY[a]), ',') || ')';
END LOOP; END LOOP; END $$;
});
my ($nt, $mt, $ns, $ms) = split /\|/, $node->safe_psql('postgres',
    'SELECT tenants, max_tenants, tenant_statements, max_tenant_statements FROM perfaudit.tenant_stats_info()');
ok($nt <= $mt && $ns <= $ms, "both tables within their bounds ($nt <= $mt, $ns <= $ms)");
$node->safe_psql('postgres', 'CREATE DATABASE other_db');
$node->safe_psql('other_db', 'SELECT 1; SELECT 2; SELECT 3; SELECT 4');
is($node->safe_psql('postgres', q{
    SELECT string_agg(coalesce(tenant, 'NULL'), ',' ORDER BY tenant NULLS FIRST)
      FROM perfaudit.tenant_stats WHERE database = 'other_db'}),
   'NULL', 'a new database\'s statements without a tenant are its NULL row');

# 3. reset() in a loop while 12 clients run: no crash, no error.
$node->pgbench(
    '-n -M prepared -c 12 -j 2 -T 3', 0,
    [qr{processed: \d+}], [qr{^$}], 'pgbench with concurrent reset()',
    {
        'work.sql@20' => q{
\set org random(1, 500)
SELECT count(*) FROM items WHERE organization_id = :org;
},
        'reset.sql@1' => q{
SELECT perfaudit.reset();
SELECT count(*) FROM perfaudit.tenant_stats;
}
    });
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'server alive after reset under load');
ok(!grep(/terminated by signal|TRAP|PANIC/, slurp_file($node->logfile)),
    'no backend crashed');

$node->stop;
done_testing();
