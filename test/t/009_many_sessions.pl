# Many capture runs at once under background load: every run and every
# statement accounted for.
#
# 72 psql sessions (more than the writer's 64-request queue) each run one
# session-scope capture: start(), a known number of statements for a known
# tenant (taken from the session setting, a /*tenant=...*/ tag or the
# organization_id predicate, a third of the sessions each), stop().  Two
# advisory-lock gates make the runs overlap for certain: all sessions start
# their runs together, and all 72 runs are active at once, each with its
# first statements done, before any of them goes on and stops.  A lock on
# perfaudit.runs then holds the writer back until all 72 stop() calls are
# waiting for it at once (64 queued, 8 waiting for a queue slot, which
# README says wait their turn rather than fail).  Meanwhile pgbench -M
# prepared (4 clients, throttled so that it lasts through the sessions'
# work) runs tenant-scoped statements over the multi-tenant fixture, and a
# database-scope run covers the whole of it.
#
# Checked:
#   - all 72 runs active at once, then all 72 stop() calls waiting for the
#     writer at once, and none of them failing;
#   - one stored run per session (72 runs, 72 run ids, 72 pids), and each
#     session's stop() returned its own count;
#   - each run's statements and its run_statements calls per tenant are
#     exactly what that session executed, for that session's tenant only;
#   - no pgbench statement, and no statement of another session, in any
#     session run;
#   - the database run counted exactly pgbench's statements (per pgbench's
#     own "processed" count) and exactly each session's statements per
#     tenant, with nothing overflowed; the always-on tenant statistics agree
#     with it;
#   - no backend crashed.
#
# Failure modes (numbering of reliability.md, the reliability research):
# 16 (lock discipline under many concurrent backends), 17 (races on shared
# state: the database run's lock-free buffer, the writer queue, the tenant
# statistics), 8 (tenant from a prepared statement's bound value, pgbench
# -M prepared), 21 (tenant from the session setting), 20 (bookkeeping:
# start(), stop() and the writer's own SQL are not counted in a run).
use strict;
use warnings;
use File::Basename;
use IPC::Run;
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $sessions = 72;                # > 64, the writer's request queue
my $pgbench_clients = 4;
my $pgbench_tx = 600;             # per client
my $pgbench_rate = 1200;          # tps in total: about 2 s of load
my $pgbench_stmts = 2;            # statements per pgbench transaction

my $fixture = dirname(__FILE__) . '/../fixtures/fixture.sh';

my $node = PostgreSQL::Test::Cluster->new('many_sessions');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_stat_statements,pg_perfaudit'
max_connections = 100
});
$node->start;

# Room for the sessions, pgbench, the two helper sessions, the polls.
cmp_ok($node->safe_psql('postgres', 'SHOW max_connections'), '>=',
    $sessions + $pgbench_clients + 10, 'max_connections leaves room for every client');

my ($stdout, $stderr);
IPC::Run::run(
    [ 'bash', $fixture, '-h', $node->host, '-p', $node->port, '-d', 'postgres' ],
    '>', \$stdout, '2>', \$stderr)
  or die "fixture did not load: $stderr";
$node->safe_psql('postgres', 'CREATE EXTENSION pg_perfaudit');

# ------------------------------------------------------------------
# What each session runs, and what its run must hold.
# ------------------------------------------------------------------
my @templates = (
    'SELECT count(*) FROM app.users WHERE organization_id = %d',
    'SELECT id, hostname FROM app.servers WHERE organization_id = %d ORDER BY id LIMIT 5',
    'SELECT count(*) FROM app.metrics WHERE organization_id = %d',
);
my $tmp = PostgreSQL::Test::Utils::tempdir;
my (%expect_run, %expect_db, %expect_stop);
for my $k (1 .. $sessions)
{
    my $mode = $k % 3;    # 0: session setting, 1: tag, 2: predicate
    my $k1 = 3 + $k % 5;  # statements before the second gate
    my $k2 = $k % 3;      # statements after it
    # Predicate tenants 901..972 never meet pgbench's 1..500; with a setting
    # or a tag the predicate names another organization, which must not win.
    my $org = $mode == 2 ? 900 + $k : 600 + $k % 50;
    my $tenant = $mode == 2 ? $org : "sess_$k";
    my $tag = $mode == 1 ? " /*tenant='sess_$k'*/" : '';

    my $sql = '';
    $sql .= "SET perfaudit.tenant_setting = 'app.tenant';\nSET app.tenant = 'sess_$k';\n"
      if $mode == 0;
    # gate 1, before the run: every session starts its run together
    $sql .= "SELECT pg_advisory_xact_lock_shared(1);\n";
    $sql .= "SELECT perfaudit.start('many_$k');\n";
    for my $i (0 .. $k1 - 1)
    {
        $sql .= sprintf($templates[ ($k + $i) % 3 ], $org) . "$tag;\n";
    }
    # gate 2, inside the run (so counted, with the session's tenant only if
    # it comes from the setting): all runs are active at once here
    $sql .= "SELECT pg_advisory_xact_lock_shared(2);\n";
    for my $i (0 .. $k2 - 1)
    {
        $sql .= sprintf($templates[ ($k + $i + 1) % 3 ], $org) . "$tag;\n";
    }
    $sql .= "SELECT 'stopped', label, statements, overflow FROM perfaudit.stop();\n";
    append_to_file("$tmp/session_$k.sql", $sql);

    my $n = $k1 + 1 + $k2;
    $expect_stop{$k} = "stopped|many_$k|$n|0";
    # run_statements of the run: tenant=calls, tenants in C order, '-' (no
    # tenant: the gate, without setting) last
    $expect_run{"many_$k"} =
      $mode == 0 ? "$n|0|sess_$k=$n" : "$n|0|$tenant=" . ($k1 + $k2) . " -=1";
    # the database run also sees gate 1, start() and stop(); with a tag or a
    # predicate those three and gate 2 have no tenant
    $expect_db{$tenant} = $mode == 0 ? $k1 + $k2 + 4 : $k1 + $k2;
}

# ------------------------------------------------------------------
# Run it.
# ------------------------------------------------------------------
my $gate = $node->background_psql('postgres');
$gate->query_safe('SELECT pg_advisory_lock(1), pg_advisory_lock(2)');
my $owner = $node->background_psql('postgres');
$node->safe_psql('postgres', 'SELECT perfaudit.reset()');
my $db_run = $owner->query_safe(q{SELECT perfaudit.start('many_db', 'database')});

my $psql = $node->installed_command('psql');
my @handles;
for my $k (1 .. $sessions)
{
    push @handles, IPC::Run::start(
        [ $psql, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1',
          '-d', $node->connstr('postgres'), '-f', "$tmp/session_$k.sql" ],
        '<', \undef, '>', "$tmp/session_$k.out", '2>', "$tmp/session_$k.err",
        IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
}

my $waiting_on = sub {
    my ($key, $n) = @_;
    return $node->poll_query_until('postgres', qq{
        SELECT count(*) = $n FROM pg_locks
         WHERE locktype = 'advisory' AND objid = $key AND objsubid = 1 AND NOT granted});
};
ok($waiting_on->(1, $sessions), "all $sessions sessions connected, waiting at gate 1")
  or die 'sessions did not reach gate 1';

# Background load: tenant-scoped lookups, prepared, tenant = bound value.
append_to_file("$tmp/load.sql", q{
\set org random(1, 500)
SELECT id, email FROM app.users WHERE organization_id = :org ORDER BY id LIMIT 20;
SELECT count(*) FROM app.servers WHERE organization_id = :org;
});
my ($pgb_out, $pgb_err) = ('', '');
my $pgbench;
{
    local $ENV{PGAPPNAME} = 'load_pgbench';
    $pgbench = IPC::Run::start(
        [ $node->installed_command('pgbench'), '-n', '-M', 'prepared',
          '-c', $pgbench_clients, '-j', '2', '-t', $pgbench_tx, '-R', $pgbench_rate,
          '-f', "$tmp/load.sql", '-h', $node->host, '-p', $node->port, 'postgres' ],
        '<', \undef, '>', \$pgb_out, '2>', \$pgb_err,
        IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
}
ok($node->poll_query_until('postgres', q{
    SELECT coalesce(sum(calls), 0) >= 100 FROM perfaudit.tenant_stats
     WHERE CASE WHEN tenant ~ '^[0-9]+$' THEN tenant::int END <= 500}),
   'pgbench load is running');

$gate->query_safe('SELECT pg_advisory_unlock(1)');
ok($waiting_on->(2, $sessions), "all $sessions runs active at once, waiting at gate 2")
  or die 'sessions did not reach gate 2';
my $load_during = $node->safe_psql('postgres',
    q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'load_pgbench'});

# Hold the writer back while the sessions go on and stop, so that all 72
# stop() calls wait at once: 64 in the writer's queue, 8 for a free slot.
# The writer waits for this lock at most its lock_timeout (10 s); the
# sessions need well under a second to get there, and the lock is let go
# after at most 5 s whatever happened.
$gate->query_safe('BEGIN');
$gate->query_safe('LOCK TABLE perfaudit.runs IN SHARE MODE');
$gate->query_safe('SELECT pg_advisory_unlock(2)');
my $all_queued = 0;
my $deadline = time() + 5;
while (time() < $deadline)
{
    $all_queued = $node->safe_psql('postgres', qq{
        SELECT count(*) FILTER (WHERE backend_type = 'client backend'
                                  AND wait_event_type = 'Extension'
                                  AND query LIKE '%perfaudit.stop()%') = $sessions
               AND count(*) FILTER (WHERE backend_type <> 'client backend'
                                      AND wait_event_type = 'Lock') = 1
          FROM pg_stat_activity}) eq 't';
    last if $all_queued;
    usleep(100_000);
}
$gate->query_safe('COMMIT');
ok($all_queued, "all $sessions stop() calls waiting for the writer at once (queue: 64)");

my $all_ok = 1;
for my $k (1 .. $sessions)
{
    my $h = $handles[ $k - 1 ];
    if (!eval { $h->finish })
    {
        $all_ok = 0;
        diag("session $k failed: " . slurp_file("$tmp/session_$k.err"));
    }
}
ok($all_ok, "all $sessions sessions finished without error");
ok(eval { $pgbench->finish }, 'pgbench finished without error') or diag($pgb_err);
my $total_tx = $pgbench_clients * $pgbench_tx;
like($pgb_out, qr{processed: $total_tx/$total_tx}, "pgbench processed $total_tx transactions");
note("pgbench clients still connected when the runs were let go to stop: $load_during");

my $db_summary = $owner->query_safe('SELECT scope, overflow FROM perfaudit.stop()');
is($db_summary, 'database|0', 'database run stored, nothing overflowed');

# ------------------------------------------------------------------
# Every run and every statement accounted for.
# ------------------------------------------------------------------
my $stops_ok = 1;
for my $k (1 .. $sessions)
{
    my @lines = split /\n/, slurp_file("$tmp/session_$k.out");
    if (!@lines || $lines[-1] ne $expect_stop{$k})
    {
        $stops_ok = 0;
        diag("session $k: stop() returned '" . ($lines[-1] // '') . "', expected '$expect_stop{$k}'");
    }
}
ok($stops_ok, "each session's stop() returned its own run and count");

is($node->safe_psql('postgres', q{
    SELECT count(*) || '|' || count(DISTINCT run_id) || '|' || count(DISTINCT pid) || '|' ||
           count(DISTINCT label) || '|' || count(*) FILTER (WHERE scope <> 'session')
      FROM perfaudit.runs WHERE label LIKE 'many\_%' AND label <> 'many_db'}),
   "$sessions|$sessions|$sessions|$sessions|0",
   "$sessions session runs stored, one per session (run ids, pids, labels)");

my $expected_runs = join("\n",
    map { "$_|$expect_run{$_}" } sort { $a cmp $b } keys %expect_run);
is($node->safe_psql('postgres', q{
    SELECT r.label || '|' || r.statements || '|' || r.overflow || '|' ||
           (SELECT string_agg(coalesce(x.tenant, '-') || '=' || x.calls, ' '
                              ORDER BY x.tenant COLLATE "C" NULLS LAST)
              FROM (SELECT s.tenant, sum(s.calls) AS calls FROM perfaudit.run_statements s
                     WHERE s.run_id = r.run_id GROUP BY s.tenant) x)
      FROM perfaudit.runs r
     WHERE r.label LIKE 'many\_%' AND r.label <> 'many_db'
     ORDER BY r.label COLLATE "C"}),
   $expected_runs,
   'each run: statements and calls per tenant exactly what its session executed, its tenant only');

is($node->safe_psql('postgres', q{
    SELECT count(*) FROM perfaudit.run_statements s JOIN perfaudit.runs r USING (run_id)
     WHERE r.scope = 'session' AND r.label LIKE 'many\_%'
       AND (s.query LIKE '%email%' OR s.query LIKE '%count(*) FROM app.servers%'
            OR CASE WHEN s.tenant ~ '^[0-9]+$' THEN s.tenant::int END <= 500)}),
   '0', "no pgbench statement in any session run");

# A statement text belongs to exactly the sessions that sent it: the
# organization in each session's statements is its own.
is($node->safe_psql('postgres', q{
    SELECT count(*) FROM perfaudit.run_statements s JOIN perfaudit.runs r USING (run_id)
     WHERE r.scope = 'session' AND r.label LIKE 'many\_%' AND s.query LIKE 'SELECT % FROM app.%'
       AND substring(s.query from 'organization_id = ([0-9]+)')::int <>
           CASE WHEN substring(r.label from '[0-9]+')::int % 3 = 2
                THEN 900 + substring(r.label from '[0-9]+')::int
                ELSE 600 + substring(r.label from '[0-9]+')::int % 50 END}),
   '0', "no statement of another session in any session run");

is($node->safe_psql('postgres', qq{
    SELECT sum(calls) FROM perfaudit.run_statements
     WHERE run_id = $db_run AND CASE WHEN tenant ~ '^[0-9]+\$' THEN tenant::int END <= 500}),
   $total_tx * $pgbench_stmts, "database run: exactly pgbench's statements for its tenants");

my $expected_db = join("\n",
    map { "$_|$expect_db{$_}" } sort { $a cmp $b } keys %expect_db);
my $session_tenants = q{(tenant LIKE 'sess\_%' OR CASE WHEN tenant ~ '^[0-9]+$' THEN tenant::int END > 900)};
is($node->safe_psql('postgres', qq{
    SELECT tenant || '|' || sum(calls) FROM perfaudit.run_statements
     WHERE run_id = $db_run AND $session_tenants
     GROUP BY tenant ORDER BY tenant COLLATE "C"}),
   $expected_db, "database run: exactly each session's statements per tenant");

# The always-on statistics counted the same statements (reset just before
# the database run started; nothing else ran for these tenants).
is($node->safe_psql('postgres', qq{
    SELECT count(*) FROM (
        SELECT tenant, sum(calls) AS calls FROM perfaudit.run_statements
         WHERE run_id = $db_run AND tenant IS NOT NULL GROUP BY tenant) d
      FULL JOIN (SELECT tenant, calls FROM perfaudit.tenant_stats
                  WHERE database = current_database() AND tenant IS NOT NULL
                    AND (tenant LIKE 'sess\\_%' OR tenant ~ '^[0-9]+\$')) t USING (tenant)
     WHERE d.calls IS DISTINCT FROM t.calls}),
   '0', 'tenant_stats agrees with the database run for every tenant');

$gate->quit;
$owner->quit;
ok(!grep(/terminated by signal|TRAP|PANIC/, slurp_file($node->logfile)),
    'no backend crashed');
$node->stop;
done_testing();
