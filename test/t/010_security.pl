# Security: what ordinary roles can see and do, a hostile search_path, no
# privilege escalation through the background workers, and junk input.
#
# 1. Privileges, with real logins: alice and bob (ordinary roles) and carol
#    (pg_read_all_stats).  Each reads only her own runs, run_statements,
#    findings and benchmarks (query texts included); carol reads everyone's;
#    a grant of alice's role to bob shows him hers; another role's run is
#    "not visible" to report(), report_json(), the assertions and
#    save_baseline(); a database-scope run records other roles' statements
#    under its owner, so they stay hidden from them.  Tenant statistics and
#    tenant_stats_info() need pg_read_all_stats or a grant, reset() a grant;
#    a database-scope capture needs pg_read_all_stats (granting it is
#    enough); nobody writes the results tables or calls the storing
#    functions; another role's baseline cannot be replaced, not even through
#    the internal functions directly.
# 2. Hostile search_path: mallory owns database "hostile" and so schema
#    public (PostgreSQL 15), plants operators (= <> < > <= >= || -> ->> ? ~
#    ...) and functions (now, format, jsonb_build_object, count(*), ...)
#    there whose body records the call and, run by a superuser, makes her a
#    superuser, and sets the database's search_path to public, pg_catalog
#    (the writer and the benchmark clients get it too).  A schema perfaudit
#    planted before CREATE EXTENSION makes it fail.  Then a superuser with
#    search_path = public, pg_catalog creates the extension and uses every
#    function; nothing planted may run, no extension object may depend on a
#    planted one.  A positive control shows the trap works.
# 3. benchmark(), benchmark_concurrent() and the assertions run as the
#    caller: permission denied (42501) on a table alice cannot read or
#    write, row-level security applied to her in the clients, current_user
#    and session_user recorded by the benchmarked statement, the same after
#    a superuser's SET ROLE alice and inside alice's SECURITY DEFINER
#    function (where SET ROLE back to the superuser must fail in the
#    clients as it does in the caller).
# 4. Junk text: quotes and backslashes, unicode, control characters,
#    pseudo-random code points, 1.1 MB strings, multi-statement strings, the
#    empty string, only a comment, a JSON-injection attempt, as labels,
#    queries, tenants, scopes, finding kinds and baseline names and
#    documents, from alice: each call works (labels and texts stored byte
#    for byte, under alice) or fails with a proper SQLSTATE, never XX000.
#    Then bytes that are not UTF-8 (a URL-encoded tenant tag), characters
#    cut by the extension's length limits (tenants, error messages), and a
#    table name holding the extension's internal separators (\x1e, \x1f).
#    Finally the server is up, and its log shows no crash and no XX000.
#
# The holes this test found (a superuser escalation through operators
# planted in public, baselines readable by all, invalid UTF-8 stored, plan
# facts split by names holding the separators) were fixed; the reasons
# that name them stay with the checks.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Basename qw(dirname);

my $node = PostgreSQL::Test::Cluster->new('security');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_perfaudit'
max_worker_processes = 12
log_line_prefix = '%m [%p] %e '
});
$node->start;
my $su = $node->safe_psql('postgres', 'SELECT current_user');

# Run SQL as a role; dies on error.
sub as_role
{
	my ($role, $db, $sql) = @_;
	return $node->safe_psql($db, $sql, extra_params => [ '-U', $role ]);
}

# Check statements as a role in one session.  Each check is [statement,
# expected (a string, or a regex), test name, TODO reason if a known hole];
# the statement's result is its first column as text, or "SQLSTATE:
# message (detail)" (pa_eval()).  $prefix is SQL run first (SET ROLE).
sub check_as
{
	my ($role, $prefix, @checks) = @_;
	my $sql = $prefix;
	for my $i (0 .. $#checks)
	{
		$sql .= "\nSELECT 'R|$i|' || pa_eval(\$pa_q\$$checks[$i][0]\$pa_q\$);";
	}
	my %res;
	for my $line (split /\n/, as_role($role, 'app', $sql))
	{
		$res{$1} = $2 if $line =~ /^R\|(\d+)\|(.*)$/;
	}
	for my $i (0 .. $#checks)
	{
		my ($stmt, $want, $name, $todo) = @{ $checks[$i] };
		my $got = $res{$i} // '(no result)';
		if (ref $want)
		{
			like($got, $want, "$role: $name");
		}
		else
		{
			is($got, $want, "$role: $name");
		}
	}
}

$node->safe_psql('postgres', qq{
    CREATE ROLE alice LOGIN;
    CREATE ROLE bob LOGIN;
    CREATE ROLE carol LOGIN IN ROLE pg_read_all_stats;
    CREATE ROLE mallory LOGIN;
    CREATE DATABASE app;
    CREATE DATABASE hostile OWNER mallory;
});
$node->safe_psql('app', q{
    CREATE EXTENSION pg_perfaudit;
    -- pa_eval(q): q's first column as text, or "SQLSTATE: message"
    CREATE FUNCTION public.pa_eval(q text) RETURNS text LANGUAGE plpgsql AS $$
    DECLARE
        r text;
        d text;
    BEGIN
        EXECUTE q INTO r;
        RETURN COALESCE(r, 'NULL');
    EXCEPTION WHEN others THEN
        GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
        RETURN SQLSTATE || ': ' || left(regexp_replace(SQLERRM || COALESCE(' (' || d || ')', ''),
                                                       '[[:space:][:cntrl:]]+', ' ', 'g'), 200);
    END $$;
    CREATE FUNCTION public.pa_valid_utf8(t text) RETURNS boolean LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM convert_from(textsend(t), 'UTF8');
        RETURN true;
    EXCEPTION WHEN character_not_in_repertoire THEN
        RETURN false;
    END $$;
    CREATE TABLE items (id int PRIMARY KEY, organization_id int NOT NULL, name text NOT NULL);
    INSERT INTO items SELECT g, g % 10, 'item ' || g FROM generate_series(1, 2000) g;
    ANALYZE items;
    GRANT SELECT ON items TO alice, bob, carol;
    CREATE TABLE secret (v text);
    INSERT INTO secret VALUES ('only the superuser reads this');
    CREATE TABLE who (via text, cu name, su name);
    GRANT SELECT, INSERT ON who TO alice;
    CREATE TABLE scoped (organization_id int, v int);
    INSERT INTO scoped SELECT g % 10, g FROM generate_series(1, 100) g;
    ALTER TABLE scoped ENABLE ROW LEVEL SECURITY;
    CREATE POLICY org_1 ON scoped FOR SELECT TO alice USING (organization_id = 1);
    GRANT SELECT ON scoped TO alice;
    CREATE FUNCTION alice_bench(q text, clients int) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER AS $$
    BEGIN
        IF clients > 1 THEN
            RETURN (perfaudit.benchmark_concurrent(q, clients, 4)).errors;
        END IF;
        RETURN (perfaudit.benchmark(q, 2)).errors;
    END $$;
    ALTER FUNCTION alice_bench(text, int) OWNER TO alice;
});

###########################################################################
# 1. Privileges
###########################################################################

for my $who ('alice', 'bob')
{
	as_role($who, 'app', qq{
        SELECT perfaudit.start('$who run');
        SELECT name FROM items WHERE id = 1 /* $who-secret */;
        SELECT name FROM items WHERE id = 2 /* $who-secret */;
        SELECT name FROM items WHERE id = 3 /* $who-secret */;
        SELECT name FROM items WHERE id = 4 /* $who-secret */;
        SELECT name FROM items WHERE id = 5 /* $who-secret */;
        SELECT name FROM items WHERE id = 6 /* $who-secret */;
        SELECT statements FROM perfaudit.stop();
        SELECT seq_scans FROM perfaudit.benchmark(
            'SELECT id FROM items WHERE name = ''$who-secret''', 3, label => '$who bench');
        SELECT perfaudit.save_baseline('${who}_base');
    });
}

# A database-scope run records alice's and bob's statements under carol.
my $carol = $node->background_psql('app', extra_params => [ '-U', 'carol' ]);
$carol->query_safe(q{SELECT perfaudit.start('carol database run', 'database')});
as_role('alice', 'app', 'SELECT id FROM items WHERE id = 11 /* alice-dbscope */');
as_role('bob', 'app', 'SELECT name, id FROM items WHERE id = 12 /* bob-dbscope */');
is($carol->query_safe('SELECT statements FROM perfaudit.stop()'), '2',
	"carol's database run counted alice's and bob's statements");
$carol->quit;

# What a role sees of $who's rows: runs, run_statements, findings and
# benchmarks (the last three by their query texts).
sub visible
{
	my ($who) = @_;
	return qq{SELECT (SELECT count(*) FROM perfaudit.runs WHERE label = '$who run') || ',' ||
                     (SELECT count(*) FROM perfaudit.run_statements WHERE query LIKE '%$who-secret%') || ',' ||
                     (SELECT count(*) FROM perfaudit.findings WHERE query LIKE '%$who-secret%') || ',' ||
                     (SELECT count(*) FROM perfaudit.benchmarks WHERE query LIKE '%$who-secret%')};
}
my $dbrun_rows = q{SELECT (SELECT count(*) FROM perfaudit.runs WHERE label = 'carol database run') || ',' ||
                          (SELECT count(*) FROM perfaudit.run_statements WHERE query LIKE '%-dbscope%')};
my $alice_base_sql = q{SELECT count(*) || '/' || max(value) FROM perfaudit.baselines WHERE name = 'alice_base'};
my ($all_alice, $all_bob, $alice_run, $alice_base) =
  split /\n/, $node->safe_psql('app', join(";\n", visible('alice'), visible('bob'),
		q{SELECT run_id FROM perfaudit.runs WHERE label = 'alice run'}, $alice_base_sql));
like($all_alice, qr/^1,1,[1-9]\d*,1$/, "alice's run, statement, findings and benchmark are stored ($all_alice)");
like($all_bob, qr/^1,1,[1-9]\d*,1$/, "bob's likewise ($all_bob)");
like($node->safe_psql('app', "SELECT count(*) FROM perfaudit.baselines WHERE query LIKE '%alice-secret%'"),
	qr/^[1-9]/, "alice's baseline holds her statement texts");

my $dbstart = q{SELECT perfaudit.start('db', 'database') IS NOT NULL AND perfaudit.discard_run() IS NOT NULL};
my $denied = qr/^42501: /;
my $baseline_hole = 'hole: perfaudit.baselines has no row-level security: anyone reads every baseline, '
  . 'statement texts included';
my @not_visible = map { [ "SELECT count(*) FROM $_", qr/^22023: .*not visible/, "$_ says the run is not visible" ] }
  ("perfaudit.report($alice_run)", "perfaudit.report_json($alice_run)",
	"perfaudit.assert_max_queries(1000, $alice_run)", "perfaudit.assert_no_findings(NULL, $alice_run)",
	"perfaudit.save_baseline('bob_steals', $alice_run)");
my @stats = map { [ $_, $denied, "$_ is denied" ] }
  ('SELECT count(*) FROM perfaudit.tenant_stats', 'SELECT count(*) FROM perfaudit.tenant_statements',
	'SELECT tenants FROM perfaudit.tenant_stats_info()', 'SELECT count(*) FROM perfaudit._tenant_stats()',
	'SELECT count(*) FROM perfaudit._tenant_statements()', 'SELECT perfaudit.reset()');
my @writes = map { [ $_, $denied, "$_ is denied" ] }
  ('DELETE FROM perfaudit.baselines', q{UPDATE perfaudit.benchmarks SET label = 'x'},
	'TRUNCATE perfaudit.findings',
	q{INSERT INTO perfaudit.baselines (name, metric, key, value, userid) VALUES ('x', 'm', '', 1, 10)},
	q{SELECT perfaudit._store_benchmark('{}', NULL)}, q{SELECT perfaudit._store_baseline('{}')},
	q{SELECT perfaudit._store_findings('[]')}, q{SELECT perfaudit._store_run('{}')});
# The benchmarked statement runs as the caller: denied where alice is.
my @as_caller = map { [ "SELECT 'ran' FROM $_", $denied, "$_ is denied" ] }
  (q{perfaudit.benchmark('SELECT * FROM secret', 3)},
	q{perfaudit.benchmark_concurrent('SELECT * FROM secret', 2, 4)},
	q{perfaudit.benchmark('INSERT INTO secret VALUES (''pwned'')', 1)},
	q{perfaudit.benchmark_concurrent('INSERT INTO secret VALUES (''pwned'')', 2, 4)},
	q{perfaudit.benchmark_concurrent('DELETE FROM secret', 2, 4, rollback => true)},
	q{perfaudit.assert_query_time('SELECT * FROM secret', 1e9)},
	q{perfaudit.assert_no_seq_scan('SELECT * FROM secret')},
	q{perfaudit.assert_no_memory_growth('SELECT * FROM secret', 2)});
# The benchmarked statement records who runs it, in the caller and in the
# clients; row-level security applies to the caller in the clients too.
my $rec = q{INSERT INTO who SELECT ''%s'', current_user, session_user};
sub who_checks
{
	my ($tag) = @_;
	return ([ sprintf(q{SELECT errors FROM perfaudit.benchmark('%s', 3)}, sprintf($rec, "$tag: benchmark")),
			'0', "$tag: benchmark() of an INSERT recording the user" ],
		[ sprintf(q{SELECT errors FROM perfaudit.benchmark_concurrent('%s', 2, 4)}, sprintf($rec, "$tag: concurrent")),
			'0', "$tag: benchmark_concurrent() of it" ],
		[ q{SELECT rows_per_call FROM perfaudit.benchmark('SELECT v FROM scoped', 3)}, '10',
			"$tag: benchmark() sees the rows alice's policy shows her" ],
		[ q{SELECT rows_per_call FROM perfaudit.benchmark_concurrent('SELECT v FROM scoped', 2, 4)}, '10',
			"$tag: the clients of benchmark_concurrent() too" ]);
}

check_as('alice', '',
	[ visible('alice'), $all_alice, 'reads her own rows and texts' ],
	[ visible('bob'), '0,0,0,0', "reads none of bob's rows or texts" ],
	[ $dbrun_rows, '0,0', "reads nothing of carol's database run, not even her own statement" ],
	[ "SELECT perfaudit.report_json($alice_run)::text LIKE '%alice-secret%'", 'true', 'reads her own report' ],
	@stats,
	[ $dbstart, $denied, 'a database-scope capture is denied' ],
	@writes,
	@as_caller,
	who_checks('alice login'));
check_as('bob', '',
	[ visible('alice'), '0,0,0,0', "reads none of alice's rows or texts" ],
	[ $dbrun_rows, '0,0', "reads nothing of carol's database run" ],
	@not_visible,
	[ q{SELECT count(*) FROM perfaudit.baselines WHERE query LIKE '%alice-secret%'}, '0',
		"cannot read alice's statement texts in perfaudit.baselines", $baseline_hole ],
	[ q{SELECT CASE WHEN perfaudit.export_baseline('alice_base')::text LIKE '%alice-secret%' THEN 'leaked' ELSE 'hidden' END},
		qr/^(hidden|42501: |42704: )/, "cannot read them through export_baseline('alice_base')", $baseline_hole ],
	[ q{SELECT perfaudit.save_baseline('alice_base')}, $denied, "save_baseline('alice_base') is denied" ],
	[ q{SELECT perfaudit.import_baseline('{"name": "alice_base", "metrics": [{"metric": "run.statements", "value": 1e9}]}')},
		$denied, "import_baseline() of alice's baseline name is denied" ],
	[ q{SELECT perfaudit._baseline_from_doc('{"name": "alice_base", "metrics": [{"metric": "run.statements", "value": 1e9}]}')},
		qr/^42501: permission denied for function _baseline_from_doc/,
		'the internal check of import_baseline() cannot be called directly' ],
	[ $dbstart, $denied, 'a database-scope capture is denied' ],
	[ 'SELECT perfaudit.reset()', $denied, 'reset() is denied' ]);
check_as('carol', '',
	[ visible('alice'), $all_alice, "reads alice's rows and texts (pg_read_all_stats)" ],
	[ visible('bob'), $all_bob, "reads bob's" ],
	[ $dbrun_rows, '1,2', "reads the other roles' statements in her database run" ],
	[ "SELECT perfaudit.report_json($alice_run)::text LIKE '%alice-secret%'", 'true', "reads alice's report" ],
	[ 'SELECT count(*) >= 0 FROM perfaudit.tenant_stats', 'true', 'reads tenant_stats' ],
	[ 'SELECT tenants >= 0 FROM perfaudit.tenant_stats_info()', 'true', 'reads tenant_stats_info()' ],
	[ 'SELECT perfaudit.reset()', $denied, 'reset() is denied' ],
	[ $dbstart, 'true', 'starts a database-scope capture' ]);
is($node->safe_psql('app', $alice_base_sql), $alice_base, "alice's baseline is unchanged");

# Grants open what README says they open, and revoking closes it again.
$node->safe_psql('app', q{
    GRANT alice TO bob;
    GRANT SELECT ON perfaudit.tenant_stats TO bob;
    GRANT EXECUTE ON FUNCTION perfaudit.reset() TO bob;
    GRANT pg_read_all_stats TO alice;
});
check_as('bob', '',
	[ visible('alice'), $all_alice, "granted alice's role, reads her rows and texts" ],
	[ 'SELECT count(*) >= 0 FROM perfaudit.tenant_stats', 'true', 'granted SELECT, reads tenant_stats' ],
	[ 'SELECT perfaudit.reset() IS NOT NULL', 'true', 'granted EXECUTE, resets' ]);
check_as('alice', '', [ $dbstart, 'true', 'granted pg_read_all_stats, starts a database-scope capture' ]);
$node->safe_psql('app', q{
    REVOKE alice FROM bob;
    REVOKE SELECT ON perfaudit.tenant_stats FROM bob;
    REVOKE EXECUTE ON FUNCTION perfaudit.reset() FROM bob;
    REVOKE pg_read_all_stats FROM alice;
});
check_as('bob', '',
	[ visible('alice'), '0,0,0,0', "revoked, reads none of alice's rows again" ],
	[ 'SELECT count(*) FROM perfaudit.tenant_stats', $denied, 'revoked, tenant_stats is denied again' ],
	[ 'SELECT perfaudit.reset()', $denied, 'revoked, reset() is denied again' ]);
check_as('alice', '', [ $dbstart, $denied, 'revoked, a database-scope capture is denied again' ]);
{
	is($node->safe_psql('app',
			q{SELECT has_function_privilege('alice', 'perfaudit._benchmark_row(jsonb, float8[])', 'EXECUTE')}),
		'f', 'alice cannot call the internal _benchmark_row()');
}

###########################################################################
# 3. Benchmarks run as the caller (alice's own login is checked above)
###########################################################################

# After SET ROLE alice, the superuser's benchmarks run as alice.
check_as($su, 'SET ROLE alice;', @as_caller[ 0, 1 ], who_checks('SET ROLE'));
# Inside alice's SECURITY DEFINER function they run as alice, and SET ROLE
# back to the superuser fails in the clients as it does in the caller.
my $setrole = q{INSERT INTO who SELECT ''definer: set role'', current_user, session_user
                  FROM (SELECT set_config(''role'', ''} . $su . q{'', false)) s};
check_as($su, '',
	[ sprintf(q{SELECT alice_bench('%s', 1)}, sprintf($rec, 'definer: benchmark')), '0',
		"alice's SECURITY DEFINER function: benchmark() of the INSERT" ],
	[ sprintf(q{SELECT alice_bench('%s', 2)}, sprintf($rec, 'definer: concurrent')), '0',
		'the same through benchmark_concurrent()' ],
	[ sprintf(q{SELECT alice_bench('%s', 1)}, $setrole), qr/^42501: .*security-definer/,
		"there, benchmark() of SET ROLE $su fails" ],
	[ sprintf(q{SELECT alice_bench('%s', 2)}, $setrole), qr/^42501: .*security-definer/,
		'and so does benchmark_concurrent()' ],
	[ q{SELECT alice_bench('SELECT * FROM secret', 2)}, $denied, 'and a table alice cannot read is denied' ],
	[ q{SELECT string_agg(via || ' = ' || users, '; ' ORDER BY via COLLATE "C") FROM
          (SELECT via, string_agg(DISTINCT cu || '/' || su, ',') AS users FROM who GROUP BY via) w},
		join('; ', "SET ROLE: benchmark = alice/$su", "SET ROLE: concurrent = alice/$su",
			'alice login: benchmark = alice/alice', 'alice login: concurrent = alice/alice',
			"definer: benchmark = alice/$su", "definer: concurrent = alice/$su"),
		'current_user was alice in every execution, in the caller and in the clients' ],
	[ q{SELECT string_agg(v, ',') FROM secret}, 'only the superuser reads this',
		'the table alice cannot write is unchanged' ]);

###########################################################################
# 2. Hostile search_path
###########################################################################

$node->safe_psql('hostile', q{
    CREATE TABLE public.items (id int PRIMARY KEY, organization_id int NOT NULL, name text NOT NULL);
    INSERT INTO public.items SELECT g, g % 10, 'item ' || g FROM generate_series(1, 2000) g;
    ANALYZE public.items;
});

# mallory's shadows (test/security/shadows.sql): for every name and
# operator the installed script uses, a function, aggregate, operator,
# collation and domain of that name in public whose body records who ran it
# and the top-level statement, and a superuser running it makes her one.
my $install_script = slurp_file($node->config_data('--sharedir') . '/extension/pg_perfaudit--'
	  . $node->safe_psql('postgres',
		q{SELECT default_version FROM pg_available_extensions WHERE name = 'pg_perfaudit'})
	  . '.sql');
# and the SQL our C code runs (its string literals)
my $csql = join("\n", map { join("\n", slurp_file($_) =~ /"((?:[^"\\\n]|\\.)*)"/g) }
	  glob(dirname(__FILE__) . '/../../src/*.c'));
my (%words, %ops);
my $all_sql = "$install_script\n$csql";
while ($all_sql =~ /"([^"]+)"|([A-Za-z_][A-Za-z0-9_]*)/g)
{
	$words{ defined $1 ? $1 : lc $2 } = 1;
}
(my $code = $all_sql) =~ s/--[^\n]*//g;
while ($code =~ /OPERATOR\(pg_catalog\.([^)]+)\)|([-+*\/<>=~!@#%^&|`?]+)/g)
{
	$ops{ defined $1 ? $1 : $2 } = 1;
}
sub sql_array
{
	return 'ARRAY[' . join(', ', map { (my $w = $_) =~ s/'/''/g; "'$w'" } sort @_) . ']::text[]';
}
my $shadows = slurp_file(dirname(__FILE__) . '/../security/shadows.sql');
my $planted = $node->safe_psql('hostile', "SET search_path = pg_catalog;\n$shadows\n"
	  . 'SELECT kind || \'=\' || planted FROM public.pa_plant_shadows(' . sql_array(keys %words) . ', '
	  . sql_array(keys %ops) . ') ORDER BY kind',
	extra_params => [ '-U', 'mallory' ]);
my %planted = map { split /=/ } split /\n/, $planted;
note("planted in public: $planted" =~ s/\n/, /gr);
cmp_ok($planted{function}, '>=', 100, "a shadow of every built-in function the script names ($planted{function})");
cmp_ok($planted{aggregate}, '>=', 50, "... of every aggregate ($planted{aggregate})");
cmp_ok($planted{operator}, '>=', 500, "... of every operator ($planted{operator})");
cmp_ok($planted{type}, '>=', 10, "... a domain over every type ($planted{type}: float8 among them)");
my $plant = q{
    -- a schema of the extension's name, planted before CREATE EXTENSION
    CREATE SCHEMA perfaudit;
    CREATE TABLE perfaudit.runs (run_id bigint);
    ALTER DATABASE hostile SET search_path = public, pg_catalog;
};
as_role('mallory', 'hostile', $plant);

# What mallory's trap caught since the last call ("markers|mallory is
# superuser", and what ran); then disarm it again.
sub caught
{
	my ($state, @what) = split /\n/, $node->safe_psql('hostile', q{
        SET search_path = pg_catalog;
        SELECT (SELECT count(*) FROM public.pa_marker) || '|' ||
               CASE WHEN rolsuper THEN 'superuser' ELSE 'not superuser' END
          FROM pg_roles WHERE rolname = 'mallory';
        SELECT DISTINCT who || ': ' || what || ' <- ' || regexp_replace(left(query, 80), '\s+', ' ', 'g')
          FROM public.pa_marker;
        ALTER ROLE mallory NOSUPERUSER;
        TRUNCATE public.pa_marker;
    });
	return ($state, join("\n", sort @what));
}
my ($state, $what) = caught();
is($state, '0|not superuser', 'the trap is set and has caught nothing yet');

my $hostile = 'SET search_path = public, pg_catalog; ';
my ($ret, $out, $err) = $node->psql('hostile', $hostile . 'CREATE EXTENSION pg_perfaudit');
like($err, qr/schema "perfaudit" already exists/,
	'CREATE EXTENSION fails on a schema perfaudit planted by another role');
as_role('mallory', 'hostile', 'DROP SCHEMA perfaudit CASCADE');

# Positive control: the superuser using a planted operator is caught.
$node->safe_psql('hostile', $hostile . 'SELECT 1.5::float8 < 2');
($state, $what) = caught();
like($state, qr/^[1-9]\d*\|superuser$/, "positive control: a planted operator run by the superuser is caught ($state)");

my $calls = q{
    SET client_min_messages = error;
    CREATE EXTENSION pg_perfaudit;
    SELECT perfaudit.start('hostile run');
    SELECT name FROM public.items WHERE id OPERATOR(pg_catalog.=) 1;
    SELECT name FROM public.items WHERE id OPERATOR(pg_catalog.=) 2;
    SELECT name FROM public.items WHERE id OPERATOR(pg_catalog.=) 3;
    SELECT name FROM public.items WHERE id OPERATOR(pg_catalog.=) 4;
    SELECT name FROM public.items WHERE id OPERATOR(pg_catalog.=) 5;
    SELECT name FROM public.items WHERE id OPERATOR(pg_catalog.=) 6;
    /*tenant='7'*/ SELECT name FROM public.items WHERE organization_id OPERATOR(pg_catalog.=) 7 LIMIT 1;
    SELECT statements FROM perfaudit.stop();
    SELECT perfaudit.assert_max_queries(100);
    SELECT perfaudit.assert_no_findings(ARRAY['cross_tenant_query']);
    SELECT perfaudit.report();
    SELECT perfaudit.report_json() IS NOT NULL;
    SELECT perfaudit.active_run(), perfaudit.last_run() IS NOT NULL, perfaudit.discard_run();
    SELECT iterations FROM perfaudit.benchmark(
        'SELECT name FROM public.items WHERE id OPERATOR(pg_catalog.=) $1', 20,
        tenants => ARRAY['1', '2'], label => 'hostile bench');
    SELECT seq_scan_tables FROM perfaudit.benchmark(
        'SELECT id FROM public.items WHERE name OPERATOR(pg_catalog.=) $1', 5,
        tenants => ARRAY['item 5'], label => 'hostile seq scan');
    SELECT iterations FROM perfaudit.benchmark_concurrent(
        'SELECT name FROM public.items WHERE id OPERATOR(pg_catalog.=) $1', 2, 20,
        tenants => ARRAY['1', '2'], label => 'hostile concurrent');
    SELECT perfaudit.save_baseline('hostile');
    SELECT perfaudit.export_baseline('hostile') IS NOT NULL;
    SELECT perfaudit.import_baseline(perfaudit.export_baseline('hostile'));
    SELECT perfaudit.assert_no_regression('hostile', 1000000, NULL, 1000000000);
    SELECT tenant FROM perfaudit.tenant_stats;
    SELECT tenant FROM perfaudit.tenant_statements;
    SELECT tenants FROM perfaudit.tenant_stats_info();
    SELECT perfaudit.reset() IS NOT NULL;
    SELECT perfaudit.start('hostile database run', 'database');
    SELECT name FROM public.items WHERE id OPERATOR(pg_catalog.=) 3;
    SELECT statements FROM perfaudit.stop();
    -- the internal functions PUBLIC may call (the allowed list in 5. below),
    -- and the tenant statistics' own
    SELECT perfaudit._html('<b>&"</b>'), perfaudit._escape(E'a\nb'),
           perfaudit._summarise_samples(ARRAY[3, 1, 2]::pg_catalog.float8[]),
           perfaudit._html_histogram((perfaudit.report_json()) OPERATOR(pg_catalog.->) 'tenant_latency'
                                     OPERATOR(pg_catalog.->) 0) IS NOT NULL,
           perfaudit._html_benchmarks('[]'::pg_catalog.jsonb), (perfaudit._assert_run(NULL)).run_id IS NOT NULL,
           EXISTS (SELECT FROM perfaudit._metrics(perfaudit.last_run())),
           perfaudit.report_html() IS NOT NULL,
           EXISTS (SELECT FROM perfaudit._tenant_stats()), EXISTS (SELECT FROM perfaudit._tenant_statements()),
           (perfaudit._benchmark_row('{"benchmark": {"label": "x"}}'::pg_catalog.jsonb, NULL)).label;
    SELECT count(*) FROM perfaudit.runs;
};
($ret, $out, $err) = $node->psql('hostile', $hostile . $calls);
is($ret, 0, 'with mallory\'s objects first on the search_path, the extension installs and works')
	or diag($err);
($state, $what) = caught();
# The last statement used count(*) on purpose: exactly one (our own) catch.
like($what, qr/^\Q$su\E: aggregate count\(\*\) <- SELECT count\(\*\) FROM perfaudit\.runs;?$/,
	'the only planted object that ran is the count(*) the test itself called');
is($node->safe_psql('hostile', q{SET search_path = pg_catalog; SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}),
	'f', 'mallory is not a superuser');
is($node->safe_psql('hostile', q{SET search_path = pg_catalog;
    WITH planted AS (
        SELECT 'pg_proc'::regclass AS cls, oid FROM pg_proc WHERE proowner = 'mallory'::regrole
        UNION ALL
        SELECT 'pg_operator'::regclass, oid FROM pg_operator WHERE oprowner = 'mallory'::regrole
        UNION ALL
        SELECT 'pg_type'::regclass, oid FROM pg_type WHERE typowner = 'mallory'::regrole
        UNION ALL
        SELECT 'pg_collation'::regclass, oid FROM pg_collation WHERE collowner = 'mallory'::regrole
        UNION ALL
        SELECT 'pg_constraint'::regclass, c.oid FROM pg_constraint c JOIN pg_type t ON t.oid = c.contypid
         WHERE t.typowner = 'mallory'::regrole)
    SELECT count(*) FROM pg_depend d JOIN planted p ON d.refclassid = p.cls AND d.refobjid = p.oid
     WHERE NOT (d.classid, d.objid) IN (SELECT cls, oid FROM planted)}),
	'0', 'no object depends on a planted function, operator, type or collation');
like(try_as_hostile('mallory', 'CREATE FUNCTION perfaudit.x() RETURNS int LANGUAGE sql AS $$SELECT 1$$'),
	qr/permission denied for schema perfaudit/, 'mallory cannot create objects in schema perfaudit');

sub try_as_hostile
{
	my ($role, $sql) = @_;
	my ($r, $o, $e) = $node->psql('hostile', $sql, extra_params => [ '-U', $role ]);
	return $r == 0 ? 'ok' : $e;
}

# The assertions built on benchmark() do not set search_path (the caller's
# query must see the caller's), and compare with bare operators.
my @assertion_cases = ([ 'default', 'SET search_path = "$user", public; ', q{perfaudit.assert_query_time('SELECT 1', 1000000)} ],
	[ 'attacker-first', $hostile, q{perfaudit.assert_query_time('SELECT 1', 1000000)} ],
	[ 'attacker-first', $hostile, q{perfaudit.assert_no_seq_scan('SELECT 1')} ],
	[ 'attacker-first', $hostile, q{perfaudit.assert_no_memory_growth('SELECT 1', 10)} ]);
for my $case (@assertion_cases)
{
	my ($path, $set, $call) = @$case;
	$node->psql('hostile', "$set SELECT $call");
	($state, $what) = caught();
	is($state, '0|not superuser', "$path search_path: $call runs nothing planted as the superuser")
	  or diag($what);
}

# Every function of the extension was called above as the superuser:
# directly, or (the internal ones only our own code reaches) through the
# function named here.  A function added later fails this until it is
# called here too.
my %indirect = (
	_store_run => 'stop(), in the writer',
	_store_findings => 'stop() and benchmark(), in the writer',
	_store_benchmark => 'benchmark(), in the writer',
	_store_baseline => 'save_baseline() and import_baseline(), in the writer',
	_baseline_from_run => 'save_baseline()',
	_baseline_from_doc => 'import_baseline()');
my $called = $calls . join(' ', map { $_->[2] } @assertion_cases);
for my $f (split /\n/, $node->safe_psql('hostile', q{SET search_path = pg_catalog;
    SELECT DISTINCT proname FROM pg_proc WHERE pronamespace = 'perfaudit'::regnamespace ORDER BY 1}))
{
	ok(index($called, "perfaudit.$f(") >= 0 || exists $indirect{$f},
		"perfaudit.$f() was called with the shadows planted"
		  . (exists $indirect{$f} ? " (through $indirect{$f})" : ''));
}

# The same calls with the type names shadowed by mallory's own composite
# types, and casts to them from the common built-in types (a role may
# create casts to a type it owns): nothing planted runs either.
$node->safe_psql('postgres', 'CREATE DATABASE hostile_casts OWNER mallory');
my $planted_casts = $node->safe_psql('hostile_casts', "SET search_path = pg_catalog;\n$shadows\n"
	  . 'SELECT planted FROM public.pa_plant_shadows(' . sql_array(keys %words) . ', '
	  . sql_array(keys %ops) . q{, 'cast') WHERE kind = 'cast'},
	extra_params => [ '-U', 'mallory' ]);
cmp_ok($planted_casts, '>=', 100, "casts planted to shadow types ($planted_casts)");
$node->safe_psql('hostile_casts', q{
    SET search_path = pg_catalog;
    CREATE TABLE public.items (id int PRIMARY KEY, organization_id int NOT NULL, name text NOT NULL);
    INSERT INTO public.items SELECT g, g % 10, 'item ' || g FROM generate_series(1, 2000) g;
    ANALYZE public.items;
    ALTER DATABASE hostile_casts SET search_path = public, pg_catalog;
});
($ret, $out, $err) = $node->psql('hostile_casts', $hostile . $calls
	  . join('', map { "SELECT $_->[2];\n" } @assertion_cases));
is($ret, 0, 'with shadow types and casts first on the search_path, the extension installs and works')
	or diag($err);
{
	my @what = split /\n/, $node->safe_psql('hostile_casts', q{
        SET search_path = pg_catalog;
        SELECT DISTINCT who || ': ' || what FROM public.pa_marker ORDER BY 1;
        ALTER ROLE mallory NOSUPERUSER;});
	is_deeply(\@what, ["$su: aggregate count(*)"], 'the only shadow that ran is the count(*) the test called');
}

###########################################################################
# 4. Junk text
###########################################################################

$node->safe_psql('app', q{
    CREATE TABLE pa_junk (name text PRIMARY KEY, val text NOT NULL);
    INSERT INTO pa_junk VALUES
        ('quotes', $j$it's "quoted" \ \\ '' $$ $x$ %s %I %L ?$1 -- /* */ \gexec$j$),
        ('unicode', chr(233) || chr(8364) || chr(119070) || ' ' || chr(20013) || chr(25991) || ' ' ||
                    chr(128578) || chr(8238) || chr(65279) || chr(1114111)),
        ('controls', (SELECT string_agg(chr(g), '') FROM generate_series(1, 31) g) || chr(127)),
        ('random', (SELECT string_agg(chr(CASE WHEN g % 5 = 0 THEN 65536 + (g * 104729) % 1048575
                                               ELSE 1 + (g * 7919) % 55294 END), '')
                      FROM generate_series(1, 3000) g)),
        ('huge', repeat($j$x'"\$j$ || chr(233) || ';', 160000)),
        ('multi', 'SELECT 1; SELECT 2'),
        ('empty', ''),
        ('comment', '-- only a comment'),
        ('json', '","userid":10,"label":"x","run_id":1' || chr(125) || ', "x": ' || chr(123) || '"y": "\u0000');
    GRANT SELECT ON pa_junk TO alice;

    -- start(j), stop(): the label stored exactly, under the caller
    CREATE FUNCTION pa_label_case(j text) RETURNS text LANGUAGE plpgsql AS $$
    DECLARE
        r perfaudit.runs;
    BEGIN
        PERFORM perfaudit.start(j);
        r := perfaudit.stop();
        IF md5(r.label) IS DISTINCT FROM md5(j) OR r.userid <> current_user::text::regrole THEN
            RETURN 'stop() returned another label or role';
        END IF;
        SELECT * INTO r FROM perfaudit.runs x WHERE x.run_id = r.run_id;
        IF md5(r.label) IS DISTINCT FROM md5(j) OR r.userid <> current_user::text::regrole THEN
            RETURN 'stored another label or role';
        END IF;
        RETURN 'ok';
    END $$;
});
my @junk = qw(comment controls empty huge json multi quotes random unicode);
my $err_re = qr/^(?!XX)[0-9A-Z]{5}: /;
my %one_statement = map { $_ => qr/^22023: .*exactly one statement/ } qw(comment empty multi);
my $mine = q{userid = current_user::text::regrole};
# (In a statement of its own: the writer committed after the calling
# statement's snapshot was taken.)
my $stored_bench = qq{SELECT CASE WHEN count(*) = 1 AND bool_and(md5(query) = md5('SELECT ' || quote_literal(%1\$L))
                                                           AND $mine) THEN 'ok' ELSE 'mismatch' END
                        FROM perfaudit.benchmarks WHERE label = %1\$L AND clients = %2\$s};
my %small_ok = map { $_ => qr/^ok$/ } qw(comment controls json multi quotes unicode);
# Junk worth a label (a client start is slow: the rest only as queries).
my @as_label = qw(controls empty huge json quotes unicode);
# Labels are at most 1000 bytes (issue 14): the longer junk is refused, and
# so not stored.
my %long_label = map { $_ => qr/^22001: label is too long/ } qw(huge random);
my %long_unstored = map { $_ => qr/^mismatch$/ } qw(huge random);
# [case, SQL (%1$L is the junk), expected by default, expected per junk,
#  the junk to try (default: all)]
my @cases = (
	[ 'start/stop label', q{SELECT pa_label_case(%1$L)}, qr/^ok$/, \%long_label ],
	[ 'start scope', q{SELECT 'ok' FROM perfaudit.start('x', %1$L)}, qr/^22023: / ],
	# Before any benchmark with a junk label: save_baseline() keeps the
	# labels too.  Long names exceed the baselines primary key's limit: a
	# clean error is fine.
	[ 'save_baseline', q{SELECT 'ok' FROM perfaudit.save_baseline(%1$L)}, qr/^ok$|$err_re/,
		{ %small_ok, empty => qr/^22023: / } ],
	[ 'export_baseline',
		q{SELECT CASE WHEN md5(d ->> 'name') = md5(%1$L) THEN 'ok' ELSE 'mismatch' END
            FROM perfaudit.export_baseline(%1$L) d}, qr/^ok$|^42704: /,
		{ %small_ok, empty => qr/^42704: / } ],
	[ 'assert_no_regression', q{SELECT 'ok' FROM perfaudit.assert_no_regression(%1$L, 1e6, NULL, 1e9)},
		qr/^ok$|^42704: /, { %small_ok, empty => qr/^42704: / } ],
	[ 'import_baseline',
		q{SELECT CASE WHEN perfaudit.import_baseline(jsonb_build_object('name', %1$L, 'metrics',
                                jsonb_build_array(jsonb_build_object('metric', %1$L, 'key', %1$L,
                                                                     'value', 1.5, 'query', %1$L)))) = %1$L
                     THEN 'ok' ELSE 'mismatch' END}, qr/^ok$|$err_re/,
		{ %small_ok, empty => qr/^22023: / } ],
	[ 'import_baseline stored',
		qq{SELECT CASE WHEN count(*) = 1 AND bool_and(md5(metric) = md5(%1\$L) AND md5(key) = md5(%1\$L)
                                                    AND md5(query) = md5(%1\$L) AND value = 1.5 AND $mine)
                       THEN 'ok' ELSE 'mismatch' END
             FROM perfaudit.baselines WHERE name = %1\$L}, qr/^(ok|mismatch)$/,
		{ %small_ok, empty => qr/^mismatch$/ } ],
	[ 'benchmark query', q{SELECT 'ok' FROM perfaudit.benchmark(%1$L, 1)}, $err_re, \%one_statement ],
	[ 'benchmark label and literal',
		qq{SELECT CASE WHEN md5(b.label) = md5(%1\$L) AND md5(b.query) = md5('SELECT ' || quote_literal(%1\$L))
                        AND b.$mine THEN 'ok' ELSE 'mismatch' END
             FROM perfaudit.benchmark('SELECT ' || quote_literal(%1\$L), 2, label => %1\$L) b}, qr/^ok$/,
		\%long_label ],
	[ 'benchmark stored', $stored_bench =~ s/%2\$s/1/r, qr/^ok$/, \%long_unstored ],
	[ 'benchmark_concurrent label and literal',
		qq{SELECT CASE WHEN md5(b.label) = md5(%1\$L) AND md5(b.query) = md5('SELECT ' || quote_literal(%1\$L))
                        AND b.$mine AND b.errors = 0 THEN 'ok' ELSE 'mismatch' END
             FROM perfaudit.benchmark_concurrent('SELECT ' || quote_literal(%1\$L), 2, 4, label => %1\$L) b},
		qr/^ok$/, \%long_label, \@as_label ],
	[ 'benchmark_concurrent stored', $stored_bench =~ s/%2\$s/2/r, qr/^ok$/, \%long_unstored, \@as_label ],
	[ 'benchmark_concurrent query', q{SELECT 'ok' FROM perfaudit.benchmark_concurrent(%1$L, 2, 4)}, $err_re,
		\%one_statement ],
	[ 'benchmark tenant',
		q{SELECT CASE WHEN b.rows_per_call = 1 AND b.tenants_type = 'text' THEN 'ok' ELSE 'mismatch' END
            FROM perfaudit.benchmark('SELECT $1::text', 2, tenants => ARRAY[%1$L]) b}, qr/^ok$/ ],
	[ 'assert_query_time', q{SELECT 'ok' FROM perfaudit.assert_query_time(%1$L, 1e9)}, $err_re, \%one_statement ],
	[ 'assert_no_seq_scan', q{SELECT 'ok' FROM perfaudit.assert_no_seq_scan(%1$L)}, $err_re, \%one_statement ],
	[ 'assert_no_memory_growth', q{SELECT 'ok' FROM perfaudit.assert_no_memory_growth(%1$L, 2)}, $err_re,
		\%one_statement ],
	[ 'assert_no_findings kind', q{SELECT 'ok' FROM perfaudit.assert_no_findings(ARRAY[%1$L])}, qr/^22023: / ],
	[ 'import_baseline of a string', q{SELECT 'ok' FROM perfaudit.import_baseline(to_jsonb(%1$L::text))}, qr/^22023: / ],
	[ 'import_baseline recorded_at',
		q{SELECT 'ok' FROM perfaudit.import_baseline(jsonb_build_object('name', 'junk', 'recorded_at', %1$L,
                                                                       'metrics', '[{"metric": "m", "value": 1}]'::jsonb))},
		qr/^22023: / ]);

my $script = "SET client_min_messages = warning;\n";
for my $c (@cases)
{
	for my $j (@{ $c->[4] // \@junk })
	{
		$script .= "SELECT 'R|$c->[0]|' || name || '|' || pa_eval(format(\$pa_t\$$c->[1]\$pa_t\$, val))"
		  . " FROM pa_junk WHERE name = '$j';\n";
	}
}
# Tenants from the session setting: stored as a byte prefix of at most 63
# bytes (the empty string is no tenant).
for my $j (@junk)
{
	$script .= qq{
SET perfaudit.tenant_setting = 'app.org';
SELECT set_config('app.org', val, false) IS NULL FROM pa_junk WHERE name = '$j';
SELECT perfaudit.start('tenant $j') IS NULL;
SELECT 1 AS tenant_probe;
SELECT perfaudit.stop() IS NULL;
RESET perfaudit.tenant_setting;
SELECT 'R|tenant setting|' || j.name || '|' ||
       (SELECT CASE WHEN count(*) = 1 AND bool_and(CASE WHEN j.val = '' THEN s.tenant IS NULL
                                                        ELSE octet_length(s.tenant) <= 63
                                                             AND position(textsend(s.tenant) IN textsend(j.val)) = 1
                                                             AND (octet_length(j.val) > 63 OR s.tenant = j.val) END)
                   THEN 'ok' ELSE 'mismatch' END
          FROM perfaudit.run_statements s WHERE s.run_id = perfaudit.last_run())
  FROM pa_junk j WHERE j.name = '$j';
SELECT 'R|tenant setting valid UTF-8|' || '$j' || '|' ||
       CASE WHEN bool_and(pa_valid_utf8(tenant)) THEN 'ok' ELSE 'invalid' END
  FROM perfaudit.run_statements WHERE run_id = perfaudit.last_run();
};
}
push @cases, [ 'tenant setting', '', qr/^ok$/ ];

my %got;
for my $line (split /\n/, as_role('alice', 'app', $script))
{
	next unless $line =~ /^R\|/;
	my (undef, $case, $j, $res) = split /\|/, $line, 4;
	$got{$case}{$j} = $res;
}
note(explain(\%got));
for my $c (@cases)
{
	my ($case, undef, $default, $per, $only) = @$c;
	my %bad;
	for my $j (@{ $only // \@junk })
	{
		my $want = ($per && $per->{$j}) || $default;
		my $res = $got{$case}{$j} // '(no result)';
		$bad{$j} = $res unless $res =~ $want;
	}
	is_deeply(\%bad, {}, "junk: $case") or diag(explain($got{$case}));
}
{
	is_deeply({ map { $_ => $got{'tenant setting valid UTF-8'}{$_} } @junk },
		{ map { $_ => 'ok' } @junk }, 'junk: tenants stored are valid UTF-8');
}
is($node->safe_psql('app', q{SELECT string_agg(userid::regrole::text, ',') FROM perfaudit.runs
                               WHERE label = (SELECT val FROM pa_junk WHERE name = 'json')}), 'alice',
	'no JSON injection: the run labelled with JSON is stored once, under alice');

# Targeted: bytes that are not UTF-8 and a character cut in two.
$node->safe_psql('app', q{
    SELECT perfaudit.start('undecodable');
    /*tenant='%FF%FE'*/ SELECT 1;
    SET perfaudit.tenant_setting = 'app.org';
    SELECT set_config('app.org', repeat(chr(233), 40), false);
    SELECT 2;
    RESET perfaudit.tenant_setting;
    SELECT perfaudit.stop();
});
is($node->safe_psql('app', q{SELECT count(*) FROM perfaudit.run_statements r JOIN perfaudit.runs USING (run_id)
                               WHERE label = 'undecodable' AND tenant IS NOT NULL}),
	'1', 'the undecodable tag names no tenant; the setting value is recorded');
my $cut = $node->safe_psql('app', q{
    SELECT errors > 0, error_counts ? '22P02'
      FROM perfaudit.benchmark_concurrent(
               'SELECT CASE WHEN $1 = ''b'' THEN (''xx'' || repeat(chr(233), 300))::int ELSE 1 END',
               2, 8, tenants => ARRAY['a', 'b'], label => 'long message')});
is($cut, 't|t', 'benchmark_concurrent() counted the errors with a long message');
{
	is($node->safe_psql('app', q{SELECT bool_and(pa_valid_utf8(tenant)) FROM perfaudit.run_statements r
                                   JOIN perfaudit.runs USING (run_id) WHERE label = 'undecodable'}),
		't', "tenants from /*tenant='%FF%FE'*/ and a 40-character setting are valid UTF-8");
	is($node->safe_psql('app', q{SELECT bool_and(pa_valid_utf8(tenant)) FROM perfaudit.tenant_stats}),
		't', 'tenant_stats holds valid UTF-8');
	is($node->safe_psql('app', q{SELECT pa_valid_utf8(error_counts::text) FROM perfaudit.benchmarks
                                   WHERE label = 'long message'}),
		't', 'error_counts holds valid UTF-8');
}

# Table names holding the characters that separate plan facts.
$node->safe_psql('app', q{
    SELECT format('CREATE TABLE public.%I (organization_id int, v int)', 'we"ird' || chr(31) || 'x' || chr(30) || 'y');
    \gexec
    SELECT format('INSERT INTO public.%I SELECT g %% 10, g FROM generate_series(1, 5000) g',
                  'we"ird' || chr(31) || 'x' || chr(30) || 'y');
    \gexec
    ANALYZE;
    SELECT 1 FROM perfaudit.benchmark(format('SELECT v FROM public.%I WHERE v = 5',
                                             'we"ird' || chr(31) || 'x' || chr(30) || 'y'), 2, label => 'weird name');
});
{
	is($node->safe_psql('app', q{
        SELECT string_agg(f.kind || ' on ' || (f.relation = 'public.' || translate(quote_ident('we"ird' || chr(31) || 'x' || chr(30) || 'y'), chr(31) || chr(30), '??'))::text,
                          ', ' ORDER BY f.kind)
          FROM perfaudit.findings f JOIN perfaudit.benchmarks b USING (benchmark_id)
         WHERE b.label = 'weird name'}),
		'seq_scan on true, unscoped_tenant_query on true',
		'one seq_scan and one unscoped_tenant_query finding, naming the table (separator bytes shown as ?)');
}

###########################################################################
# 5. Every object of the extension: its privileges and SECURITY DEFINER
###########################################################################

# The allowed list.  PUBLIC may execute the functions of the SQL API, and
# of the internal ones only those that run as the caller, change nothing
# and read nothing row-level security hides from the caller (formatting
# helpers, _metrics() and _assert_run() over the caller's visible runs).
# Everything that stores, resets or reads other roles' data is not for
# PUBLIC.  No function is SECURITY DEFINER.
my $X = "$su=X/$su";
my $stats = "{$X,pg_read_all_stats=X/$su}";
my %allowed = (
	(map { ("function $_" => 'default') } split(' ', q(
		active_run() assert_max_queries(bigint,bigint) assert_no_findings(text[],bigint,text)
		assert_no_memory_growth(text,integer,bigint) assert_no_regression(text,float8,bigint,float8)
		assert_no_seq_scan(text) assert_query_time(text,float8,float8,integer,text[])
		benchmark(text,integer,integer,text[],text,boolean)
		benchmark_concurrent(text,integer,integer,text[],text,integer,boolean)
		discard_run() export_baseline(text) import_baseline(jsonb) last_run() report(bigint)
		report_html(bigint) report_json(bigint) save_baseline(text,bigint) start(text,text,text) stop()
		_assert_run(bigint) _escape(text,boolean) _html(text) _html_benchmarks(jsonb) _html_histogram(jsonb)
		_summarise_samples(float8[])))),
	'function _metrics(bigint)' => "{$X,=X/$su}",
	(map { ("function $_" => "{$X}") } split(' ', q(
		reset() _benchmark_row(jsonb,float8[]) _store_baseline(jsonb)
		_store_benchmark(jsonb,float8[]) _store_findings(jsonb) _store_run(jsonb)
		_baseline_from_doc(jsonb) _baseline_from_run(text,bigint)))),
	(map { ("function $_" => $stats) } split(' ', q(_tenant_stats() _tenant_statements() tenant_stats_info()))),
	(map { ("table $_" => "{$su=arwdDxt/$su,=r/$su}") } qw(runs run_statements findings benchmarks baselines)),
	(map { ("view $_" => "{$su=arwdDxt/$su,pg_read_all_stats=r/$su}") } qw(tenant_stats tenant_statements)),
	(map { ("sequence $_" => "{$su=rwU/$su}") }
		qw(runs_run_id_seq benchmarks_benchmark_id_seq findings_finding_id_seq)),
	(map { ("index $_" => 'default') } qw(runs_pkey benchmarks_pkey findings_pkey baselines_pkey
		run_statements_run_id_idx findings_run_id_idx findings_benchmark_id_idx)));
my %seen = map { my ($k, $v) = split /\|/; ($k => $v) } split /\n/, $node->safe_psql('app', q{
    SET search_path = pg_catalog;
    SELECT 'function ' || replace(regexp_replace(p.oid::regprocedure::text, '^perfaudit\.', ''),
                                  'double precision', 'float8') || '|'
           || coalesce(p.proacl::text, 'default') || CASE WHEN p.prosecdef THEN ' SECURITY DEFINER' ELSE '' END
      FROM pg_proc p WHERE p.pronamespace = 'perfaudit'::regnamespace
    UNION ALL
    SELECT CASE c.relkind WHEN 'r' THEN 'table ' WHEN 'v' THEN 'view ' WHEN 'S' THEN 'sequence '
                          WHEN 'i' THEN 'index ' ELSE c.relkind::text || ' ' END || c.relname || '|'
           || coalesce(c.relacl::text, 'default')
      FROM pg_class c WHERE c.relnamespace = 'perfaudit'::regnamespace AND c.relkind <> 'c'});
is_deeply(\%seen, \%allowed,
	'every function, table, view, sequence and index of the extension has exactly its allowed privileges, none is SECURITY DEFINER')
  or diag(join("\n", map { "$_: " . ($seen{$_} // '(absent)') . ' vs allowed ' . ($allowed{$_} // '(not listed)') }
	  grep { ($seen{$_} // '') ne ($allowed{$_} // '') } sort(keys %seen, keys %allowed)));

# Catalog hygiene as core's opr_sanity checks it: an IMMUTABLE function is
# PARALLEL SAFE, and (above) none is SECURITY DEFINER.
is($node->safe_psql('app', q{
    SELECT coalesce(string_agg(p.oid::regprocedure::text, ', ' ORDER BY 1), 'none')
      FROM pg_proc p
     WHERE p.pronamespace = 'perfaudit'::regnamespace AND p.provolatile = 'i' AND p.proparallel <> 's'}),
	'none', 'every IMMUTABLE function of the extension is PARALLEL SAFE');

# An ordinary role cannot reach past the checks of import_baseline().
check_as('alice', '',
	[ q{SELECT perfaudit._baseline_from_doc('{}')::text}, qr/^42501: permission denied/,
		'alice cannot call _baseline_from_doc()' ],
	[ q{SELECT perfaudit._baseline_from_run('x', NULL)::text}, qr/^42501: permission denied/,
		'alice cannot call _baseline_from_run()' ],
	[ q{SELECT perfaudit.import_baseline('{"name": "inf", "recorded_at": "infinity", "metrics": [{"metric": "m", "value": 1}]}')},
		qr/^22023: baseline document has an invalid "recorded_at"/, 'an infinite recorded_at is refused' ],
	[ q{SELECT perfaudit.import_baseline('{"name": "", "metrics": [{"metric": "m", "value": 1}]}')},
		qr/^22023: baseline name must not be empty/, 'an empty name is refused' ]);

###########################################################################
# 6. Security-restricted operations and security-definer functions
###########################################################################

# mallory's function, run by a superuser's REFRESH MATERIALIZED VIEW or as
# mallory through a SECURITY DEFINER trigger a superuser fires, tries to
# start a run in the victim's session (and read its statements), or to end
# or drop the victim's own run.
$node->safe_psql('app', q{
    CREATE SCHEMA spy AUTHORIZATION mallory;
    GRANT USAGE ON SCHEMA spy TO PUBLIC;
});
as_role('mallory', 'app', q{
    CREATE FUNCTION spy.start() RETURNS bigint LANGUAGE sql AS $$ SELECT perfaudit.start('spy') $$;
    CREATE FUNCTION spy.stop() RETURNS bigint LANGUAGE sql AS $$ SELECT (perfaudit.stop()).run_id $$;
    CREATE FUNCTION spy.discard() RETURNS bigint LANGUAGE sql AS $$ SELECT perfaudit.discard_run() $$;
    CREATE MATERIALIZED VIEW spy.mv_start AS SELECT spy.start() AS x WITH NO DATA;
    CREATE MATERIALIZED VIEW spy.mv_stop AS SELECT spy.stop() AS x WITH NO DATA;
    CREATE MATERIALIZED VIEW spy.mv_discard AS SELECT spy.discard() AS x WITH NO DATA;
    CREATE TABLE spy.t (v int);
    GRANT INSERT ON spy.t TO PUBLIC;
    CREATE FUNCTION spy.trg() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
    BEGIN
        PERFORM perfaudit.start('spy trigger');
        RETURN NEW;
    END $$;
    CREATE TRIGGER t_spy BEFORE INSERT ON spy.t FOR EACH ROW EXECUTE FUNCTION spy.trg();
});
{
	my ($r, $o, $e) = $node->psql('app', 'REFRESH MATERIALIZED VIEW spy.mv_start');
	like($e, qr/ERROR:  cannot start a capture run within security-restricted operation/,
		'start() refuses inside a security-restricted operation (REFRESH MATERIALIZED VIEW)');
	($r, $o, $e) = $node->psql('app', 'INSERT INTO spy.t VALUES (1)');
	like($e, qr/ERROR:  cannot start a capture run within security-definer function/,
		'start() refuses inside a SECURITY DEFINER trigger fired by another role');
	my $out = $node->safe_psql('app', q{
        SET search_path = pg_catalog;
        SELECT perfaudit.start('victim');
        ALTER ROLE alice PASSWORD 'victim secret';
        \set VERBOSITY sqlstate
        \set ON_ERROR_STOP 0
        REFRESH MATERIALIZED VIEW spy.mv_stop;
        REFRESH MATERIALIZED VIEW spy.mv_discard;
        \set ON_ERROR_STOP 1
        SELECT label || ': ' || statements FROM perfaudit.stop();
        SELECT pg_catalog.count(*) FROM perfaudit.runs WHERE label LIKE 'spy%';});
	like($out, qr/^victim: \d+\n0$/m, "the victim's run is intact and stored by the victim; mallory's functions neither ended nor dropped it, and no spy run exists ($out)");
	is($node->safe_psql('app', q{SELECT pg_catalog.count(*) FROM perfaudit.run_statements
        WHERE query LIKE '%victim secret%' AND userid = 'mallory'::regrole}), '0',
		"no statement of the victim's is stored under mallory");
	my ($r2, $o2, $e2) = $node->psql('app', q{
        SELECT perfaudit.start('victim 2');
        REFRESH MATERIALIZED VIEW spy.mv_stop;});
	like($e2, qr/ERROR:  cannot stop a capture run within security-restricted operation/,
		'stop() refuses inside a security-restricted operation');
	($r2, $o2, $e2) = $node->psql('app', q{
        SELECT perfaudit.start('victim 3');
        REFRESH MATERIALIZED VIEW spy.mv_discard;});
	like($e2, qr/ERROR:  cannot discard a capture run within security-restricted operation/,
		'discard_run() refuses inside a security-restricted operation');
}

# A statement run as another role inside the caller's own run (a
# superuser's SECURITY DEFINER function alice may call) is counted, but its
# text, tenant and plan facts are hidden from alice, as pg_stat_statements
# hides them.
$node->safe_psql('app', q{
    GRANT SET ON PARAMETER perfaudit.track TO alice;
    CREATE FUNCTION public.pa_definer_reads_secret() RETURNS text LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog AS $$
    BEGIN
        RETURN (SELECT string_agg(v, ',') FROM public.secret WHERE v <> 'only the superuser reads this' OR true);
    END $$;
    GRANT EXECUTE ON FUNCTION public.pa_definer_reads_secret() TO alice;
    -- a cursor the definer opens, which alice fetches and ends as herself
    CREATE FUNCTION public.pa_definer_cursor() RETURNS refcursor LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog AS $$
    DECLARE
        c refcursor := 'pa_c';
    BEGIN
        OPEN c FOR EXECUTE 'SELECT 1 FROM public.secret WHERE v = '
                           || quote_literal((SELECT v FROM public.secret LIMIT 1));
        RETURN c;
    END $$;
    GRANT EXECUTE ON FUNCTION public.pa_definer_cursor() TO alice;
});
{
	my $out = as_role('alice', 'app', q{
        SET perfaudit.track = 'all';
        SELECT perfaudit.start('definer') IS NOT NULL;
        SELECT public.pa_definer_reads_secret() IS NOT NULL;
        BEGIN;
        SELECT public.pa_definer_cursor() IS NOT NULL;
        FETCH ALL FROM pa_c;
        COMMIT;
        SELECT statements FROM perfaudit.stop();
        SELECT count(*) FILTER (WHERE query LIKE '%FROM public.secret%') || ' ' ||
               count(*) FILTER (WHERE query = '<insufficient privilege>' AND nesting_level > 0)
          FROM perfaudit.run_statements WHERE run_id = perfaudit.last_run();
        SELECT count(*) FROM perfaudit.run_statements
         WHERE run_id = perfaudit.last_run() AND query LIKE '%only the superuser%';});
	like($out, qr/\n0 [2-9]\d*\n0$/,
		"the definer's statements (one a cursor alice fetched) are counted in alice's run, their texts hidden (" . ($out =~ s/\n/ /gr) . ')');
}

# The server is up and logged no internal error and no crash.
is($node->safe_psql('app', 'SELECT 1'), '1', 'the server is up');
my $log = slurp_file($node->logfile);
my @internal = grep { / XX000 |terminated by signal|was terminated|PANIC/ } split /\n/, $log;
is_deeply(\@internal, [], 'no internal error (XX000) and no crash in the server log');

# Last, as it logs an XX000 itself.
check_as('alice', '',
	[ q{SELECT perfaudit._benchmark_row('1', NULL)::text}, qr/^(?!XX000)[0-9A-Z]{5}: /,
		'_benchmark_row() of a non-object is not an internal error',
		'bug: _benchmark_row() raises XX000 "could not build the benchmark row" on a non-object' ]);

$node->stop;
done_testing();
