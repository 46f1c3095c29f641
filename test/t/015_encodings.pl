# Issue 14, item 3: texts cut to fit a bound (statement texts at 4,096
# bytes, tenants at 63, labels, findings, benchmark error messages) end at
# a character boundary, so that a database whose runs hold them dumps and
# restores.  Checked in a UTF8 database and in EUC_JP (a multibyte
# encoding other than UTF8), comparing every restored row with the
# original; also: a tenant setting given invalid in the startup packet is
# not stored, and the tenant_stats views show another database's tenants
# as valid text of the database reading them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('encodings');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_stat_statements,pg_perfaudit'
compute_query_id = on
max_worker_processes = 16
});
$node->start;
my $host = $node->host;
my $port = $node->port;

# Each database: its encoding and a two-byte character of it (hex).
my %char = (UTF8 => 'c3a9', EUC_JP => 'a4a2');
my @tables = (
    [ 'runs', 'run_id' ],
    [ 'run_statements', 'run_id' ],
    [ 'findings', 'finding_id' ],
    [ 'benchmarks', 'benchmark_id' ],
    [ 'baselines', 'name' ]);

# Every row of the extension's tables, as text, in one order.
sub rows_of
{
    my ($db) = @_;
    my $sql = join(" UNION ALL ",
        map { "SELECT '$_->[0]' AS t, md5(string_agg(x::text, E'\\n' ORDER BY x::text COLLATE \"C\")) || ' ' || count(*) AS d FROM perfaudit.$_->[0] x" }
        @tables);
    return $node->safe_psql($db, "SELECT string_agg(t || ' ' || d, E'\\n' ORDER BY t) FROM ($sql) s");
}

foreach my $enc (sort keys %char)
{
    my $db = lc("src_$enc");
    my $hex = $char{$enc};
    my $url = join('', map { '%' . uc($_) } ($hex =~ /(..)/g));
    my $ch = "convert_from('\\x$hex', '$enc')";

    $node->safe_psql('postgres',
        "CREATE DATABASE $db ENCODING '$enc' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
    $node->safe_psql($db, qq{
        SET client_min_messages = warning;
        CREATE EXTENSION pg_perfaudit;
        CREATE TABLE items (id int PRIMARY KEY, organization_id int NOT NULL);
        INSERT INTO items SELECT g, g % 10 FROM generate_series(1, 2000) g;
        ANALYZE items;
        -- fails for tenant 2 with a message of 300 characters (600 bytes)
        CREATE FUNCTION pa_maybe_fail(t int) RETURNS int LANGUAGE plpgsql AS \$\$
        BEGIN
            IF t = 2 THEN
                RAISE EXCEPTION '%', repeat($ch, 300);
            END IF;
            RETURN t;
        END \$\$;
        DO \$\$
        BEGIN
            -- (cut at 63 bytes by PostgreSQL itself)
            EXECUTE format('CREATE TABLE %I (i int)', 't' || repeat($ch, 40));
            EXECUTE format('INSERT INTO %I SELECT g FROM generate_series(1, 2000) g', 't' || repeat($ch, 40));
            EXECUTE format('ANALYZE %I', 't' || repeat($ch, 40));
        END \$\$;
    });
    is($node->safe_psql($db, 'SELECT getdatabaseencoding()'), $enc, "$db is $enc");

    my $out = $node->safe_psql($db, qq{
        SET client_min_messages = warning;
        SET perfaudit.track = 'all';
        SELECT perfaudit.start('label ' || repeat($ch, 200) || E'\\nFindings (0)') IS NOT NULL;
        -- 21 bytes, 4,072 a, then two-byte characters: byte 4,096 is the
        -- first of one
        SELECT format('SELECT octet_length(%L) AS long_literal', repeat('a', 4072) || repeat($ch, 50)) \\gexec
        SELECT format('/* tenant=''%s'' */ SELECT count(*) FROM items WHERE organization_id = 3', repeat('$url', 200)) \\gexec
        SELECT format('SELECT count(*) FROM %I', 't' || repeat($ch, 40)) \\gexec
        SELECT benchmark_id > 0 FROM perfaudit.benchmark('SELECT count(*) FROM items', 3, 0, label => 'bench ' || repeat($ch, 400));
        SELECT errors FROM perfaudit.benchmark_concurrent('SELECT pa_maybe_fail(\$1::int)', 2, 4, ARRAY['1', '2'],
                                                          label => 'concurrent ' || repeat($ch, 400));
        SELECT statements > 0 FROM perfaudit.stop();
        SELECT perfaudit.save_baseline('baseline ' || repeat($ch, 100)) > 0;
    });
    like($out, qr/^t\n.*\nt\n[1-9][0-9]*\nt\nt$/s, "$db: a run with long texts of multibyte characters");

    # A tenant setting in the startup packet is neither converted nor
    # checked by the server: bytes invalid in every encoding here.
    {
        local $ENV{PGOPTIONS} = "-c perfaudit.tenant_setting=app.org -c app.org=x\xff\xfe";
        $node->safe_psql($db, q{
            SET client_min_messages = warning;
            SELECT perfaudit.start('startup option');
            SELECT count(*) FROM items WHERE id = 1;
            SELECT perfaudit.stop();
        });
    }

    # First the dump and restore: with a text cut inside a character, the
    # restore failed at the COPY of run_statements.
    my $dump = $node->basedir . "/$db.sql";
    $node->command_ok([ 'pg_dump', '-h', $host, '-p', $port, '-f', $dump, $db ], "$db: pg_dump");
    my $dst = lc("restored_$enc");
    $node->safe_psql('postgres',
        "CREATE DATABASE $dst ENCODING '$enc' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
    $node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', $host, '-p', $port,
                        '-d', $dst, '-f', $dump ], "$db: restore into a new $enc database");
    my $rows = rows_of($db);
    like($rows, qr/^baselines \w+ [1-9].*\nbenchmarks \w+ 2\nfindings \w+ [1-9].*\nrun_statements \w+ [1-9].*\nruns \w+ 2$/s,
         "$db: the run, its statements, findings, benchmarks and baseline are there");
    is(rows_of($dst), $rows, "$db: every restored row equals its original");

    is($node->safe_psql($db, qq{
        SELECT max(octet_length(query)) || ' ' || bool_and(length(query) >= 0)
          FROM perfaudit.run_statements WHERE query LIKE 'SELECT octet_length(%'}),
       '4095 true', "$db: the 4,096-byte statement text ends at a character boundary");
    is($node->safe_psql($db, qq{
        SELECT octet_length(tenant) || ' ' || (tenant = repeat($ch, 31))
          FROM perfaudit.run_statements WHERE query LIKE '/* tenant=%'}),
       '62 true', "$db: a long URL-encoded tenant tag is kept as its first 31 characters");
    is($node->safe_psql($db, q{
        SELECT count(*) FILTER (WHERE s.tenant IS NULL) || ' ' || count(*)
          FROM perfaudit.run_statements s JOIN perfaudit.runs r USING (run_id)
         WHERE r.label = 'startup option' AND s.query LIKE 'SELECT count(*) FROM items%'}),
       '1 1', "$db: an invalid tenant setting from the startup packet names no tenant");
    is($node->safe_psql($db, qq{
        SELECT bool_and(length(e.value ->> 'message') > 0) || ' ' || max(octet_length(e.value ->> 'message'))
          FROM perfaudit.benchmarks b, jsonb_each(b.error_counts) e WHERE b.label LIKE 'concurrent %'}),
       "true 254", "$db: a benchmark client's error message is cut at a character boundary");

    # Every text of every table is valid: convert_to() reads each character.
    is($node->safe_psql($db, q{
        SELECT count(*) FROM (
            SELECT convert_to(x::text, getdatabaseencoding()) FROM perfaudit.runs x
            UNION ALL SELECT convert_to(x::text, getdatabaseencoding()) FROM perfaudit.run_statements x
            UNION ALL SELECT convert_to(x::text, getdatabaseencoding()) FROM perfaudit.findings x
            UNION ALL SELECT convert_to(x::text, getdatabaseencoding()) FROM perfaudit.benchmarks x
            UNION ALL SELECT convert_to(x::text, getdatabaseencoding()) FROM perfaudit.baselines x) s
         WHERE convert_from(convert_to, getdatabaseencoding()) IS NULL}),
       '0', "$db: every stored text is valid $enc");
}

# The tenant statistics of the EUC_JP database, read from the UTF8 one: one
# shared table keeps every database's tenants, as the bytes of their own
# database's encoding.
is($node->safe_psql('src_utf8', q{
    SELECT count(*) FILTER (WHERE length(s.tenant) >= 0) || ' ' ||
           count(*) FILTER (WHERE s.tenant = repeat(convert_from('\xe38182', 'UTF8'), 31))
      FROM perfaudit.tenant_stats s WHERE s.database = 'src_euc_jp' AND octet_length(s.tenant) > 20}),
   '1 1', 'tenant_stats: an EUC_JP database\'s tenant is shown converted in a UTF8 database');
my $seen = $node->safe_psql('src_euc_jp', q{
    SELECT count(*) FILTER (WHERE length(s.tenant) >= 0) || ' ' || min(convert_to(s.tenant, 'UTF8')::text)
      FROM perfaudit.tenant_statements s WHERE s.database = 'src_utf8' AND octet_length(s.tenant) > 20});
is($seen, '1 \\x' . ('c3a9' x 31),
   'tenant_statements: a UTF8 database\'s tenant (e-acute) is shown converted in an EUC_JP database');

my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|TRAP:|PANIC/, 'no backend crashed');

$node->stop;
done_testing();
