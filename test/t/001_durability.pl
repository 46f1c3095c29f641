# A run's rows must be visible to a second session as soon as stop()
# returns, and stay there when the caller's transaction is rolled back or
# aborted by an error (how test harnesses and failing assertions end).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('durability');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_perfaudit'");
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION pg_perfaudit;
    CREATE TABLE items (id int PRIMARY KEY, organization_id int, name text);
    INSERT INTO items SELECT g, g % 10, 'item ' || g FROM generate_series(1, 1000) g;
});

# The harness keeps going after an error, as an application's connection does.
my $harness = $node->background_psql('postgres', on_error_stop => 0);

# Rolled-back test transaction (Laravel RefreshDatabase, Django TestCase).
$harness->query_safe('BEGIN');
my $run = $harness->query_safe(q{SELECT perfaudit.start('rolled back test')});
$harness->query_safe("SELECT name FROM items WHERE id = $_") for 1 .. 3;
my $stmts = $harness->query_safe('SELECT statements FROM perfaudit.stop()');
is($stmts, '3', 'stop() counts the three lookups');
is($node->safe_psql('postgres', "SELECT statements FROM perfaudit.runs WHERE run_id = $run"),
   '3', 'a second session sees the run while the caller\'s transaction is still open');
$harness->query_safe('ROLLBACK');
is($node->safe_psql('postgres', "SELECT statements FROM perfaudit.runs WHERE run_id = $run"),
   '3', 'the run survives the caller\'s ROLLBACK');
is($node->safe_psql('postgres', "SELECT sum(calls) FROM perfaudit.run_statements WHERE run_id = $run"),
   '3', 'its statements survive too');

# Aborted transaction: an error after stop() (a failing assertion).
$harness->query_safe('BEGIN');
my $run2 = $harness->query_safe(q{SELECT perfaudit.start('aborted test')});
$harness->query_safe('SELECT name FROM items WHERE id = 4');
$harness->query_safe('SELECT statements FROM perfaudit.stop()');
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT 1');    # unrelated session
$harness->query('SELECT 1 / 0');
like($harness->{stderr}, qr/division by zero/, 'the harness transaction is aborted');
$harness->{stderr} = '';
is($node->safe_psql('postgres', "SELECT statements FROM perfaudit.runs WHERE run_id = $run2"),
   '1', 'a second session sees the run of the aborted transaction');
$harness->query_safe('ROLLBACK');
is($node->safe_psql('postgres', "SELECT count(*) FROM perfaudit.runs WHERE run_id = $run2"),
   '1', 'still there after ROLLBACK of the aborted transaction');

# Error before stop(): the run stays active across the rollback.
$harness->query_safe('BEGIN');
my $run3 = $harness->query_safe(q{SELECT perfaudit.start('error before stop')});
$harness->query_safe('SELECT name FROM items WHERE id = 5');
$harness->query('SELECT 1 / 0');
$harness->{stderr} = '';
$harness->query_safe('ROLLBACK');
is($harness->query_safe('SELECT perfaudit.active_run()'), $run3, 'run still active after the rollback');
$harness->query_safe('SELECT perfaudit.stop()');
is($node->safe_psql('postgres', "SELECT statements FROM perfaudit.runs WHERE run_id = $run3"),
   '2', 'stored after the rollback: the lookup and active_run(), not the failed statement');

# A burst of runs from many sessions: none lost, none mixed up.
my @sessions = map { $node->background_psql('postgres') } 1 .. 8;
my %runs;
for my $i (0 .. $#sessions)
{
    my $s = $sessions[$i];
    my $id = $s->query_safe("SELECT perfaudit.start('burst $i')");
    $s->query_safe("SELECT name FROM items WHERE id = $_") for 1 .. ($i + 1);
    $runs{$id} = $i + 1;
}
$_->query_safe('SELECT perfaudit.stop()') for @sessions;
my $ok = 1;
for my $id (keys %runs)
{
    my $n = $node->safe_psql('postgres', "SELECT statements FROM perfaudit.runs WHERE run_id = $id");
    $ok = 0 unless $n eq $runs{$id};
}
ok($ok, 'eight concurrent sessions each stored their own run with their own count');
$_->quit for @sessions;

# The writer is a visible, named background worker that leaves when idle.
like($node->safe_psql('postgres',
        q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_perfaudit writer'}),
    qr/^[01]$/, 'at most one writer for the database');

# pg_dump keeps the results (extension configuration tables), and they
# restore into a new database.
my $dump = $node->basedir . '/results.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr('postgres'), '-f', $dump ], 'pg_dump runs');
like(slurp_file($dump), qr/rolled back test/, 'the dump holds the runs');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('restored'), '-f', $dump ],
    'the dump restores');
is($node->safe_psql('restored', "SELECT statements FROM perfaudit.runs WHERE run_id = $run"),
   '3', 'the restored database has the run');

$harness->quit;
$node->stop;
done_testing();
