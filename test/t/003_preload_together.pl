# pg_perfaudit preloaded together with pg_stat_statements and auto_explain,
# and with pg_qualstats, pg_stat_kcache and pgaudit too, before and after
# them (failure modes 1 and 14: hook chains, shared memory requests): every
# hook chain works -- each extension still does its job -- and the same
# workload gives identical run results in every arrangement.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $workload = q{
SET perfaudit.track = 'all';
SELECT perfaudit.start('together');
SELECT name FROM items WHERE id = 1;
SELECT name FROM items WHERE id = 2;
PREPARE p(int) AS SELECT count(*) FROM items WHERE organization_id = $1;
EXECUTE p(1); EXECUTE p(2); EXECUTE p(3); EXECUTE p(4); EXECUTE p(5); EXECUTE p(6);
DO $$ BEGIN FOR i IN 1..5 LOOP PERFORM name FROM items WHERE id = i; END LOOP; END $$;
EXPLAIN ANALYZE SELECT count(*) FROM items;
SELECT statements FROM perfaudit.stop();
};
my $result_sql = q{
SELECT string_agg(format('%s|%s|%s|%s', calls, distinct_params, rows, nesting_level), ','
                  ORDER BY query COLLATE "C", nesting_level)
  FROM perfaudit.run_statements
 WHERE run_id = (SELECT max(run_id) FROM perfaudit.runs)};

my %results;
for my $libs ('pg_perfaudit',
              'pg_stat_statements,auto_explain,pg_perfaudit',
              'pg_perfaudit,auto_explain,pg_stat_statements',
              'pg_stat_statements,auto_explain,pg_qualstats,pg_stat_kcache,pgaudit,pg_perfaudit',
              'pg_perfaudit,pg_stat_statements,auto_explain,pg_qualstats,pg_stat_kcache,pgaudit')
{
    my $node = PostgreSQL::Test::Cluster->new('together_' . ($libs =~ tr/,/_/r));
    $node->init;
    $node->append_conf('postgresql.conf', qq{
shared_preload_libraries = '$libs'
auto_explain.log_min_duration = 0
auto_explain.log_analyze = on
auto_explain.log_nested_statements = on
pg_qualstats.sample_rate = 1
pgaudit.log = 'read'
});
    $node->start;
    $node->safe_psql('postgres', q{
        CREATE EXTENSION pg_perfaudit;
        CREATE TABLE items (id int PRIMARY KEY, organization_id int, name text);
        INSERT INTO items SELECT g, g % 10, 'item ' || g FROM generate_series(1, 1000) g;
        ANALYZE items;
    });
    $node->safe_psql('postgres', 'CREATE EXTENSION pg_stat_statements') if $libs =~ /pg_stat_statements/;
    $node->safe_psql('postgres', 'CREATE EXTENSION pg_qualstats') if $libs =~ /pg_qualstats/;
    $node->safe_psql('postgres', 'CREATE EXTENSION pg_stat_kcache') if $libs =~ /pg_stat_kcache/;

    my $log_offset = -s $node->logfile;
    my $stmts = $node->safe_psql('postgres', $workload);
    # 2 lookups, 6 EXECUTEs, DO + its 5 nested lookups, EXPLAIN ANALYZE + its query
    is((split /\n/, $stmts)[-1], '16', "$libs: 16 statements counted");
    $results{$libs} = $node->safe_psql('postgres', $result_sql);

    if ($libs =~ /auto_explain/)
    {
        my $log = slurp_file($node->logfile, $log_offset);
        like($log, qr/Query Text: SELECT name FROM items WHERE id = 1/, "$libs: auto_explain still logs plans");
    }
    if ($libs =~ /pg_stat_statements/)
    {
        is($node->safe_psql('postgres', q{
            SELECT sum(calls) FROM pg_stat_statements
             WHERE query LIKE 'PREPARE p(int) AS SELECT count(*) FROM items%'}),
           '6', "$libs: pg_stat_statements still counts the prepared statement");
    }
    if ($libs =~ /pg_qualstats/)
    {
        ok($node->safe_psql('postgres', q{
            SELECT count(*) > 0 FROM pg_qualstats() q
              JOIN pg_attribute a ON a.attrelid = q.lrelid AND a.attnum = q.lattnum
             WHERE q.lrelid = 'items'::regclass AND a.attname = 'organization_id'}) eq 't',
           "$libs: pg_qualstats still samples the predicates");
    }
    if ($libs =~ /pg_stat_kcache/)
    {
        ok($node->safe_psql('postgres', q{
            SELECT count(*) > 0 FROM pg_stat_kcache_detail
             WHERE query LIKE 'PREPARE p(int) AS SELECT count(*) FROM items%'}) eq 't',
           "$libs: pg_stat_kcache still records the statements");
    }
    if ($libs =~ /pgaudit/)
    {
        my $log = slurp_file($node->logfile, $log_offset);
        like($log, qr/AUDIT: SESSION,\d+,\d+,READ,SELECT,,,SELECT name FROM items WHERE id = 1/,
             "$libs: pgaudit still audits the reads");
    }
    $node->stop;
}

my @keys = sort keys %results;
for my $k (@keys[1 .. $#keys])
{
    is($results{$k}, $results{$keys[0]}, "$k gives the same run as $keys[0]");
}
done_testing();
