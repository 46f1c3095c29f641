# The multi-tenant fixture under a captured, application-like workload:
# loads it at a small size through its own script, then checks that a run
# over tenant-scoped requests counts exactly what was sent, keeps each
# statement's parameters apart, and that the hierarchy is 10 levels deep.
use strict;
use warnings;
use File::Basename;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $fixture = dirname(__FILE__) . '/../fixtures/fixture.sh';

my $node = PostgreSQL::Test::Cluster->new('fixture');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_perfaudit'
perfaudit.track = all
});
$node->start;

my ($stdout, $stderr);
my $ok = IPC::Run::run(
    [ 'bash', $fixture, '-h', $node->host, '-p', $node->port, '-d', 'postgres',
      '-v', 'orgs=200', '-v', 'users=1000', '-v', 'servers=300',
      '-v', 'metrics_per_server=5', '-v', 'apps=400' ],
    '>', \$stdout, '2>', \$stderr);
ok($ok, 'fixture loads at a small size') or diag($stderr);

is($node->safe_psql('postgres', q{
    SELECT (SELECT count(*) FROM app.organizations) || '|' ||
           (SELECT count(DISTINCT depth) FROM app.organizations) || '|' ||
           (SELECT count(*) FROM app.users)}),
   '200|10|1000', 'sizes follow the variables, 10 hierarchy levels');

$node->safe_psql('postgres', 'CREATE EXTENSION pg_perfaudit');

# One "request": the organization's users, then a lookup per user (N+1),
# done by a PL/pgSQL function as an ORM loop would.
$node->safe_psql('postgres', q{
CREATE FUNCTION user_page(org bigint) RETURNS int LANGUAGE plpgsql AS $$
DECLARE u record; n int := 0; o text;
BEGIN
    FOR u IN SELECT id, organization_id FROM app.users WHERE organization_id = org LOOP
        SELECT name INTO o FROM app.organizations WHERE id = u.organization_id;
        SELECT hostname INTO o FROM app.servers WHERE organization_id = u.organization_id LIMIT 1;
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
});
my $users = $node->safe_psql('postgres',
    'SELECT count(*) FROM app.users WHERE organization_id = 7');
my $out = $node->safe_psql('postgres', q{
SELECT perfaudit.start('user page');
SELECT user_page(7);
SELECT statements FROM perfaudit.stop();
});
my @lines = split /\n/, $out;
is($lines[-1], 2 + 2 * $users, "one call, the loop query, and two lookups per user ($users users)");

is($node->safe_psql('postgres', q{
    SELECT calls FROM perfaudit.run_statements
     WHERE run_id = (SELECT max(run_id) FROM perfaudit.runs)
       AND query LIKE 'SELECT name%organizations%'}),
   $users, 'the per-user lookup is one statement with a call per user');

# The recursive hierarchy walk reaches depth 10 from a root.
is($node->safe_psql('postgres', q{
    WITH RECURSIVE tree AS (
        SELECT id, 1 AS lvl FROM app.organizations WHERE parent_id IS NULL
        UNION ALL
        SELECT o.id, t.lvl + 1 FROM app.organizations o JOIN tree t ON o.parent_id = t.id)
    SELECT max(lvl) FROM tree}),
   '10', 'walking down from the roots reaches level 10');

# A clean workload: tenant-scoped requests that use their indexes, the
# hierarchy walked from an organization, prepared statements over the
# extended protocol (pgbench -M prepared: custom, then generic plans), one
# request per organization.  Zero findings.
$node->safe_psql('postgres', 'SET perfaudit.track = top; ANALYZE');
my $clean = $node->background_psql('postgres');
my $clean_run = $clean->query_safe(q{SELECT perfaudit.start('clean', 'database')});
$node->pgbench(
    '-n -M prepared -c 40 -j 2 -t 1', 0,
    [qr{processed: 40/40}], [qr{^$}], 'clean, scoped, indexed requests',
    {
        'request.sql' => q{
\set org 100 + :client_id
SELECT id, name, email FROM app.users WHERE organization_id = :org ORDER BY id LIMIT 20;
SELECT s.id, s.hostname, count(m.id) FROM app.servers s
  LEFT JOIN app.metrics m ON m.organization_id = s.organization_id AND m.server_id = s.id
 WHERE s.organization_id = :org GROUP BY s.id, s.hostname;
SELECT count(*) FROM app.users u JOIN app.servers s ON s.organization_id = u.organization_id
 WHERE u.organization_id = :org;
WITH RECURSIVE sub AS (
    SELECT id FROM app.organizations WHERE id = :org
    UNION ALL
    SELECT o.id FROM app.organizations o JOIN sub ON o.parent_id = sub.id)
SELECT count(*) FROM sub;
SELECT name FROM app.plans WHERE code = 'pro';
}
    });
$clean->query_safe('SELECT perfaudit.stop()');
is($node->safe_psql('postgres', qq{
    SELECT statements || '|' || findings FROM perfaudit.runs WHERE run_id = $clean_run}),
   '200|0', 'the clean workload: 200 statements, zero findings')
  or diag($node->safe_psql('postgres', qq{
    SELECT kind, relation, tenant, query FROM perfaudit.findings WHERE run_id = $clean_run}));
is($node->safe_psql('postgres', qq{
    SELECT perfaudit.assert_no_findings(NULL, $clean_run)}),
   't', 'assert_no_findings passes on it');

$node->stop;
done_testing();
