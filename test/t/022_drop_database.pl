# DROP DATABASE and CREATE DATABASE ... TEMPLATE right after the extension
# stored something.
#
# Both wait up to 5 s for every other backend of the database to leave
# (CountOtherDBBackends()) and then fail with "database ... is being
# accessed by other users".  The writer worker used to stay connected for 5
# idle seconds after stop(): Django's test runner then failed at
# "Destroying test database", and Rails' parallel tests and pytest-django,
# which clone a template database, waited or failed the same way.  Now the
# writer exits as soon as its queue is empty and stop() returns only once
# it has left; benchmark_concurrent()'s clients have all exited when it
# returns.
#
# Each case is run 20 times: a session connects to the database, does its
# work (nothing, for the plain command; start() and stop(); benchmark();
# benchmark_concurrent()) and disconnects, and at once a second connection
# runs DROP DATABASE (of a fresh database) or CREATE DATABASE ... TEMPLATE
# (of the database used).  Checked: no failure, and each command takes
# less than 1 s more than the slowest plain one.
use strict;
use warnings;
use List::Util qw(max sum);
use Time::HiRes qw(time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $rounds = 20;

my $node = PostgreSQL::Test::Cluster->new('drop_database');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_perfaudit'
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE tmpl');
$node->safe_psql('tmpl', q{
    CREATE EXTENSION pg_perfaudit;
    CREATE TABLE t (i int);
    INSERT INTO t SELECT generate_series(1, 100);
});

my %work = (
	plain => q{SELECT 1},
	stop => q{SELECT perfaudit.start('before drop'); SELECT count(*) FROM t; SELECT run_id > 0 FROM perfaudit.stop()},
	benchmark => q{SELECT iterations FROM perfaudit.benchmark('SELECT count(*) FROM t', 20)},
	benchmark_concurrent => q{SELECT iterations FROM perfaudit.benchmark_concurrent('SELECT count(*) FROM t', 2, 20)},
);

# The second connection, in postgres, issues the commands.
my $admin = $node->background_psql('postgres', on_error_stop => 0);
$admin->set_query_timer_restart();
$admin->query_safe('SET client_min_messages = warning');

# One command from the admin connection: (seconds, error or '').
sub timed
{
	my ($sql) = @_;
	$admin->{stderr} = '';	# query() keeps what earlier queries printed
	my $t0 = time;
	my ($out, $failed) = $admin->query($sql);
	my $s = time - $t0;
	return ($s, $failed ? $admin->{stderr} : '');
}

# After a failure: the same command until it works (the old writer left).
sub retry
{
	my ($sql) = @_;
	for (1 .. 30)
	{
		$admin->{stderr} = '';
		my (undef, $failed) = $admin->query($sql);
		return if !$failed;
		sleep 1;
	}
	die "$sql kept failing";
}

my %times;
my %failures;
my $n = 0;
# The cases take turns, so that each copies a template of the same size
# (it grows with the runs and benchmarks stored in it).
for my $round (1 .. $rounds)
{
	for my $case ('plain', 'stop', 'benchmark', 'benchmark_concurrent')
	{
		# DROP DATABASE of a database the work just ran in.
		my $db = 'd' . $n++;
		retry("CREATE DATABASE $db TEMPLATE tmpl");
		$node->safe_psql($db, $work{$case});
		my ($s, $err) = timed("DROP DATABASE $db");
		push @{ $times{"$case/drop"} }, $s;
		if ($err ne '')
		{
			push @{ $failures{"$case/drop"} }, $err;
			retry("DROP DATABASE IF EXISTS $db");
		}

		# CREATE DATABASE ... TEMPLATE of the database the work just ran in.
		$db = 'c' . $n++;
		$node->safe_psql('tmpl', $work{$case});
		($s, $err) = timed("CREATE DATABASE $db TEMPLATE tmpl");
		push @{ $times{"$case/template"} }, $s;
		push @{ $failures{"$case/template"} }, $err if $err ne '';
		retry("DROP DATABASE IF EXISTS $db");
	}
}

my $plain_max = max(@{ $times{'plain/drop'} }, @{ $times{'plain/template'} });
for my $case ('plain', 'stop', 'benchmark', 'benchmark_concurrent')
{
	for my $cmd ('drop', 'template')
	{
		my $k = "$case/$cmd";
		my @t = @{ $times{$k} };
		my $nfail = scalar @{ $failures{$k} // [] };
		is($nfail, 0, "$k: no failure in $rounds rounds")
		  or diag(join('', @{ $failures{$k} }));
		my $worst = max(@t);
		ok($worst < $plain_max + 1, sprintf('%s: slowest %.3f s, under 1 s beyond the plain command (%.3f s)',
		                                    $k, $worst, $plain_max));
		diag(sprintf('%-32s mean %.3f s, max %.3f s over %d rounds', $k, sum(@t) / @t, $worst, scalar @t));
	}
}

# The work itself, timed: what stop() costs now that each starts its writer.
my @stop_ms;
for (1 .. $rounds)
{
	my $out = $node->safe_psql('tmpl', q{
        SELECT perfaudit.start('timed');
        SELECT clock_timestamp() AS t0 \gset
        SELECT perfaudit.stop() IS NOT NULL;
        SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 1)});
	push @stop_ms, (split /\n/, $out)[-1];
}
@stop_ms = sort { $a <=> $b } @stop_ms;
diag(sprintf('stop() alone: median %.1f ms, max %.1f ms over %d calls',
             $stop_ms[ $#stop_ms / 2 ], $stop_ms[-1], scalar @stop_ms));
is($node->safe_psql('tmpl', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pg_perfaudit%'}),
   '0', 'no writer or client left connected');

$admin->quit;
$node->stop;
done_testing();
