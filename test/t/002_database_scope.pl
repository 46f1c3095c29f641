# A database-scope run captures the statements of every backend of the
# database: here a pgbench workload over the extended protocol with
# prepared statements, driven from outside.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dbscope');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_stat_statements,pg_perfaudit'
pg_stat_statements.track = all
});
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION pg_perfaudit;
    CREATE EXTENSION pg_stat_statements;
    CREATE TABLE items (id int PRIMARY KEY, organization_id int, name text);
    INSERT INTO items SELECT g, g % 10, 'item ' || g FROM generate_series(1, 1000) g;
    CREATE DATABASE other;
});

my $owner = $node->background_psql('postgres');
my $run = $owner->query_safe(q{SELECT perfaudit.start('pgbench', 'database')});
ok($run =~ /^\d+$/, 'database-scope run started');

# 4 clients x 50 transactions, one statement each (BEGIN/END not counted).
$node->pgbench(
    '-n -M prepared -c 4 -j 2 -t 50', 0,
    [qr{processed: 200/200}], [qr{^$}], 'pgbench -M prepared workload',
    {
        'lookup.sql' => q{
\set id random(1, 1000)
BEGIN;
SELECT name FROM items WHERE id = :id;
END;
}
    });

# Statements of another database are not part of it.
$node->safe_psql('other', 'SELECT 1');

my $summary = $owner->query_safe('SELECT statements, scope FROM perfaudit.stop()');
is($summary, '200|database', 'exactly the 200 statements of the workload were counted');

my $row = $node->safe_psql('postgres', qq{
    SELECT calls, distinct_params > 100, nesting_level, query
      FROM perfaudit.run_statements WHERE run_id = $run});
like($row, qr/^200\|t\|0\|SELECT name FROM items WHERE id = \$1$/,
    'one prepared statement, 200 calls, many distinct parameter values');

is($node->safe_psql('postgres', qq{
    SELECT count(*) FROM perfaudit.run_statements r
      JOIN pg_stat_statements s USING (queryid) WHERE r.run_id = $run}),
   '1', 'its queryid is pg_stat_statements\' queryid');

# N+1 is counted per session: each client looped over ~50 ids.
is($node->safe_psql('postgres', qq{
    SELECT (detail->>'calls')::int BETWEEN 5 AND 50
           AND (detail->>'run_calls')::int = 200
      FROM perfaudit.findings WHERE run_id = $run AND kind = 'n_plus_one'}),
   't', 'the N+1 finding counts one session\'s loop, and the run\'s calls beside it');

# After stop(), other backends no longer record into it.
$node->pgbench('-n -M prepared -c 2 -t 10', 0, [qr{processed: 20/20}], [qr{^$}],
    'more load after stop', { 'lookup2.sql' => "SELECT name FROM items WHERE id = 1;\n" });
is($node->safe_psql('postgres', "SELECT statements FROM perfaudit.runs WHERE run_id = $run"),
   '200', 'the stored run is unchanged by later load');

# A session-scope run and a database-scope run at the same time.
my $other = $node->background_psql('postgres');
my $srun = $other->query_safe(q{SELECT perfaudit.start('session inside database run')});
my $drun = $owner->query_safe(q{SELECT perfaudit.start('database run', 'database')});
$other->query_safe('SELECT name FROM items WHERE id = 7');
is($owner->query_safe('SELECT statements FROM perfaudit.stop()'), '1',
   'the database run saw the other session\'s statement');
is($other->query_safe('SELECT statements FROM perfaudit.stop()'), '1',
   'the session run saw its own statement');

$other->quit;
$owner->quit;
$node->stop;
done_testing();
