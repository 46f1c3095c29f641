# Crash safety: what a crash-and-restart of the server does to capture
# runs and to the shared state of the extension.
#
#  1. Before any crash: a completed run (with run_statements and
#     findings) and a completed benchmark; their stored rows are hashed.
#  2. A session in the middle of a capture (start() called, a PL/pgSQL loop
#     of lookups being appended to the run while the kill lands) is
#     SIGKILLed; another session's database-scope run and a third session
#     appending to it die with it when the postmaster restarts every
#     backend.  Interrupted runs are never stored (the code stores a run
#     only at stop(), through the writer: there is no "interrupted" status):
#     they must be absent, with nothing half-stored.
#  3. The writer worker dies in the middle of storing a run of 20,001
#     statements (held inside its storing transaction, after it inserted the
#     run and its statements, by a test trigger on perfaudit.findings):
#     a. terminated (SIGTERM, no crash restart): the caller gets a clear
#        error at once, the run stays active, a second stop() stores it;
#     b. SIGKILLed (crash restart): the caller gets a connection error, not
#        a hang, and the half-written run is absent.
#  4. pg_ctl stop -m immediate while one session is mid-capture and the
#     writer is in the middle of storing a benchmark, then start.
#  After each of 2, 3b and 4: the completed runs and benchmark are
#  byte-for-byte intact, the tenant statistics in shared memory were
#  re-initialised, active_run() is NULL, and new session-scope runs,
#  database-scope runs and benchmarks work and store what they should.
#  5. The server log shows exactly the two SIGKILLs we sent and their two
#     crash restarts and no other crash, PANIC or corruption error;
#     pg_amcheck finds no heap or index corruption and pg_checksums no bad
#     page (the cluster is initialised with data checksums).
#
# Failure modes (numbered as in the project's reliability research):
# 14 (shared memory set up again by the startup hook after a crash restart
# and after an immediate shutdown), 2 (a process that ends without running
# its cleanup: FATAL and SIGKILL never run PG_CATCH, SIGKILL not even the
# exit callbacks), 20 (our own results: nothing half-written survives), and
# the "writer dies" case of the background-writer design (the rollback
# problem, option 3).  No step waits for a clock: each kill is sent once
# the server shows the state it must interrupt (a loop's statements counted
# in the tenant statistics, the writer waiting inside its transaction).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init(extra => ['--data-checksums']);
# PostgreSQL::Test::Cluster turns restart_after_crash off; a crash restart
# is what this test is about.  Its fsync = off is kept: processes die here,
# not the machine, and the kernel keeps what they wrote.
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_perfaudit'
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION pg_perfaudit;
    CREATE TABLE items (id int PRIMARY KEY, organization_id int NOT NULL, name text);
    INSERT INTO items SELECT g, g % 10, 'item ' || g FROM generate_series(1, 1000) g;
    ANALYZE items;
    -- Holds the writer inside its storing transaction: it has inserted the
    -- run (or benchmark) and its statements and is storing the findings.
    -- 50 s: under the writer's own statement_timeout of 60 s; it is killed
    -- long before.
    CREATE SCHEMA crashtest;
    CREATE FUNCTION crashtest.hold_writer() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_catalog.pg_sleep(50);
        RETURN NULL;
    END $$;
});

# What a psql whose backend died prints (libpq's wording, or the server's
# if its goodbye message arrived first).
my $conn_lost = qr/terminating connection because of crash of another server process|terminating connection due to immediate shutdown command|server closed the connection unexpectedly|connection to server was lost|could not send data to server/;

# Everything stored for a run, as one string: its row, its statements and
# findings, counted and hashed.  Empty if the run is not stored.
sub run_shape
{
    my ($id) = @_;
    return $node->safe_psql('postgres', qq{
        SELECT concat_ws('|', r.statements, r.findings,
                         (SELECT count(*) || '|' || coalesce(sum(s.calls), 0) || '|' ||
                                 coalesce(md5(string_agg(s::text, ',' ORDER BY s::text)), '')
                            FROM perfaudit.run_statements s WHERE s.run_id = r.run_id),
                         (SELECT count(*) || '|' || coalesce(string_agg(DISTINCT f.kind, ',' ORDER BY f.kind), '') || '|' ||
                                 coalesce(md5(string_agg(f::text, ',' ORDER BY f::text)), '')
                            FROM perfaudit.findings f WHERE f.run_id = r.run_id),
                         md5(r::text))
          FROM perfaudit.runs r WHERE r.run_id = $id});
}

sub benchmark_shape
{
    my ($id) = @_;
    return $node->safe_psql('postgres', qq{
        SELECT concat_ws('|', b.iterations, cardinality(b.samples_ms),
                         (SELECT count(*) FROM perfaudit.findings f WHERE f.benchmark_id = b.benchmark_id),
                         md5(b::text))
          FROM perfaudit.benchmarks b WHERE b.benchmark_id = $id});
}

# Rows of a run in any results table: 0 when nothing of it is stored.
sub stored_rows
{
    my ($id) = @_;
    return $node->safe_psql('postgres', qq{
        SELECT (SELECT count(*) FROM perfaudit.runs WHERE run_id = $id)
             + (SELECT count(*) FROM perfaudit.run_statements WHERE run_id = $id)
             + (SELECT count(*) FROM perfaudit.findings WHERE run_id = $id)});
}

my %completed;     # run_id => [label, shape]
my $first_run_counts;    # statements|findings of the first completed run
my %benchmarks;    # benchmark_id => [label, shape]

sub remember_run
{
    my ($id, $label) = @_;
    $completed{$id} = [ $label, run_shape($id) ];
    return;
}

sub check_intact
{
    my ($when) = @_;
    for my $id (sort { $a <=> $b } keys %completed)
    {
        is(run_shape($id), $completed{$id}[1], "$when: completed run '$completed{$id}[0]' intact");
    }
    for my $id (sort { $a <=> $b } keys %benchmarks)
    {
        is(benchmark_shape($id), $benchmarks{$id}[1],
           "$when: completed benchmark '$benchmarks{$id}[0]' intact");
    }
    is($node->safe_psql('postgres', 'SELECT count(*) FROM perfaudit.runs'),
       scalar(keys %completed), "$when: no other run stored");
    is($node->safe_psql('postgres', 'SELECT count(*) FROM perfaudit.benchmarks'),
       scalar(keys %benchmarks), "$when: no other benchmark stored");
    return;
}

# A session-scope run of ten lookups by id with no tenant predicate:
# n_plus_one and unscoped_tenant_query.  Returns (run_id, shape).
sub lookup_run
{
    my ($label) = @_;
    my $s = $node->background_psql('postgres');
    my $id = $s->query_safe("SELECT perfaudit.start('$label')");
    $s->query_safe("SELECT name FROM items WHERE id = $_") for 1 .. 10;
    my $n = $s->query_safe('SELECT statements FROM perfaudit.stop()');
    $s->quit;
    is($n, '10', "run '$label' counts its ten lookups");
    return $id;
}

# A loop of tenant-scoped lookups that runs until the session is killed
# (bounded by statement_timeout only as a safety net).  With track = 'all'
# each lookup is appended to the active run and counted in the tenant
# statistics, which another session can watch.
sub endless_loop
{
    my ($tenant) = @_;
    return qq{
DO \$\$
BEGIN
    FOR i IN 1..100000000 LOOP
        PERFORM name FROM items WHERE organization_id = $tenant AND id = 1 + i % 1000;
    END LOOP;
END \$\$;
};
}

sub tenant_calls_reach
{
    my ($tenant, $min) = @_;
    return $node->poll_query_until('postgres', qq{
        SELECT coalesce(sum(calls), 0) >= $min FROM perfaudit.tenant_stats WHERE tenant = '$tenant'});
}

# A psql whose backend was killed must end by itself with a connection
# error: the BackgroundPsql timeout turns a hang into a failure.
sub session_lost
{
    my ($s, $what) = @_;
    ok(pump_until($s->{run}, $s->{timeout}, \$s->{stderr}, $conn_lost),
       "$what: the client gets a connection error, not a hang");
    eval { $s->{run}->finish; };
    my $rc = eval { $s->{run}->result(0) };
    is($rc, 2, "$what: psql exits with status 2 (connection lost)");
    return;
}

# After a crash restart or restart: shared state is new, and captures,
# database-scope runs and benchmarks work again.
sub check_fresh_state
{
    my ($when, $old_reset, @old_tenants) = @_;
    my $tenants = join(',', map { "'$_'" } @old_tenants);
    is($node->safe_psql('postgres', qq{
        SELECT stats_reset > '$old_reset', tenants < 10,
               (SELECT count(*) FROM perfaudit.tenant_stats WHERE tenant IN ($tenants))
          FROM perfaudit.tenant_stats_info()}),
       't|t|0', "$when: the tenant statistics in shared memory were re-initialised");
    is($node->safe_psql('postgres', 'SELECT perfaudit.active_run() IS NULL'), 't',
       "$when: no run active in a new session");

    my $id = lookup_run("after $when");
    my ($n, $f) = split /\|/, run_shape($id);
    is("$n|$f", $first_run_counts,
       "$when: a new run stores the same statements and findings as before the crash");
    remember_run($id, "after $when");

    # A database-scope run sees exactly another session's statements: no
    # stale slot of a run that died with the crash is in the way.
    my $owner = $node->background_psql('postgres');
    my $dbrun = $owner->query_safe("SELECT perfaudit.start('database run after $when', 'database')");
    $node->safe_psql('postgres', join('', map { "SELECT name FROM items WHERE organization_id = 4 AND id = $_;\n" } (4, 14, 24, 34, 44)));
    is($owner->query_safe('SELECT statements FROM perfaudit.stop()'), '5',
       "$when: a new database-scope run counts the five statements of another session");
    $owner->quit;
    remember_run($dbrun, "database run after $when");

    my $b = $node->safe_psql('postgres', qq{
        SELECT benchmark_id || '|' || cardinality(samples_ms)
          FROM perfaudit.benchmark('SELECT name FROM items WHERE organization_id = 2 AND id = 42', 100,
                                   label => 'benchmark after $when')});
    my ($bid, $samples) = split /\|/, $b;
    is($samples, '100', "$when: a new benchmark stores its 100 samples");
    $benchmarks{$bid} = [ "benchmark after $when", benchmark_shape($bid) ];
    return;
}

sub stats_reset
{
    return $node->safe_psql('postgres', 'SELECT stats_reset FROM perfaudit.tenant_stats_info()');
}

# The writer, once it sits in the test trigger for the given storing
# function: its pid, and whether it is inside a transaction that has
# written (an xid) and holds the table it has filled.
sub held_writer
{
    my ($function, $table) = @_;
    $node->poll_query_until('postgres', qq{
        SELECT count(*) FROM pg_stat_activity
         WHERE backend_type = 'pg_perfaudit writer' AND wait_event = 'PgSleep'
           AND query LIKE '%$function%'}, '1')
      or die "the writer never reached the trigger";
    return split /\|/, $node->safe_psql('postgres', qq{
        SELECT a.pid, a.backend_xid IS NOT NULL,
               EXISTS (SELECT 1 FROM pg_locks l
                        WHERE l.pid = a.pid AND l.granted AND l.mode = 'RowExclusiveLock'
                          AND l.relation = '$table'::regclass)
          FROM pg_stat_activity a
         WHERE a.backend_type = 'pg_perfaudit writer' AND a.wait_event = 'PgSleep'});
}

my $hold_on = q{CREATE TRIGGER hold_writer AFTER INSERT ON perfaudit.findings
                FOR EACH STATEMENT EXECUTE FUNCTION crashtest.hold_writer()};
my $hold_off = q{DROP TRIGGER hold_writer ON perfaudit.findings};

my $started = time;
my @figures;

#
# 1. Completed results.
#
my $run1 = lookup_run('completed before the crashes');
my ($n1, $f1) = split /\|/, run_shape($run1);
ok($f1 > 0, "the completed run has findings ($f1)");
is($node->safe_psql('postgres', qq{
    SELECT string_agg(DISTINCT kind, ',' ORDER BY kind) FROM perfaudit.findings WHERE run_id = $run1}),
   'n_plus_one,unscoped_tenant_query', 'the findings are the N+1 and the unscoped reads');
remember_run($run1, 'completed before the crashes');
$first_run_counts = "$n1|$f1";
my $b1 = $node->safe_psql('postgres', q{
    SELECT benchmark_id FROM perfaudit.benchmark('SELECT name FROM items WHERE organization_id = 2 AND id = 42', 200,
                                                 label => 'completed before the crashes')});
$benchmarks{$b1} = [ 'completed before the crashes', benchmark_shape($b1) ];
like($benchmarks{$b1}[1], qr/^200\|200\|/, 'the completed benchmark has its 200 samples');

#
# 2. SIGKILL of a session in the middle of a capture.
#
my $reset0 = stats_reset();

my $victim = $node->background_psql('postgres', on_error_stop => 0);
$victim->query_safe(q{SET perfaudit.track = 'all'});
$victim->query_safe(q{SET statement_timeout = '150s'});
my $victim_pid = $victim->query_safe('SELECT pg_backend_pid()');
my $run2 = $victim->query_safe(q{SELECT perfaudit.start('interrupted by SIGKILL')});
$victim->query_safe("SELECT name FROM items WHERE organization_id = 7 AND id = $_") for (7, 17, 27);

# A database-scope run, and a session appending to it in a loop.
my $dbowner = $node->background_psql('postgres');
$dbowner->query_safe(q{SET perfaudit.track = 'all'});
my $run2db = $dbowner->query_safe(q{SELECT perfaudit.start('database run interrupted', 'database')});
my $appender = $node->background_psql('postgres', on_error_stop => 0);
$appender->query_safe(q{SET perfaudit.track = 'all'});
$appender->query_safe(q{SET statement_timeout = '150s'});
$appender->query_until(qr/looping/, "\\echo looping\n" . endless_loop(9));

$victim->query_until(qr/looping/, "\\echo looping\n" . endless_loop(7));
ok(tenant_calls_reach(7, 2000) && tenant_calls_reach(9, 2000),
   'both loops are running and being captured');
is($node->safe_psql('postgres', qq{SELECT state || ' ' || left(query, 2) FROM pg_stat_activity WHERE pid = $victim_pid}),
   'active DO', 'the victim is inside its loop');

my $log_offset = -s $node->logfile;
my $t0 = time;
is(kill('KILL', $victim_pid), 1, 'SIGKILL sent to the capturing backend');
session_lost($victim, 'SIGKILLed capture');
session_lost($appender, 'session appending to the database run');
$dbowner->quit;
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the server accepts connections again');
push @figures, sprintf('SIGKILL of a backend to accepting connections: %.1f s', time - $t0);
# (the postmaster says "server process" before 18, "client backend" from 18 on)
ok($node->log_contains(qr/(?:server process|client backend) \(PID $victim_pid\) was terminated by signal 9: Killed.*database system was not properly shut down; automatic recovery in progress/s,
                       $log_offset),
   'the log shows the kill and crash recovery');

check_intact('after SIGKILL of a capturing backend');
is(stored_rows($run2), '0', 'the interrupted session run is absent (runs are stored only by stop())');
is(stored_rows($run2db), '0', 'the interrupted database-scope run is absent');
check_fresh_state('SIGKILL of a capturing backend', $reset0, 7, 9);
my $run_after2 = $node->safe_psql('postgres', q{SELECT max(run_id) FROM perfaudit.runs});
ok($run_after2 > $run2db, 'run ids keep growing after the crash (no id handed out twice)');

#
# 3a. The writer is terminated while it stores a run: a clear error, the
#     run stays active, and a second stop() stores it.
#
my $big_loop = q{
DO $$
BEGIN
    FOR i IN 1..20000 LOOP
        PERFORM name FROM items WHERE organization_id = 5 AND id = 5 + 10 * (i % 100);
    END LOOP;
END $$;
};
$node->safe_psql('postgres', $hold_on);
my $caller = $node->background_psql('postgres', on_error_stop => 0);
$caller->query_safe(q{SET perfaudit.track = 'all'});
my $run3a = $caller->query_safe(q{SELECT perfaudit.start('writer terminated')});
$caller->query_safe($big_loop);
$caller->query_until(qr/stopping/, "\\echo stopping\nSELECT statements FROM perfaudit.stop();\n");
my ($wpid, $has_xid, $holds) = held_writer('_store_run', 'perfaudit.run_statements');
is("$has_xid|$holds", 't|t', 'the writer is mid-write: it has inserted the run statements, uncommitted');
is(stored_rows($run3a), '0', 'nothing of the run is visible yet');
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($wpid)"), 't', 'writer terminated');
ok(pump_until($caller->{run}, $caller->{timeout}, \$caller->{stderr},
              qr/pg_perfaudit could not store the results/),
   'stop() fails at once with a clear error');
like($caller->{stderr}, qr/the writer worker exited/, 'naming the writer\'s exit');
$caller->{stderr} = '';
$caller->{stdout} = '';
$node->safe_psql('postgres', $hold_off);
is($caller->query_safe('SELECT perfaudit.active_run()'), $run3a, 'the run is still active');
is($caller->query_safe('SELECT statements FROM perfaudit.stop()'), '20001',
   'a second stop() stores it: the loop\'s 20,000 lookups and the DO');
$caller->quit;
like(run_shape($run3a), qr/^20001\|\d+\|\d+\|20001\|/, 'stored with every statement');
remember_run($run3a, 'writer terminated, stored by the retry');

#
# 3b. The writer is SIGKILLed while it stores a run: crash restart.
#
my $reset1 = stats_reset();
$node->safe_psql('postgres', $hold_on);
$caller = $node->background_psql('postgres', on_error_stop => 0);
$caller->query_safe(q{SET perfaudit.track = 'all'});
my $run3b = $caller->query_safe(q{SELECT perfaudit.start('writer killed')});
$caller->query_safe($big_loop);
$caller->query_until(qr/stopping/, "\\echo stopping\nSELECT statements FROM perfaudit.stop();\n");
($wpid, $has_xid, $holds) = held_writer('_store_run', 'perfaudit.run_statements');
is("$has_xid|$holds", 't|t', 'the writer is mid-write again');

$log_offset = -s $node->logfile;
$t0 = time;
is(kill('KILL', $wpid), 1, 'SIGKILL sent to the writer');
session_lost($caller, 'stop() whose writer was SIGKILLed');
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the server accepts connections again');
push @figures, sprintf('SIGKILL of the writer to accepting connections: %.1f s', time - $t0);
ok($node->log_contains(qr/background worker "pg_perfaudit writer" \(PID $wpid\) was terminated by signal 9: Killed/,
                       $log_offset),
   'the log shows the writer killed');
$node->safe_psql('postgres', $hold_off);

check_intact('after SIGKILL of the writer');
is(stored_rows($run3b), '0', 'the run the writer was storing is absent: nothing half-written');
check_fresh_state('SIGKILL of the writer', $reset1, 5);

#
# 4. Immediate shutdown with a capture running and the writer storing a
#    benchmark, then start.
#
my $reset2 = stats_reset();
my $capturing = $node->background_psql('postgres', on_error_stop => 0);
$capturing->query_safe(q{SET perfaudit.track = 'all'});
$capturing->query_safe(q{SET statement_timeout = '150s'});
my $run4 = $capturing->query_safe(q{SELECT perfaudit.start('interrupted by immediate shutdown')});
$capturing->query_until(qr/looping/, "\\echo looping\n" . endless_loop(3));
ok(tenant_calls_reach(3, 2000), 'the loop is running and being captured');

$node->safe_psql('postgres', $hold_on);
my $bencher = $node->background_psql('postgres', on_error_stop => 0);
$bencher->query_until(qr/benchmarking/, qq{\\echo benchmarking
SELECT perfaudit.benchmark('SELECT name FROM items WHERE organization_id = 2 AND id = 42', 300,
                           label => 'interrupted benchmark');
});
($wpid, $has_xid, $holds) = held_writer('_store_benchmark', 'perfaudit.benchmarks');
is("$has_xid|$holds", 't|t', 'the writer is mid-write: it has inserted the benchmark, uncommitted');

$log_offset = -s $node->logfile;
$t0 = time;
$node->stop('immediate');
session_lost($capturing, 'capture at immediate shutdown');
session_lost($bencher, 'benchmark at immediate shutdown');
$node->start;
push @figures, sprintf('immediate shutdown to accepting connections: %.1f s', time - $t0);
ok($node->log_contains(qr/received immediate shutdown request.*database system was not properly shut down; automatic recovery in progress/s,
                       $log_offset),
   'the log shows the immediate shutdown and crash recovery');
$node->safe_psql('postgres', $hold_off);

check_intact('after immediate shutdown');
is(stored_rows($run4), '0', 'the run interrupted by the shutdown is absent');
is($node->safe_psql('postgres', q{SELECT count(*) FROM perfaudit.benchmarks WHERE label = 'interrupted benchmark'}),
   '0', 'the benchmark being stored is absent');
check_fresh_state('immediate shutdown', $reset2, 3);

#
# 5. No other crash and no corruption.
#
my $log = slurp_file($node->logfile);
my @kills = $log =~ /was terminated by signal 9: Killed/g;
my @restarts = $log =~ /all server processes terminated; reinitializing/g;
is(scalar(@kills) . '|' . scalar(@restarts), '2|2',
   'the log has exactly the two SIGKILLs sent and their two crash restarts (the terminated writer was no crash)');
# (Matched line by line, and only the offending lines shown.)
my @crashes = grep { /was terminated by signal (?!9:)|exited with exit code (?!1$)|PANIC:|TRAP:/ }
  split /\n/, $log;
is(scalar(@crashes), 0, 'no other process crashed (a FATAL exit, code 1, is no crash)')
  or diag(join("\n", @crashes));
my @corrupt = grep {
    /invalid page|could not read block|checksum verification failed|missing chunk number|could not access status of transaction|unexpected zero page|contains corrupted|uncommitted xmin/
} split /\n/, $log;
is(scalar(@corrupt), 0, 'no data corruption reported') or diag(join("\n", @corrupt));
$node->command_ok([ 'pg_amcheck', '--install-missing', '--heapallindexed', '--rootdescend', 'postgres' ],
                  'pg_amcheck: no heap or index corruption');
$node->stop;
$node->command_ok([ 'pg_checksums', '--check', '-D', $node->data_dir ], 'pg_checksums: every page checks');

diag($_) for @figures;
diag(sprintf('whole test: %.0f s', time - $started));
done_testing();
