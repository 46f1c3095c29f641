# pgTAP interop: a pgTAP suite (test/pgtap/perfaudit_test.sql) run with
# pg_prove against the multi-tenant fixture, as an application's CI would:
# ok(perfaudit.assert_...), throws_ok(..., 'PA001'), each file one
# transaction rolled back at the end.  Afterwards the runs the suite made
# are in perfaudit.runs with their findings: the evidence outlives the
# rollback.
use strict;
use warnings;
use File::Basename;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pg_prove = `command -v pg_prove 2>/dev/null`;
chomp $pg_prove;
plan skip_all => 'pg_prove is not installed (test/run-tests.sh installs it)' unless $pg_prove;

my $here = dirname(__FILE__);
my $node = PostgreSQL::Test::Cluster->new('pgtap');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_stat_statements,pg_perfaudit'
});
$node->start;
my ($stdout, $stderr);
ok(IPC::Run::run([ 'bash', "$here/../fixtures/fixture.sh", '-h', $node->host, '-p', $node->port, '-d', 'postgres' ],
                 '>', \$stdout, '2>', \$stderr),
   'fixture loads') or diag($stderr);
$node->safe_psql('postgres', 'CREATE EXTENSION pg_perfaudit; CREATE EXTENSION pgtap;');

my ($out, $err) = ('', '');
my $ok = IPC::Run::run([ $pg_prove, '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-v',
                         "$here/../pgtap/perfaudit_test.sql" ],
                       '>', \$out, '2>', \$err);
ok($ok, 'pg_prove passes the suite') or diag("$out\n$err");
like($out, qr/^ok 3 - lazy loading: the N\+1 is caught \(PA001\)$/m, 'the N+1 test ran and passed');
like($out, qr/^All tests successful\./m, 'pg_prove: all tests successful');

is($node->safe_psql('postgres', q{
    SELECT string_agg(format('%s:%s', r.label,
                             (SELECT string_agg(DISTINCT f.kind, '+' ORDER BY f.kind)
                                FROM perfaudit.findings f WHERE f.run_id = r.run_id)), ',' ORDER BY r.run_id)
      FROM perfaudit.runs r WHERE r.label LIKE 'pgtap:%'}),
   # acting as organization 7, the unscoped count read every organization's rows
   'pgtap: users page, eager:,pgtap: users page, lazy:n_plus_one,pgtap: unscoped:cross_tenant_access+seq_scan+unscoped_tenant_query',
   'after the suite rolled back: its runs and their findings are stored');

$node->stop;
done_testing();
