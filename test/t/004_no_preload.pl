# Without shared_preload_libraries: CREATE EXTENSION works, active_run()
# answers NULL, and the capture functions raise a clear error with a hint.
# A database where the extension is not created is unaffected by it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('nopreload');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_perfaudit');
is($node->safe_psql('postgres', 'SELECT perfaudit.active_run() IS NULL'), 't',
   'active_run() is NULL');
my ($ret, $out, $err) = $node->psql('postgres', q{SELECT perfaudit.start('x')});
isnt($ret, 0, 'start() fails');
like($err, qr/pg_perfaudit must be loaded via shared_preload_libraries/, 'with a clear message');
like($err, qr/HINT:  Add pg_perfaudit to shared_preload_libraries/, 'and a hint');
($ret, $out, $err) = $node->psql('postgres', q{SELECT perfaudit.stop()});
like($err, qr/must be loaded via shared_preload_libraries/, 'stop() says the same');
is($node->safe_psql('postgres', 'SELECT count(*) FROM perfaudit.runs'), '0', 'tables are usable');
($ret, $out, $err) = $node->psql('postgres', q{SELECT * FROM perfaudit.tenant_stats});
like($err, qr/must be loaded via shared_preload_libraries/, 'tenant_stats says the same');
($ret, $out, $err) = $node->psql('postgres', q{SELECT perfaudit.reset()});
like($err, qr/must be loaded via shared_preload_libraries/, 'and reset()');
$node->stop;

# Preloaded, but a database without the extension.
my $node2 = PostgreSQL::Test::Cluster->new('noext');
$node2->init;
$node2->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_perfaudit'");
$node2->start;
$node2->safe_psql('postgres', q{CREATE EXTENSION pg_perfaudit; CREATE DATABASE plain;});
is($node2->safe_psql('plain', q{
    CREATE TABLE t (a int); INSERT INTO t VALUES (1);
    PREPARE q AS SELECT a FROM t; EXECUTE q;
    DO $$ BEGIN PERFORM a FROM t; END $$;
    SELECT count(*) FROM t}), "1\n1", 'a database without the extension works normally');
($ret, $out, $err) = $node2->psql('plain', q{LOAD 'pg_perfaudit'; SELECT 1});
is($ret, 0, 'LOAD in that database is harmless');
# A database-scope run in one database does not see the other.
my $owner = $node2->background_psql('postgres');
my $run = $owner->query_safe(q{SELECT perfaudit.start('only postgres', 'database')});
$node2->safe_psql('plain', 'SELECT count(*) FROM t');
is($owner->query_safe('SELECT statements FROM perfaudit.stop()'), '0',
   'statements of another database are not captured');
$owner->quit;
$node2->stop;
done_testing();
