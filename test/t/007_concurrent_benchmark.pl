# benchmark_concurrent() against a real server: 8 clients over the
# multi-tenant fixture (zero errors on a read-only workload, throughput and
# p95 reported), a planted deadlock counted rather than raised, a cancel
# from another session that stops every client, and a clear error when the
# worker slots run out.  Then the ways a client or the leader can go away:
# a client terminated while it waits for the others (its condition
# variable sleep lives in the shared segment: this used to crash it at
# exit), and a leader terminated mid-benchmark (its clients must stop, not
# run on to the end).
use strict;
use warnings;
use File::Basename;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $fixture = dirname(__FILE__) . '/../fixtures/fixture.sh';

my $node = PostgreSQL::Test::Cluster->new('concurrent');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_stat_statements,pg_perfaudit'
max_worker_processes = 12
deadlock_timeout = 50ms
});
$node->start;

my ($stdout, $stderr);
ok(IPC::Run::run([ 'bash', $fixture, '-h', $node->host, '-p', $node->port, '-d', 'postgres' ],
                 '>', \$stdout, '2>', \$stderr),
   'fixture loads') or diag($stderr);
$node->safe_psql('postgres', 'CREATE EXTENSION pg_perfaudit');

# 1. 8 clients, 4000 tenant-scoped lookups over 100 organizations.
my $res = $node->safe_psql('postgres', q{
    SELECT clients, iterations, errors, cardinality(samples_ms),
           round(throughput_qps), round(p50_ms::numeric, 3), round(p95_ms::numeric, 3),
           round(single_p95_ms::numeric, 3), round(p95_degradation::numeric, 2),
           round(single_throughput_qps)
      FROM perfaudit.benchmark_concurrent(
               'SELECT u.id, u.email FROM app.users u WHERE u.organization_id = $1 ORDER BY u.id LIMIT 20',
               8, 4000, ARRAY(SELECT g::text FROM generate_series(1, 100) g), 'users page, 8 clients')});
my @r = split /\|/, $res;
is("$r[0]|$r[1]|$r[2]|$r[3]", '8|4000|0|4000', '8 clients: 4000 executions, every one sampled, zero errors');
ok($r[4] > 0 && $r[6] > 0 && $r[5] <= $r[6], 'throughput and percentiles reported');
diag("8 clients over the fixture: $r[4] executions/s, p50 $r[5] ms, p95 $r[6] ms; "
     . "one client alone: p95 $r[7] ms, $r[9] executions/s; p95 degradation x$r[8]");

# 2. A planted deadlock: tenant 1 locks row 1 then row 2, tenant 2 the
# other way round; client 1 always gets tenant 1, client 2 tenant 2.
$node->safe_psql('postgres', q{
    CREATE TABLE pair (id int PRIMARY KEY, v int NOT NULL DEFAULT 0);
    INSERT INTO pair VALUES (1), (2);
    CREATE FUNCTION lock_pair(t int) RETURNS int LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE pair SET v = v + 1 WHERE id = t;
        PERFORM pg_sleep(0.05);
        UPDATE pair SET v = v + 1 WHERE id = 3 - t;
        RETURN t;
    END $$;
});
$res = $node->safe_psql('postgres', q{
    SELECT errors, errors + cardinality(samples_ms), error_counts ? '40P01',
           error_counts -> '40P01' ->> 'message'
      FROM perfaudit.benchmark_concurrent('SELECT lock_pair($1)', 2, 20, '{1,2}', 'planted deadlock')});
@r = split /\|/, $res;
ok($r[0] > 0, "deadlocks counted ($r[0] of 20 executions)");
is("$r[1]|$r[2]|$r[3]", '20|t|deadlock detected',
   'every execution accounted for; counted under 40P01 with its message');
is($node->safe_psql('postgres', q{SELECT errors FROM perfaudit.benchmarks WHERE label = 'planted deadlock'}),
   $r[0], 'stored with its error count');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the caller is unharmed');

# 3. Cancel from another session: the call ends, every client stops.
my $bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/started/, q{
    \echo started
    SELECT perfaudit.benchmark_concurrent('SELECT pg_sleep(0.5)', 4, 400);
});
$node->poll_query_until('postgres', q{
    SELECT count(*) >= 1 FROM pg_stat_activity WHERE backend_type = 'pg_perfaudit benchmark client'});
$node->safe_psql('postgres', q{
    SELECT pg_cancel_backend(pid) FROM pg_stat_activity
     WHERE query LIKE '%perfaudit.benchmark_concurrent(''SELECT pg_sleep%' AND backend_type = 'client backend'
       AND pid <> pg_backend_pid()});
ok($node->poll_query_until('postgres', q{
    SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_perfaudit benchmark client'}),
   'cancel stops every client');
$bg->quit;

# 4. More clients than free worker slots: a clear error, nothing left behind.
my ($ret, $out, $err) = $node->psql('postgres',
    q{SELECT perfaudit.benchmark_concurrent('SELECT 1', 13, 13)});
like($err, qr/needs 13 background workers but max_worker_processes is 12/, 'over max_worker_processes: error');
$node->safe_psql('postgres', q{
    CREATE FUNCTION hold() RETURNS void LANGUAGE sql AS 'SELECT pg_sleep(30)';
});
# Occupy slots with a long benchmark, then ask for more than remain.
my $hog = $node->background_psql('postgres', on_error_stop => 0);
$hog->query_until(qr/started/, q{
    \echo started
    SELECT perfaudit.benchmark_concurrent('SELECT hold()', 8, 8);
});
$node->poll_query_until('postgres', q{
    SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_perfaudit benchmark client'});
# The role's cap (perfaudit.max_benchmark_clients, 8) is reached first;
# raised, the slots benchmarks may use (12 - 4 reserved) are all taken.
($ret, $out, $err) = $node->psql('postgres',
    q{SELECT perfaudit.benchmark_concurrent('SELECT 1', 2, 2)});
like($err, qr/too many benchmark clients for role/, 'cap of the role reached: error names it');
($ret, $out, $err) = $node->psql('postgres',
    q{SET perfaudit.max_benchmark_clients = 12; SELECT perfaudit.benchmark_concurrent('SELECT 1', 2, 2)});
like($err, qr/not enough background worker slots for 2 benchmark clients/,
     'slots taken: error names the shortage');
$node->safe_psql('postgres', q{
    SELECT pg_cancel_backend(pid) FROM pg_stat_activity
     WHERE query LIKE '%perfaudit.benchmark_concurrent(''SELECT hold()%' AND backend_type = 'client backend'
       AND pid <> pg_backend_pid()});
$hog->quit;
ok($node->poll_query_until('postgres', q{
    SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_perfaudit benchmark client'}),
   'no client left running');

# 5. A client terminated while it waits for the go.  Execution 5 of the
# statement (the second client's warm-up; the single-client pass runs 1 + 2)
# sleeps, so the first client is left waiting on the condition variable.
$node->safe_psql('postgres', q{
    CREATE SEQUENCE slow_seq;
    CREATE FUNCTION slow_once(int) RETURNS int LANGUAGE sql AS
      $$ SELECT CASE WHEN nextval('slow_seq') = 5 THEN pg_sleep(3)::text::int END $$;
});
my $watcher = $node->background_psql('postgres');
my $watcher_pid = $watcher->query_safe('SELECT pg_backend_pid()');
$bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/started/, q{
    \echo started
    SELECT perfaudit.benchmark_concurrent('SELECT slow_once($1)', 2, 2, '{1,2}', warmup => 1);
});
ok($node->poll_query_until('postgres', q{
    SELECT count(*) = 1 FROM pg_stat_activity
     WHERE backend_type = 'pg_perfaudit benchmark client' AND wait_event = 'Extension'}),
   'one client waits for the go');
$node->safe_psql('postgres', q{
    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
     WHERE backend_type = 'pg_perfaudit benchmark client' AND wait_event = 'Extension'});
my $bgout = $bg->query('SELECT 1');
like($bg->{stderr}, qr/benchmark client \d of 2 stopped before finishing/,
     'terminated waiting client: the caller gets an error naming it');
$bg->quit;
is($watcher->query_safe('SELECT pg_backend_pid()'), $watcher_pid,
   'no crash: an unrelated session survives (no postmaster restart)');
$watcher->quit;

# 6. The leader terminated mid-benchmark: its clients stop at once rather
# than running their 200 s of work.
$bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/started/, q{
    \echo started
    SELECT perfaudit.benchmark_concurrent('SELECT pg_sleep(0.1)', 2, 4000, warmup => 0);
});
$node->poll_query_until('postgres', q{
    SELECT count(*) >= 1 FROM pg_stat_activity WHERE backend_type = 'pg_perfaudit benchmark client'});
my $t0 = time;
$node->safe_psql('postgres', q{
    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
     WHERE query LIKE '%benchmark_concurrent(''SELECT pg_sleep(0.1)%' AND backend_type = 'client backend'
       AND pid <> pg_backend_pid()});
$node->poll_query_until('postgres', q{
    SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_perfaudit benchmark client'});
my $waited = time - $t0;
ok($waited < 20, "terminated leader: clients gone within ${waited}s");
eval { $bg->quit; };	# its backend is gone: psql may already have exited

# No backend crashed along the way.
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|server process .* was terminated/, 'no backend crashed');

$node->stop;
done_testing();
