<?php
/*
 * pg_perfaudit in a Laravel-style feature test, with plain php-cli and
 * PDO pgsql (no Composer, no PHPUnit: a small DB facade and a small test
 * runner stand in for them).
 *
 * As in Laravel: one connection for the whole suite; each test runs in a
 * transaction opened in setUp and rolled back in tearDown
 * (RefreshDatabase); queries go through DB::select() & co., which prepare
 * and execute each statement with bound values.  PDO::ATTR_EMULATE_PREPARES
 * is false, so PDO uses server-side prepared statements: a named Parse,
 * Bind and Execute per call, and a DEALLOCATE when the statement object
 * goes away.  The tenant is the session setting app.current_organization_id.
 *
 *     php PerfauditFeatureTest.php
 *
 * Connection from PGHOST, PGPORT, PGDATABASE, PGUSER (test/harness/run.sh
 * sets them).  Prints one line per test and "php: N passed, M failed";
 * exits 1 if any test failed.
 */

declare(strict_types=1);

/** A small stand-in for Laravel's DB facade (Illuminate\Database\Connection). */
final class DB
{
    private static ?PDO $pdo = null;
    private static int $transactions = 0;

    /** A new connection as the application role. */
    public static function connect(): PDO
    {
        $dsn = sprintf(
            'pgsql:host=%s;port=%s;dbname=%s',
            getenv('PGHOST') ?: '/var/run/postgresql',
            getenv('PGPORT') ?: '5432',
            getenv('PGDATABASE') ?: 'postgres'
        );
        $pdo = new PDO($dsn, getenv('PGUSER') ?: null, null, [
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_EMULATE_PREPARES => false,
            PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_OBJ,
        ]);
        // The application's tenancy configuration: which setting holds the tenant.
        $pdo->exec("SET perfaudit.tenant_setting = 'app.current_organization_id'");
        return $pdo;
    }

    /** The suite's connection, opened on first use. */
    public static function connection(): PDO
    {
        return self::$pdo ??= self::connect();
    }

    /** Prepare, bind and execute, as Connection::select() does. */
    private static function run(string $query, array $bindings): PDOStatement
    {
        $statement = self::connection()->prepare($query);
        foreach ($bindings as $key => $value) {
            $statement->bindValue(
                is_string($key) ? $key : $key + 1,
                $value,
                is_int($value) ? PDO::PARAM_INT : PDO::PARAM_STR
            );
        }
        $statement->execute();
        return $statement;
    }

    public static function select(string $query, array $bindings = []): array
    {
        return self::run($query, $bindings)->fetchAll();
    }

    public static function selectOne(string $query, array $bindings = []): ?object
    {
        return self::select($query, $bindings)[0] ?? null;
    }

    /** The first column of the first row (Laravel 10's DB::scalar()). */
    public static function scalar(string $query, array $bindings = []): mixed
    {
        $row = self::selectOne($query, $bindings);
        return $row === null ? null : array_values((array) $row)[0];
    }

    public static function statement(string $query, array $bindings = []): bool
    {
        self::run($query, $bindings);
        return true;
    }

    public static function insert(string $query, array $bindings = []): bool
    {
        return self::statement($query, $bindings);
    }

    public static function beginTransaction(): void
    {
        if (self::$transactions === 0) {
            self::connection()->beginTransaction();
        } else {
            self::connection()->exec('SAVEPOINT trans' . (self::$transactions + 1));
        }
        self::$transactions++;
    }

    public static function rollBack(): void
    {
        if (self::$transactions === 1) {
            self::connection()->rollBack();
        } else {
            self::connection()->exec('ROLLBACK TO SAVEPOINT trans' . self::$transactions);
        }
        self::$transactions--;
    }

    public static function commit(): void
    {
        if (self::$transactions === 1) {
            self::connection()->commit();
        } else {
            self::connection()->exec('RELEASE SAVEPOINT trans' . self::$transactions);
        }
        self::$transactions--;
    }

    /** DB::transaction(): inside a test, a savepoint. */
    public static function transaction(callable $callback): mixed
    {
        self::beginTransaction();
        try {
            $result = $callback();
        } catch (Throwable $e) {
            self::rollBack();
            throw $e;
        }
        self::commit();
        return $result;
    }

    public static function transactionLevel(): int
    {
        return self::$transactions;
    }
}

final class AssertionFailed extends Exception
{
}

/** The parts of PHPUnit's TestCase this file needs, with RefreshDatabase. */
abstract class TestCase
{
    protected function setUp(): void
    {
        DB::beginTransaction();
    }

    protected function tearDown(): void
    {
        while (DB::transactionLevel() > 0) {
            DB::rollBack();
        }
        // Runs are not transactional: a run a failed test left active would
        // make the next test's start() fail on this shared connection.
        DB::scalar('select perfaudit.discard_run()');
    }

    protected static function assertTrue(mixed $actual, string $what = ''): void
    {
        if ($actual !== true) {
            throw new AssertionFailed(trim("$what: expected true, got " . var_export($actual, true), ': '));
        }
    }

    protected static function assertSame(mixed $expected, mixed $actual, string $what = ''): void
    {
        if ($expected !== $actual) {
            throw new AssertionFailed(trim(sprintf(
                '%s: expected %s, got %s',
                $what,
                var_export($expected, true),
                var_export($actual, true)
            ), ': '));
        }
    }

    protected static function assertStringContainsString(string $needle, ?string $haystack, string $what = ''): void
    {
        if ($haystack === null || !str_contains($haystack, $needle)) {
            throw new AssertionFailed(trim("$what: '$needle' not in " . var_export($haystack, true), ': '));
        }
    }

    /**
     * Run a pg_perfaudit assertion that must fail with SQLSTATE PA001, in a
     * savepoint so the test can go on; returns the exception.
     */
    protected static function expectPa001(string $query, array $bindings = []): PDOException
    {
        try {
            DB::transaction(fn () => DB::scalar($query, $bindings));
        } catch (PDOException $e) {
            self::assertSame('PA001', $e->getCode(), 'PDOException::getCode()');
            self::assertSame('PA001', $e->errorInfo[0], 'PDOException::$errorInfo[0]');
            return $e;
        }
        throw new AssertionFailed("$query did not fail with PA001");
    }

    /** Runs each public test_* method in order; returns the exit status. */
    public function runTests(): int
    {
        $passed = $failed = 0;
        $n = 0;
        foreach ((new ReflectionClass($this))->getMethods(ReflectionMethod::IS_PUBLIC) as $method) {
            if (!str_starts_with($method->name, 'test_')) {
                continue;
            }
            $n++;
            $error = null;
            try {
                $this->setUp();
                try {
                    $this->{$method->name}();
                } finally {
                    $this->tearDown();
                }
            } catch (Throwable $e) {
                $error = get_class($e) . ': ' . strtok($e->getMessage(), "\n")
                    . ' (line ' . $e->getLine() . ')';
            }
            if ($error === null) {
                $passed++;
                echo "ok $n - {$method->name}\n";
            } else {
                $failed++;
                echo "not ok $n - {$method->name}: $error\n";
            }
        }
        echo "php: $passed passed, $failed failed\n";
        return $failed === 0 && $passed > 0 ? 0 : 1;
    }
}

final class PerfauditFeatureTest extends TestCase
{
    private const ORG = 42;
    private const SERVERS_PER_ORG = 10;
    private const DASHBOARD_QUERIES = 4;

    /** Run id of the N+1 test, for the test after it (PHPUnit's @depends). */
    private static ?int $lazyRunId = null;

    /** Middleware: the request's tenant.  SET is not counted by a run. */
    private function actingAsTenant(int $org): void
    {
        DB::statement("SET app.current_organization_id = '$org'");
    }

    /** start() before $request, stop() after it; the run id. */
    private function capture(string $label, callable $request): int
    {
        $runId = (int) DB::scalar('select perfaudit.start(?)', [$label]);
        $request();
        DB::select('select * from perfaudit.stop()');
        return $runId;
    }

    private function dashboard(int $org): void
    {
        DB::selectOne('select id, name, plan from app.organizations where id = ?', [$org]);
        DB::select('select id, name, email from app.users where organization_id = ? order by id limit 20', [$org]);
        DB::scalar('select count(*) from app.users where organization_id = ?', [$org]);
        DB::select('select id, hostname, region from app.servers where organization_id = ? order by id', [$org]);
    }

    private function servers(int $org): array
    {
        return DB::select('select id, hostname from app.servers where organization_id = ? order by id', [$org]);
    }

    /** $server->latestMetric, lazy-loaded in the view: one query per server. */
    private function serversPageLazy(int $org): array
    {
        $page = [];
        foreach ($this->servers($org) as $server) {
            $metric = DB::selectOne(
                'select recorded_at, cpu from app.metrics where organization_id = ? and server_id = ? '
                . 'order by recorded_at desc limit 1',
                [$org, $server->id]
            );
            $page[$server->id] = $metric->recorded_at;
        }
        return $page;
    }

    /** Server::with('metrics'): one whereIn query, one placeholder per id. */
    private function serversPageEager(int $org): array
    {
        $servers = $this->servers($org);
        $ids = array_map(fn ($s) => $s->id, $servers);
        $metrics = DB::select(
            'select server_id, recorded_at, cpu from app.metrics where organization_id = ? and server_id in ('
            . implode(', ', array_fill(0, count($ids), '?')) . ') order by server_id, recorded_at desc',
            array_merge([$org], $ids)
        );
        $page = [];
        foreach ($metrics as $m) {
            $page[$m->server_id] ??= $m->recorded_at;
        }
        return $page;
    }

    public function test_dashboard_stays_within_its_query_budget(): void
    {
        $this->actingAsTenant(self::ORG);
        $runId = $this->capture('php dashboard', fn () => $this->dashboard(self::ORG));

        self::assertTrue(DB::scalar('select perfaudit.assert_max_queries(?)', [self::DASHBOARD_QUERIES]));
        // Exactly the page's statements: PDO's DEALLOCATEs and the SET are not counted.
        self::assertSame(
            self::DASHBOARD_QUERIES,
            DB::scalar('select statements from perfaudit.runs where run_id = ?', [$runId]),
            'runs.statements'
        );
        $e = self::expectPa001('select perfaudit.assert_max_queries(?)', [self::DASHBOARD_QUERIES - 1]);
        self::assertStringContainsString('capture run executed more statements than allowed', $e->getMessage());
    }

    public function test_eager_loaded_page_has_no_n_plus_one(): void
    {
        $this->actingAsTenant(self::ORG);
        $page = null;
        $runId = $this->capture('php servers, eager', function () use (&$page) {
            $page = $this->serversPageEager(self::ORG);
        });
        self::assertSame($this->serversPageLazy(self::ORG), $page, 'eager page equals lazy page');
        self::assertSame(self::SERVERS_PER_ORG, count($page), 'servers on the page');
        self::assertSame(2, DB::scalar('select statements from perfaudit.runs where run_id = ?', [$runId]));
        self::assertTrue(DB::scalar("select perfaudit.assert_no_findings(array['n_plus_one'])"));
        self::assertTrue(DB::scalar('select perfaudit.assert_no_findings()'), 'no finding of any kind');
    }

    public function test_lazy_loaded_page_is_caught_as_n_plus_one(): void
    {
        // Data the test creates; the rollback must remove it.
        DB::insert("insert into app.plans (code, name) values ('harness-php', 'made by the test')");
        $this->actingAsTenant(self::ORG);
        $runId = $this->capture('php servers, lazy', fn () => $this->serversPageLazy(self::ORG));
        self::$lazyRunId = $runId;

        $e = self::expectPa001("select perfaudit.assert_no_findings(array['n_plus_one'])");
        self::assertStringContainsString('capture run has findings: n_plus_one', $e->getMessage());

        $finding = DB::selectOne(
            "select tenant, query, detail->>'calls' as calls, detail->'source'->>'query' as source "
            . "from perfaudit.findings where run_id = ? and kind = 'n_plus_one'",
            [$runId]
        );
        self::assertSame((string) self::ORG, $finding->tenant, 'finding tenant');
        self::assertStringContainsString('app.metrics', $finding->query, 'finding query');
        self::assertSame((string) self::SERVERS_PER_ORG, $finding->calls, 'finding calls');
        self::assertStringContainsString('app.servers', $finding->source, 'likely source');
    }

    public function test_evidence_of_the_n_plus_one_survives_the_rollback(): void
    {
        self::assertTrue(self::$lazyRunId !== null, 'test_lazy_loaded_page_is_caught_as_n_plus_one ran');
        // Another session, after that test's rollBack().
        $fresh = DB::connect();
        $count = $fresh->query("select count(*) from app.plans where code = 'harness-php'")->fetchColumn();
        self::assertSame(0, $count, "the test's own data is rolled back");

        $q = $fresh->prepare(
            "select r.label, r.statements, count(f.*) filter (where f.kind = 'n_plus_one') as n_plus_one "
            . 'from perfaudit.runs r left join perfaudit.findings f using (run_id) '
            . 'where r.run_id = ? group by r.run_id, r.label, r.statements'
        );
        $q->execute([self::$lazyRunId]);
        $run = $q->fetch();
        self::assertTrue($run !== false, 'the run is stored');
        self::assertSame('php servers, lazy', $run->label);
        self::assertSame(1 + self::SERVERS_PER_ORG, $run->statements, 'runs.statements');
        self::assertSame(1, $run->n_plus_one, 'n_plus_one findings');
        $fresh = null;
    }

    public function test_unscoped_query_is_flagged(): void
    {
        $this->actingAsTenant(self::ORG);
        $this->capture('php login lookup', fn () => DB::selectOne(
            'select id, name from app.users where email = ?',
            ['user42@example.test']
        ));
        self::expectPa001("select perfaudit.assert_no_findings(array['unscoped_tenant_query'])");
    }

    public function test_users_query_meets_its_latency_budget(): void
    {
        self::assertTrue(DB::scalar(
            'select perfaudit.assert_query_time(?, 50, tenants => ?::text[])',
            ['select id, name, email from app.users where organization_id = $1 order by id limit 20',
             '{1,2,3,4,5,6,7,8,9,10}']
        ));
    }
}

exit((new PerfauditFeatureTest())->runTests());
