# Failure modes of docs/reliability.md's table that need a real server
# around the test rather than one psql session:
#   2  a statement cancelled from another session leaves the next one
#      counted at top level for the right tenant;
#   9  the extended protocol (pgbench -M extended: unnamed statements,
#      parameters bound per execution) is captured exactly;
#  10  CREATE EXTENSION as the first statement of a fresh backend;
#  16  a server started with log_min_messages = debug5 and a captured
#      workload (our code paths that log while holding nothing);
#  18  DROP EXTENSION while other sessions are capturing, CREATE again,
#      and pg_dump / restore of a database that has the extension and runs;
#  24  a foreign scan (postgres_fdw to this server) is neither a seq scan
#      nor a crash.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('lifecycle');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_stat_statements,pg_perfaudit'
log_min_messages = debug5
});
$node->start;

# 10. The very first statement of a fresh backend.
$node->safe_psql('postgres', 'CREATE EXTENSION pg_perfaudit');
$node->safe_psql('postgres', q{
    SET client_min_messages = warning;
    CREATE TABLE items (id int PRIMARY KEY, organization_id int NOT NULL, name text);
    INSERT INTO items SELECT g, g % 10, 'item ' || g FROM generate_series(1, 1000) g;
    ANALYZE items;
});
is($node->safe_psql('postgres', q{
    SET client_min_messages = warning;
    SELECT extname FROM pg_extension WHERE extname = 'pg_perfaudit'}),
   'pg_perfaudit', 'CREATE EXTENSION as the first statement of a backend (debug5 logging on)');

# 2. A statement cancelled from another session.
my $s = $node->background_psql('postgres', on_error_stop => 0);
$s->query_safe(q{SET client_min_messages = warning});
$s->query_safe(q{SET perfaudit.tenant_setting = 'app.org'});
$s->query_safe(q{SET app.org = '4'});
my $run = $s->query_safe(q{SELECT perfaudit.start('cancelled')});
$s->query_until(qr/sleeping/, q{
\echo sleeping
SELECT pg_sleep(60);
});
ok($node->poll_query_until('postgres', q{
    SELECT count(*) = 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60);' AND wait_event = 'PgSleep'}),
   'a statement is running');
$node->safe_psql('postgres', q{
    SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60);'});
my ($out, $failed) = $s->query(q{SELECT name FROM items WHERE id = 1});
like($s->{stderr}, qr/canceling statement due to user request/, 'cancelled');
$s->{stderr} = '';
$s->query_safe(q{SELECT name FROM items WHERE id = 2});
$s->query_safe(q{SELECT perfaudit.stop()});
$s->quit;
is($node->safe_psql('postgres', qq{
    SELECT string_agg(format('%s|%s|%s', calls, tenant, nesting_level), ',' ORDER BY query)
      FROM perfaudit.run_statements WHERE run_id = $run}),
   '2|4|0', 'after the cancel: the next statements counted at top level for tenant 4');

# 9. The extended protocol, unnamed statements: a database-scope run sees
# exactly the executions pgbench made, each with its tenant.
my $owner = $node->background_psql('postgres');
$owner->query_safe(q{SET client_min_messages = warning});
$run = $owner->query_safe(q{SELECT perfaudit.start('extended', 'database')});
$node->pgbench(
    '-n -M extended -c 2 -j 2 -t 40', 0,
    [qr{processed: 80/80}], [qr{^$}], 'pgbench -M extended workload',
    {
        'lookup.sql' => q{
\set org random(0, 9)
SELECT count(*) FROM items WHERE organization_id = :org;
}
    });
$owner->query_safe(q{SELECT perfaudit.stop()});
$owner->quit;
is($node->safe_psql('postgres', qq{
    SELECT sum(calls), bool_and(tenant ~ '^[0-9]\$'), count(DISTINCT queryid)
      FROM perfaudit.run_statements WHERE run_id = $run AND query LIKE 'SELECT count(*) FROM items%'}),
   '80|t|1', 'extended protocol: 80 executions, each with its tenant, one statement');

# 24. A foreign scan through postgres_fdw to this very server.
my $host = $node->host;
my $port = $node->port;
$node->safe_psql('postgres', qq{
    SET client_min_messages = warning;
    CREATE EXTENSION postgres_fdw;
    CREATE SERVER loopback FOREIGN DATA WRAPPER postgres_fdw
        OPTIONS (host '$host', port '$port', dbname 'postgres');
    CREATE USER MAPPING FOR CURRENT_USER SERVER loopback;
    CREATE FOREIGN TABLE items_remote (id int, organization_id int, name text)
        SERVER loopback OPTIONS (table_name 'items');
});
is($node->safe_psql('postgres', q{
    SET client_min_messages = warning;
    SET perfaudit.seq_scan_min_rows = 1;
    SELECT perfaudit.start('fdw') \gset
    SELECT count(*) FROM items_remote WHERE name LIKE 'item 1%';
    SELECT statements FROM perfaudit.stop();
    SELECT seq_scans FROM perfaudit.run_statements
     WHERE run_id = :start AND query LIKE '%items_remote%';
    SELECT count(*) FROM perfaudit.findings WHERE run_id = :start AND kind = 'seq_scan';
}), "112\n1\n0\n0", 'foreign scan: counted, not a seq scan, no finding');

# 18. DROP EXTENSION while other sessions are capturing; the sessions
# notice nothing, the extension installs again, and the runs that were
# active are stored into the new tables when they stop.
my @busy;
for my $i (1 .. 3)
{
    my $b = $node->background_psql('postgres', on_error_stop => 0);
    $b->query_safe(q{SET client_min_messages = warning});
    $b->query_safe(qq{SELECT perfaudit.start('busy $i')});
    $b->query_until(qr/looping/, q{
\echo looping
DO $$ BEGIN FOR i IN 1..150 LOOP PERFORM name FROM items WHERE id = i; PERFORM pg_sleep(0.01); END LOOP; END $$;
});
    push @busy, $b;
}
ok($node->poll_query_until('postgres', q{
    SELECT count(*) = 3 FROM pg_stat_activity WHERE query LIKE 'DO $$ BEGIN FOR i IN 1..150%'}),
   'three sessions are capturing a loop');
$node->safe_psql('postgres', q{SET client_min_messages = warning; DROP EXTENSION pg_perfaudit});
$node->safe_psql('postgres', q{SET client_min_messages = warning; CREATE EXTENSION pg_perfaudit});
for my $b (@busy)
{
    $b->query_safe(q{SELECT perfaudit.stop()});
    is($b->{stderr}, '', 'a capturing session saw no error while the extension was dropped and created');
    $b->quit;
}
is($node->safe_psql('postgres', q{
    SELECT string_agg(label || ':' || statements, ',' ORDER BY label) FROM perfaudit.runs}),
   'busy 1:1,busy 2:1,busy 3:1', 'the runs active across DROP and CREATE are stored, each with its loop');
my $after = $node->safe_psql('postgres', q{
    SET client_min_messages = warning;
    SELECT perfaudit.start('after re-create') \gset
    SELECT name FROM items WHERE id = 5;
    SELECT statements FROM perfaudit.stop();
});
like($after, qr/^item 5\n1$/, 'a run after DROP and CREATE EXTENSION works');
is($node->safe_psql('postgres', q{
    SELECT (SELECT run_id FROM perfaudit.runs WHERE label = 'after re-create') >
           (SELECT max(run_id) FROM perfaudit.runs WHERE label LIKE 'busy %')}),
   't', 'the new sequence moved past the ids of the runs stored from before DROP (no collision)');

# 18. pg_dump and restore of a database that has the extension and runs.
my $dump = $node->basedir . '/dump.sql';
$node->command_ok([ 'pg_dump', '-h', $host, '-p', $port, '-f', $dump, 'postgres' ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', $host, '-p', $port,
                    '-d', 'restored', '-f', $dump ], 'restore into a new database');
my $source_runs = $node->safe_psql('postgres', 'SELECT count(*) || \'|\' || max(run_id) FROM perfaudit.runs');
is($node->safe_psql('restored', q{
    SELECT count(*) || '|' || max(run_id) FROM perfaudit.runs}),
   $source_runs, 'restored: the runs are dumped with the extension (pg_extension_config_dump)');
is($node->safe_psql('restored', q{
    SET client_min_messages = warning;
    SELECT perfaudit.start('in restored') \gset
    SELECT count(*) FROM items WHERE organization_id = 3;
    SELECT statements FROM perfaudit.stop();
}), "100\n1", 'a run in the restored database works');
ok($node->safe_psql('restored', 'SELECT max(run_id) FROM perfaudit.runs') > (split /\|/, $source_runs)[1],
   'restored: run ids continue after the dumped ones');

# Nothing crashed, and debug5 logging did not trip anything.
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|TRAP:|PANIC/, 'no backend crashed');

$node->stop;
done_testing();
