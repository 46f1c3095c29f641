# report_html() in a real browser: headless Chromium (Debian's chromium)
# loads the page of a run with several tenants, findings and benchmarks,
# with nothing but the file (no network), and the rendered DOM has one
# latency chart per tenant, one card per finding, the benchmark chart, and
# no element from the statements' text (escaped, not injected); a
# screenshot is taken (test/t output, and the README's picture comes from
# the demo the same way).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $chromium = `command -v chromium 2>/dev/null`;
chomp $chromium;
plan skip_all => 'chromium is not installed (test/run-tests.sh installs it)' unless $chromium;

my $node = PostgreSQL::Test::Cluster->new('report_html');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_stat_statements,pg_perfaudit'
});
$node->start;
$node->safe_psql('postgres', q{
    CREATE EXTENSION pg_perfaudit;
    CREATE TABLE items (id int PRIMARY KEY, organization_id int NOT NULL, name text);
    INSERT INTO items SELECT g, g % 10, 'item ' || g FROM generate_series(1, 5000) g;
    ANALYZE items;
});

my $run = $node->safe_psql('postgres', q{
    SET perfaudit.tenant_setting = 'app.org';
    SET perfaudit.seq_scan_min_rows = 100;
    SELECT perfaudit.start('browser check') \gset
    SET app.org = '1';
    SELECT count(*) FROM items WHERE organization_id = 1;
    SELECT name FROM items WHERE organization_id = 1 AND id = 11;
    SET app.org = '2';
    SELECT count(*) FROM items WHERE organization_id = 2;
    SELECT name FROM items WHERE id = 1;
    SELECT name FROM items WHERE id = 2;
    SELECT name FROM items WHERE id = 3;
    SELECT name FROM items WHERE id = 4;
    SELECT name FROM items WHERE id = 5;
    SELECT name FROM items WHERE name = '<img src=x onerror=alert(1)>';
    RESET app.org;
    SELECT 1 FROM perfaudit.benchmark('SELECT name FROM items WHERE organization_id = $1 AND id = 11', 200, 5, ARRAY['1', '2'], 'lookup');
    SELECT run_id FROM perfaudit.stop();
});
$run = (split /\n/, $run)[-1];
ok($run =~ /^\d+$/, 'a run with tenants, findings and a benchmark');
my ($tenants, $findings) = split /\|/, $node->safe_psql('postgres',
    "SELECT jsonb_array_length(tenant_latency), findings FROM perfaudit.runs WHERE run_id = $run");
ok($tenants >= 2 && $findings >= 2, "$tenants tenants, $findings findings");

my $dir = PostgreSQL::Test::Utils::tempdir;
my $html = "$dir/report.html";
my $page = $node->safe_psql('postgres', "SELECT perfaudit.report_html($run)");
open(my $fh, '>', $html) or die "$html: $!";
print $fh $page;
close $fh;

# Chromium as the postgres user, with its own profile and no network.
my @chrome = ($chromium, '--headless=new', '--no-sandbox', '--disable-gpu',
              '--disable-dev-shm-usage', '--no-first-run', "--user-data-dir=$dir/profile",
              '--proxy-server=127.0.0.1:9', '--proxy-bypass-list=<-loopback>',
              '--virtual-time-budget=2000');
my ($dom, $err) = ('', '');
IPC::Run::run([ @chrome, '--dump-dom', "file://$html" ], '>', \$dom, '2>', \$err,
              IPC::Run::timeout(120));
ok(length($dom) > 1000, 'chromium rendered the page') or diag($err);

my $count = sub { my ($re) = @_; my @m = ($dom =~ /$re/g); return scalar @m; };
is($count->(qr/<svg class="hist"/), $tenants, 'one latency chart per tenant');
is($count->(qr/class="card finding /), $findings, 'one card per finding');
is($count->(qr/<svg class="bench"/), 1, 'the benchmark chart');
like($dom, qr{<title>pg_perfaudit report: run $run "browser check"</title>}, 'the title names the run');
like($dom, qr/n_plus_one/, 'the N+1 finding is shown');
like($dom, qr/class="suggestion"/, 'with its suggestion');
is($count->(qr/<img/), 0, 'markup from a statement is text, not an element');
is($count->(qr/<script/), 0, 'no script in the page');

my $png = "$dir/report.png";
IPC::Run::run([ @chrome, '--hide-scrollbars', '--window-size=1280,1600', "--screenshot=$png", "file://$html" ],
              '>', \my $o, '2>', \my $e, IPC::Run::timeout(120));
ok(-s $png && -s $png > 20000, 'a screenshot of the rendered page (' . ((-s $png) // 0) . ' bytes)') or diag($e);
open(my $ph, '<:raw', $png) or die "$png: $!";
read($ph, my $head, 24);
close $ph;
my ($w, $h) = unpack('NN', substr($head, 16, 8));
is("$w x $h", '1280 x 1600', 'a PNG of the window size');

$node->stop;
done_testing();
