<?php
/*
 * pg_perfaudit in a Laravel feature test, with the PerfauditAssertions
 * trait of clients/php, run by Debian's PHPUnit over PDO pgsql.
 *
 * Laravel itself is not packaged in Debian (and there is no Composer
 * access to Packagist here), so this file carries small stand-ins for the
 * parts of it a feature test touches, under Laravel's own names:
 * Illuminate\Database\Connection (prepare, bind, execute per call, each
 * query logged as Connection::logQuery() does, transactions and savepoints
 * not), the DB facade Illuminate\Support\Facades\DB (so the trait finds
 * the connection the way it does in an application,
 * DB::connection()->getPdo()), and RefreshDatabase (a transaction begun in
 * setUp and rolled back in tearDown).  As in Laravel, one connection serves
 * the whole suite, PDO::ATTR_EMULATE_PREPARES is false (a named Parse,
 * Bind and Execute per call, and a DEALLOCATE when the statement object
 * goes away), and the tenant is the session setting
 * app.current_organization_id that the application's middleware sets.
 *
 *     phpunit --bootstrap clients/php/tests/bootstrap.php test/harness/php/PerfauditFeatureTest.php
 *
 * Connection from PGHOST, PGPORT, PGDATABASE, PGUSER; the tables are those
 * of test/fixtures (test/harness/run.sh sets it all up).
 */

declare(strict_types=1);

namespace Illuminate\Database {

    use PDO;
    use PDOStatement;
    use Throwable;

    /** A stand-in for Illuminate\Database\Connection (PostgresConnection). */
    final class Connection
    {
        private int $transactions = 0;
        private bool $loggingQueries = false;
        /** @var list<array{query: string, bindings: array, time: float}> */
        private array $queryLog = [];

        public function __construct(private readonly PDO $pdo)
        {
        }

        public function getPdo(): PDO
        {
            return $this->pdo;
        }

        /**
         * Prepare, bind and execute, as Connection::select() and
         * statement() do, and log the query as Connection::run() does.
         */
        private function run(string $query, array $bindings): PDOStatement
        {
            $start = microtime(true);
            $statement = $this->pdo->prepare($query);
            foreach ($bindings as $key => $value) {
                $statement->bindValue(
                    is_string($key) ? $key : $key + 1,
                    $value,
                    is_int($value) ? PDO::PARAM_INT : PDO::PARAM_STR
                );
            }
            $statement->execute();
            $this->logQuery($query, $bindings, (microtime(true) - $start) * 1000);
            return $statement;
        }

        private function logQuery(string $query, array $bindings, float $time): void
        {
            if ($this->loggingQueries) {
                $this->queryLog[] = compact('query', 'bindings', 'time');
            }
        }

        public function select(string $query, array $bindings = []): array
        {
            return $this->run($query, $bindings)->fetchAll(PDO::FETCH_OBJ);
        }

        public function selectOne(string $query, array $bindings = []): ?object
        {
            return $this->select($query, $bindings)[0] ?? null;
        }

        /** The first column of the first row (Laravel 10's scalar()). */
        public function scalar(string $query, array $bindings = []): mixed
        {
            $row = $this->selectOne($query, $bindings);
            return $row === null ? null : array_values((array) $row)[0];
        }

        public function statement(string $query, array $bindings = []): bool
        {
            $this->run($query, $bindings);
            return true;
        }

        public function insert(string $query, array $bindings = []): bool
        {
            return $this->statement($query, $bindings);
        }

        /** Several statements in one string, sent as they are (PDO::exec()), logged once. */
        public function unprepared(string $query): bool
        {
            $start = microtime(true);
            $this->pdo->exec($query);
            $this->logQuery($query, [], (microtime(true) - $start) * 1000);
            return true;
        }

        // Transactions go through PDO and exec(), not run(): Laravel
        // neither logs them nor fires QueryExecuted for them.

        public function beginTransaction(): void
        {
            if ($this->transactions === 0) {
                $this->pdo->beginTransaction();
            } else {
                $this->pdo->exec('SAVEPOINT trans' . ($this->transactions + 1));
            }
            $this->transactions++;
        }

        public function rollBack(): void
        {
            if ($this->transactions === 1) {
                $this->pdo->rollBack();
            } else {
                $this->pdo->exec('ROLLBACK TO SAVEPOINT trans' . $this->transactions);
            }
            $this->transactions--;
        }

        public function commit(): void
        {
            if ($this->transactions === 1) {
                $this->pdo->commit();
            } else {
                $this->pdo->exec('RELEASE SAVEPOINT trans' . $this->transactions);
            }
            $this->transactions--;
        }

        /** DB::transaction(): inside a test, a savepoint. */
        public function transaction(callable $callback): mixed
        {
            $this->beginTransaction();
            try {
                $result = $callback();
            } catch (Throwable $e) {
                $this->rollBack();
                throw $e;
            }
            $this->commit();
            return $result;
        }

        public function transactionLevel(): int
        {
            return $this->transactions;
        }

        public function enableQueryLog(): void
        {
            $this->loggingQueries = true;
        }

        public function flushQueryLog(): void
        {
            $this->queryLog = [];
        }

        /** @return list<array{query: string, bindings: array, time: float}> */
        public function getQueryLog(): array
        {
            return $this->queryLog;
        }
    }
}

namespace Illuminate\Support\Facades {

    use Illuminate\Database\Connection;
    use PDO;

    /**
     * A stand-in for the DB facade: static calls go to the default
     * connection, opened on first use.
     *
     * @method static array select(string $query, array $bindings = [])
     * @method static ?object selectOne(string $query, array $bindings = [])
     * @method static mixed scalar(string $query, array $bindings = [])
     * @method static bool statement(string $query, array $bindings = [])
     * @method static bool insert(string $query, array $bindings = [])
     * @method static bool unprepared(string $query)
     * @method static void beginTransaction()
     * @method static void rollBack()
     * @method static mixed transaction(callable $callback)
     * @method static int transactionLevel()
     * @method static void enableQueryLog()
     * @method static void flushQueryLog()
     * @method static array getQueryLog()
     */
    final class DB
    {
        private static ?Connection $connection = null;

        /** A new PDO connection as the application role, configured as Laravel's. */
        public static function connect(): PDO
        {
            $dsn = sprintf(
                'pgsql:host=%s;port=%s;dbname=%s',
                getenv('PGHOST') ?: '/var/run/postgresql',
                getenv('PGPORT') ?: '5432',
                getenv('PGDATABASE') ?: 'postgres'
            );
            $pdo = new PDO($dsn, getenv('PGUSER') ?: null, getenv('PGPASSWORD') ?: null, [
                PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
                PDO::ATTR_EMULATE_PREPARES => false,
                PDO::ATTR_STRINGIFY_FETCHES => false,
            ]);
            // The application's tenancy configuration: which setting holds the tenant.
            $pdo->exec("SET perfaudit.tenant_setting = 'app.current_organization_id'");
            return $pdo;
        }

        public static function connection(): Connection
        {
            return self::$connection ??= new Connection(self::connect());
        }

        public static function __callStatic(string $method, array $arguments): mixed
        {
            return self::connection()->$method(...$arguments);
        }
    }
}

namespace Tests {

    use Illuminate\Support\Facades\DB;

    /** A stand-in for Illuminate\Foundation\Testing\RefreshDatabase's transaction. */
    trait RefreshDatabase
    {
        public function beginDatabaseTransaction(): void
        {
            DB::beginTransaction();
        }

        public function rollBackDatabaseTransaction(): void
        {
            while (DB::transactionLevel() > 0) {
                DB::rollBack();
            }
        }
    }

    /** The application's tests/TestCase.php: the traits' set-up and tear-down. */
    abstract class TestCase extends \PHPUnit\Framework\TestCase
    {
        protected function setUp(): void
        {
            parent::setUp();
            if (in_array(RefreshDatabase::class, class_uses($this), true)) {
                $this->beginDatabaseTransaction();
            }
        }

        protected function tearDown(): void
        {
            if (in_array(RefreshDatabase::class, class_uses($this), true)) {
                $this->rollBackDatabaseTransaction();
            }
            parent::tearDown();
        }
    }
}

namespace Tests\Feature {

    use Illuminate\Support\Facades\DB;
    use Perfaudit\PerfauditAssertions;
    use PHPUnit\Framework\AssertionFailedError;
    use Tests\RefreshDatabase;
    use Tests\TestCase;

    final class PerfauditFeatureTest extends TestCase
    {
        use RefreshDatabase;
        use PerfauditAssertions;

        private const ORG = 42;
        private const SERVERS_PER_ORG = 10;
        private const DASHBOARD_QUERIES = 4;

        /** Middleware: the request's tenant.  SET is not counted by a run. */
        private function actingAsTenant(int $org): void
        {
            DB::statement("SET app.current_organization_id = '$org'");
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
            $run = $this->assertPerfaudit(fn () => $this->dashboard(self::ORG), maxQueries: self::DASHBOARD_QUERIES);
            // Exactly the page's statements: PDO's DEALLOCATEs and the SET are not counted.
            $this->assertSame(self::DASHBOARD_QUERIES, $run->statements, 'runs.statements');
            $this->assertSame(self::class . '::' . __FUNCTION__, $run->label, 'labelled with the test');

            // One less is a failure of the test, listing the queries; the
            // test's transaction goes on after it.
            try {
                $run->assertMaxQueries(self::DASHBOARD_QUERIES - 1);
            } catch (AssertionFailedError $e) {
                $lines = explode("\n", $e->getMessage());
                $this->assertSame(sprintf(
                    "4 queries executed, at most 3 allowed (pg_perfaudit run %d, '%s')",
                    $run->runId,
                    $run->label
                ), $lines[0]);
                $this->assertSame('Captured queries were:', $lines[1]);
                $this->assertCount(2 + self::DASHBOARD_QUERIES, $lines);
                $this->assertStringContainsString('from app.organizations where id = $1  (tenant 42)', $e->getMessage());
                $this->assertSame(1, DB::scalar('select 1'));
                return;
            }
            $this->fail('a budget of 3 passed the four-query dashboard');
        }

        public function test_eager_loaded_page_has_no_n_plus_one(): void
        {
            $this->actingAsTenant(self::ORG);
            $run = $this->assertPerfaudit(
                fn () => $this->serversPageEager(self::ORG),
                maxQueries: 2,
                noNPlusOne: true,
                noFindings: true
            );
            $this->assertSame($this->serversPageLazy(self::ORG), $run->result, 'eager page equals lazy page');
            $this->assertCount(self::SERVERS_PER_ORG, $run->result, 'servers on the page');
            $this->assertSame(2, $run->statements);
        }

        public function test_lazy_loaded_page_is_caught_as_n_plus_one(): int
        {
            // Data the test creates; the rollback must remove it.
            DB::insert("insert into app.plans (code, name) values ('harness-php', 'made by the test')");
            $this->actingAsTenant(self::ORG);
            try {
                $this->assertPerfaudit(fn () => $this->serversPageLazy(self::ORG), noNPlusOne: true, label: 'php servers, lazy');
            } catch (AssertionFailedError $e) {
                $run = $e->run;
                $this->assertStringStartsWith(
                    "capture run has findings: n_plus_one (pg_perfaudit run $run->runId, 'php servers, lazy')\n"
                    . '[medium] n_plus_one for tenant 42: statement executed 10 times with 10 different parameter values',
                    $e->getMessage()
                );
                $this->assertStringContainsString("\n    query: select recorded_at, cpu from app.metrics", $e->getMessage());

                [$finding] = $run->findings(['n_plus_one']);
                $this->assertSame((string) self::ORG, $finding['tenant'], 'finding tenant');
                $this->assertSame(self::SERVERS_PER_ORG, $finding['detail']['calls'], 'finding calls');
                $this->assertStringContainsString('app.servers', $finding['detail']['source']['query'], 'likely source');
                $this->assertSame(1 + self::SERVERS_PER_ORG, $run->statements);
                return $run->runId;
            }
            $this->fail('the lazy page passed noNPlusOne');
        }

        /** @depends test_lazy_loaded_page_is_caught_as_n_plus_one */
        public function test_evidence_of_the_n_plus_one_survives_the_rollback(int $runId): void
        {
            // Another session, after that test's rollBack().
            $fresh = DB::connect();
            $count = $fresh->query("select count(*) from app.plans where code = 'harness-php'")->fetchColumn();
            $this->assertSame(0, $count, "the test's own data is rolled back");

            $q = $fresh->prepare(
                "select r.label, r.statements, count(f.*) filter (where f.kind = 'n_plus_one') as n_plus_one "
                . 'from perfaudit.runs r left join perfaudit.findings f using (run_id) '
                . 'where r.run_id = ? group by r.run_id, r.label, r.statements'
            );
            $q->execute([$runId]);
            $this->assertSame(
                ['label' => 'php servers, lazy', 'statements' => 1 + self::SERVERS_PER_ORG, 'n_plus_one' => 1],
                $q->fetch(\PDO::FETCH_ASSOC),
                'the run and its finding are stored'
            );
        }

        public function test_unscoped_query_is_flagged(): void
        {
            // A login lookup, before any tenant is known: by e-mail alone.  The
            // one row it finds is organization 99's, so the finding names 99.
            try {
                $this->assertPerfaudit(
                    fn () => DB::selectOne('select id, name from app.users where email = ?', ['user42@example.test']),
                    noFindings: ['unscoped_tenant_query']
                );
            } catch (AssertionFailedError $e) {
                $this->assertStringContainsString(
                    "\n[high] unscoped_tenant_query on app.users for tenant 99: tenant table app.users was read without a predicate on organization_id",
                    $e->getMessage()
                );
                // Scoped to the organization, the same lookup passes.
                $this->assertPerfaudit(
                    fn () => DB::selectOne(
                        'select id, name from app.users where organization_id = ? and email = ?',
                        [99, 'user42@example.test']
                    ),
                    noFindings: true
                );
                return;
            }
            $this->fail('the unscoped lookup passed');
        }

        public function test_users_query_meets_its_latency_budget(): void
        {
            $this->assertQueryTime(
                'select id, name, email from app.users where organization_id = $1 order by id limit 20',
                maxMs: 50,
                tenants: range(1, 10)
            );
        }

        /**
         * What pg_perfaudit counts against what Laravel's query log (and
         * expectsDatabaseQueryCount(), which counts the same QueryExecuted
         * events) counts, for the same requests on the same connection.
         */
        public function test_query_log_and_perfaudit_count_the_same_queries_but_set_and_multi_statement_strings(): void
        {
            DB::enableQueryLog();
            $count = function (callable $request): array {
                DB::flushQueryLog();
                $run = $this->assertPerfaudit($request);
                return ['query log' => count(DB::getQueryLog()), 'pg_perfaudit' => $run->statements];
            };
            $this->assertSame(['query log' => 4, 'pg_perfaudit' => 4], $count(fn () => $this->dashboard(self::ORG)), 'dashboard');
            // SET is not a statement pg_perfaudit counts; Laravel logs it.
            $this->assertSame(['query log' => 1, 'pg_perfaudit' => 0], $count(fn () => $this->actingAsTenant(self::ORG)), 'SET');
            // Neither counts the SAVEPOINT and RELEASE of DB::transaction().
            $this->assertSame(['query log' => 1, 'pg_perfaudit' => 1], $count(fn () => DB::transaction(
                fn () => DB::insert("insert into app.plans (code, name) values ('harness-php-2', 'in a savepoint')")
            )), 'DB::transaction() around an insert');
            // One string of two statements: one entry in the log, two statements run.
            $this->assertSame(['query log' => 1, 'pg_perfaudit' => 2], $count(fn () => DB::unprepared(
                "update app.plans set name = 'renamed' where code = 'harness-php-2'; "
                . "delete from app.plans where code = 'harness-php-2'"
            )), 'DB::unprepared() of two statements');
        }
    }
}
