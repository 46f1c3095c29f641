# Background worker slots and connection limits: what one role's
# benchmark_concurrent() may take from everybody else.
#
# The clients are background workers: they come out of max_worker_processes
# (16 here, one of them the logical replication launcher's), which the
# pg_perfaudit writer of every database and parallel query need too, and
# core checks no CONNECTION LIMIT for them.  The review's reproduction, an
# ordinary role's
#     benchmark_concurrent('SELECT pg_sleep(0.05)', clients => 15, ...)
# took every free slot: other roles' stop() timed out waiting for the
# writer, parallel queries ran without workers, and a role with CONNECTION
# LIMIT 1 ran 15 clients.  Checked here:
#   1. the reproduction is refused by the per-role cap
#      (perfaudit.max_benchmark_clients, 8 by default: 53400), and with the
#      cap raised for the role, by the slots that stay reserved
#      (max_worker_processes - perfaudit.benchmark_reserved_workers = 12:
#      53000); an ordinary role cannot raise its own cap (42501);
#   2. while a role holds every slot it may (12 clients sleeping), other
#      roles' stop() in two databases at once succeeds in well under a
#      second, and a parallel query gets its workers;
#   3. the cap counts the role's clients over all its sessions and is set
#      per role with ALTER ROLE ... SET;
#   4. the role's and the database's CONNECTION LIMIT count the clients,
#      with the role's other backends and other running clients (53300, as
#      core's own check); superusers are exempt, as in core;
#   5. no client is left running, no backend crashed.
use strict;
use warnings;
use Time::HiRes qw(time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('worker_slots');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_perfaudit'
max_worker_processes = 16
max_parallel_workers = 8
log_line_prefix = '%m [%p] %e '
});
$node->start;

$node->safe_psql('postgres', q{
    CREATE ROLE mallory LOGIN;
    CREATE ROLE alice LOGIN;
    CREATE ROLE bob LOGIN;
    CREATE ROLE carol LOGIN CONNECTION LIMIT 1;
    CREATE ROLE dave LOGIN CONNECTION LIMIT 4;
    CREATE EXTENSION pg_perfaudit;
    CREATE DATABASE other;
    CREATE DATABASE limited CONNECTION LIMIT 2;
    GRANT CREATE ON SCHEMA public TO PUBLIC;
    CREATE SEQUENCE hold_seq;
    GRANT USAGE ON SEQUENCE hold_seq TO PUBLIC;
    -- Sleeps from the 13th call on: the single-client pass (12 calls) is
    -- quick, the concurrent pass's clients then hold their slots.
    CREATE FUNCTION hold(secs float8) RETURNS void LANGUAGE sql AS
      $$ SELECT pg_sleep(CASE WHEN nextval('hold_seq') > 12 THEN secs ELSE 0 END) $$;
    CREATE TABLE big AS SELECT g AS i FROM generate_series(1, 200000) g;
    ANALYZE big;
    GRANT SELECT ON big TO PUBLIC;
});
# SQLSTATE: message / detail of a statement's error, or ok.
for my $db ('postgres', 'other', 'limited')
{
	$node->safe_psql($db, q{
        CREATE EXTENSION IF NOT EXISTS pg_perfaudit;
        CREATE FUNCTION error_of(q text) RETURNS text LANGUAGE plpgsql AS $$
        DECLARE
            d text;
        BEGIN
            EXECUTE q;
            RETURN 'ok';
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
            RETURN SQLSTATE || ': ' || SQLERRM || ' / ' || d;
        END $$;
    });
}

my $clients_running = q{
    (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_perfaudit benchmark client')};

sub cancel_benchmarks
{
	$node->safe_psql('postgres', q{
        SELECT pg_cancel_backend(pid) FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
           AND query LIKE '%benchmark_concurrent%'});
	ok($node->poll_query_until('postgres', "SELECT $clients_running = 0"), 'no client left running');
}

###########################################################################
# 1. The reproduction, and the cap
###########################################################################

my $repro = q{SELECT error_of($q$SELECT perfaudit.benchmark_concurrent('SELECT pg_sleep(0.05)', clients => 15, iterations => 6000, warmup => 0)$q$)};
my $t0 = time;
my $res = $node->safe_psql('postgres', $repro, extra_params => [ '-U', 'mallory' ]);
like($res, qr/^53400: too many benchmark clients for role "mallory"/,
     'the reproduction (15 clients): refused by the per-role cap, 53400');
ok(time - $t0 < 5, 'refused before anything runs');
like($node->safe_psql('postgres', q{SELECT error_of('SET perfaudit.max_benchmark_clients = 100')},
                      extra_params => [ '-U', 'mallory' ]),
     qr/^42501: /, 'an ordinary role cannot raise its own cap');

$node->safe_psql('postgres', 'ALTER ROLE mallory SET perfaudit.max_benchmark_clients = 15');
$res = $node->safe_psql('postgres', $repro, extra_params => [ '-U', 'mallory' ]);
like($res, qr/^53000: not enough background worker slots for 15 benchmark clients/,
     'cap raised for the role: refused by the reserved slots, 53000');
is($node->safe_psql('postgres', "SELECT $clients_running"), '0', 'no client was started');

###########################################################################
# 2. A role holding every slot it may: others still store and parallelise
###########################################################################

my $hog = $node->background_psql('postgres', on_error_stop => 0,
                                 extra_params => [ '-U', 'mallory' ]);
$hog->query_until(qr/started/, q{
    \echo started
    SELECT perfaudit.benchmark_concurrent('SELECT hold(60)', clients => 12, iterations => 12, warmup => 0);
});
ok($node->poll_query_until('postgres', "SELECT $clients_running = 12"),
   'mallory holds 12 clients (16 slots - 4 reserved)');

# stop() of two other roles in two databases at the same moment.
my @stoppers;
for my $who ([ 'alice', 'postgres' ], [ 'bob', 'other' ])
{
	my $s = $node->background_psql($who->[1], on_error_stop => 0,
	                               extra_params => [ '-U', $who->[0] ]);
	$s->query_safe(q{SET perfaudit.persist_timeout = '5s'});
	$s->query_safe(q{SELECT perfaudit.start('while hogged')});
	push @stoppers, $s;
}
$t0 = time;
# Both stop() calls are sent before either is waited for.
$_->query_until(qr/sent/, "\\echo sent\nSELECT run_id > 0 AS stored FROM perfaudit.stop();\n")
  for @stoppers;
my @stopped;
for my $s (@stoppers)
{
	my $out = $s->query(q{SELECT 'fin'});
	push @stopped, "$out$s->{stderr}";
}
my $stop_s = time - $t0;
like($stopped[0], qr/^t\nfin$/, "alice's stop() stores her run while mallory holds her slots");
like($stopped[1], qr/^t\nfin$/, "bob's stop() in another database at the same time too");
unlike(join('', @stopped), qr/timed out|ERROR/, 'no writer timeout');
ok($stop_s < 3, sprintf('both stop() calls returned in %.2f s', $stop_s));
diag(sprintf('two stop() calls in two databases with 12 benchmark clients running: %.3f s', $stop_s));
$_->quit for @stoppers;

my $plan = $node->safe_psql('postgres', q{
    SET max_parallel_workers_per_gather = 2;
    SET parallel_setup_cost = 0;
    SET parallel_tuple_cost = 0;
    SET min_parallel_table_scan_size = 0;
    EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM big},
    extra_params => [ '-U', 'alice' ]);
like($plan, qr/Workers Launched: 2/, 'a parallel query still gets its 2 workers');

# Nobody, superuser included, gets past the reserved slots.
like($node->safe_psql('postgres', q{SELECT error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 2, 4)$$)}),
     qr/^53000: not enough background worker slots for 2 benchmark clients/,
     'a second benchmark would eat into the reserve: 53000');

cancel_benchmarks();
$hog->quit;

###########################################################################
# 3. The per-role cap counts the role's clients over all its sessions
###########################################################################

like($node->safe_psql('postgres', q{SELECT error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 9, 9)$$)},
                      extra_params => [ '-U', 'alice' ]),
     qr/^53400: too many benchmark clients for role "alice"/, '9 clients over the default cap of 8: 53400');
$node->safe_psql('postgres', 'SELECT setval(\'hold_seq\', 1, false)');
$hog = $node->background_psql('postgres', on_error_stop => 0, extra_params => [ '-U', 'alice' ]);
$hog->query_until(qr/started/, q{
    \echo started
    SELECT perfaudit.benchmark_concurrent('SELECT hold(60)', clients => 6, iterations => 12, warmup => 0);
});
ok($node->poll_query_until('postgres', "SELECT $clients_running = 6"), 'alice runs 6 clients in one session');
like($node->safe_psql('postgres', q{SELECT error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 3, 3)$$)},
                      extra_params => [ '-U', 'alice' ]),
     qr/^53400: .*\n?.*/, '3 more from another of her sessions: over the cap, 53400');
is($node->safe_psql('postgres', q{SELECT error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 3, 3)$$)},
                    extra_params => [ '-U', 'bob' ]),
   'ok', 'another role is not counted against her');
is($node->safe_psql('postgres', q{SELECT error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 2, 2)$$)},
                    extra_params => [ '-U', 'alice' ]),
   'ok', 'within her cap: runs');
cancel_benchmarks();
$hog->quit;
$node->safe_psql('postgres', 'ALTER ROLE alice SET perfaudit.max_benchmark_clients = 2');
like($node->safe_psql('postgres', q{SELECT error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 3, 3)$$)},
                      extra_params => [ '-U', 'alice' ]),
     qr/^53400: .*perfaudit.max_benchmark_clients is 2/s, 'ALTER ROLE ... SET lowers it for the role');
$node->safe_psql('postgres', 'ALTER ROLE alice RESET perfaudit.max_benchmark_clients');

###########################################################################
# 4. Connection limits
###########################################################################

like($node->safe_psql('postgres', q{SELECT error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 1, 1)$$)},
                      extra_params => [ '-U', 'carol' ]),
     qr/^53300: too many connections for role "carol"/,
     'CONNECTION LIMIT 1: even one client is one connection too many, 53300');
is($node->safe_psql('postgres', q{SELECT error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 3, 3)$$)},
                    extra_params => [ '-U', 'dave' ]),
   'ok', 'CONNECTION LIMIT 4: the session and 3 clients fit');
like($node->safe_psql('postgres', q{SELECT error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 4, 4)$$)},
                      extra_params => [ '-U', 'dave' ]),
     qr/^53300: too many connections for role "dave"/, 'the session and 4 clients do not');
my $second = $node->background_psql('postgres', extra_params => [ '-U', 'dave' ]);
like($node->safe_psql('postgres', q{SELECT error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 3, 3)$$)},
                      extra_params => [ '-U', 'dave' ]),
     qr/^53300: /, "the role's other sessions are counted (CountUserBackends)");
$second->quit;
$node->safe_psql('postgres', 'SELECT setval(\'hold_seq\', 1, false)');
$hog = $node->background_psql('postgres', on_error_stop => 0, extra_params => [ '-U', 'dave' ]);
$hog->query_until(qr/started/, q{
    \echo started
    SELECT perfaudit.benchmark_concurrent('SELECT hold(60)', clients => 2, iterations => 12, warmup => 0);
});
ok($node->poll_query_until('postgres', "SELECT $clients_running = 2"), 'dave runs 2 clients in one session');
like($node->safe_psql('postgres', q{SELECT error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 1, 1)$$)},
                      extra_params => [ '-U', 'dave' ]),
     qr/^53300: .*/, 'his running clients are counted too: 2 sessions + 2 clients + 1 > 4');
cancel_benchmarks();
$hog->quit;
like($node->safe_psql('limited', q{SELECT error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 2, 2)$$)},
                      extra_params => [ '-U', 'alice' ]),
     qr/^53300: too many connections for database "limited"/,
     "the database's CONNECTION LIMIT 2 counts the clients too");
is($node->safe_psql('limited', q{SELECT error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 1, 1)$$)},
                    extra_params => [ '-U', 'alice' ]),
   'ok', 'one client fits in it');
$node->safe_psql('postgres', 'ALTER ROLE carol SUPERUSER');
is($node->safe_psql('postgres', q{SELECT error_of($$SELECT perfaudit.benchmark_concurrent('SELECT 1', 2, 2)$$)},
                    extra_params => [ '-U', 'carol' ]),
   'ok', 'a superuser is exempt from connection limits, as in core');

###########################################################################
# 5. Nothing left behind
###########################################################################

is($node->safe_psql('postgres', "SELECT $clients_running"), '0', 'no client running');
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|server process .* was terminated/, 'no backend crashed');

$node->stop;
done_testing();
