<?php

declare(strict_types=1);

namespace Perfaudit\Tests;

use LogicException;
use PDO;
use PDOException;
use Perfaudit\AssertionFailed;
use Perfaudit\PerfauditAssertions;
use PHPUnit\Framework\Assert;
use PHPUnit\Framework\AssertionFailedError;
use PHPUnit\Framework\TestCase;
use RuntimeException;

/**
 * The trait in a RefreshDatabase-style test: one connection, each test in a
 * transaction opened in setUp and rolled back in tearDown.  The table is
 * the test's own (a temporary one, made inside that transaction), so the
 * tests need nothing of the database but pg_perfaudit: 40 servers, server
 * g of organization 1 + g % 4.
 */
final class PerfauditAssertionsTest extends TestCase
{
    use PerfauditAssertions;

    private PDO $pdo;

    protected function perfauditPdo(): PDO
    {
        return $this->pdo;
    }

    protected function setUp(): void
    {
        $this->pdo = Connection::open();
        $this->pdo->beginTransaction();
        $this->pdo->exec('CREATE TEMP TABLE pa_servers (id int PRIMARY KEY, organization_id int NOT NULL, name text)');
        $this->pdo->exec("INSERT INTO pa_servers SELECT g, 1 + g % 4, 'server ' || g FROM generate_series(1, 40) g");
    }

    protected function tearDown(): void
    {
        if ($this->pdo->inTransaction()) {
            $this->pdo->rollBack();
        }
        unset($this->pdo);
    }

    /** One prepared lookup per id: a lazy load in a loop. */
    private function lookups(array $ids): void
    {
        foreach ($ids as $id) {
            $statement = $this->pdo->prepare('SELECT name FROM pa_servers WHERE id = ?');
            $statement->execute([$id]);
            $statement->fetchAll();
        }
    }

    /** The same rows in one statement: the eager load. */
    private function eager(array $ids): array
    {
        $statement = $this->pdo->prepare(
            'SELECT id, name FROM pa_servers WHERE id IN (' . implode(', ', array_fill(0, count($ids), '?')) . ')'
        );
        $statement->execute($ids);
        return $statement->fetchAll();
    }

    /** $n servers of organization $org: for 3, servers 2, 6, 10, ... */
    private static function serversOf(int $org, int $n): array
    {
        return array_map(fn (int $i): int => $org - 1 + 4 * $i, range(0, $n - 1));
    }

    private function selectOne(): int
    {
        return (int) $this->pdo->query('SELECT 1')->fetchColumn();
    }

    public function test_a_budget_that_holds_passes_and_counts_as_an_assertion(): void
    {
        $before = Assert::getCount();
        $run = $this->assertPerfaudit(fn () => $this->lookups([1, 5, 9]), maxQueries: 3);
        $this->assertSame(1, Assert::getCount() - $before, 'one assertion counted');
        $this->assertSame(3, $run->statements);
        $this->assertSame(self::class . '::' . __FUNCTION__, $run->label, 'default label: the test');
        [$q] = $run->queries();
        $this->assertSame('SELECT name FROM pa_servers WHERE id = $1', $q['query']);
        $this->assertSame(3, $q['calls']);
        $this->assertStringContainsString(__FUNCTION__, $run->report());
    }

    public function test_a_budget_exceeded_fails_with_the_queries_listed(): void
    {
        try {
            $run = $this->assertPerfaudit(function () {
                $this->lookups([1, 5, 9]);
                $this->eager([1, 2]);
            }, maxQueries: 3, label: 'budget');
        } catch (AssertionFailedError $e) {
            $this->assertInstanceOf(AssertionFailed::class, $e);
            $runId = $e->run->runId;
            $this->assertSame(
                "4 queries executed, at most 3 allowed (pg_perfaudit run $runId, 'budget')\n"
                . "Captured queries were:\n"
                . "1. SELECT name FROM pa_servers WHERE id = $1  [3×]  (tenant 2)\n"
                . '2. SELECT id, name FROM pa_servers WHERE id IN ($1, $2)',
                $e->getMessage()
            );
            // The check ran in a savepoint: the test's transaction goes on.
            $this->assertSame(1, $this->selectOne());
            $this->assertSame(40, (int) $this->pdo->query('SELECT count(*) FROM pa_servers')->fetchColumn());
            // The failed check's prepared statement was deallocated after the
            // rollback to the savepoint, not left in the session.
            $this->assertSame([], $this->pdo->query(
                "SELECT statement FROM pg_prepared_statements WHERE statement NOT LIKE '%pg_prepared_statements%'"
            )->fetchAll(PDO::FETCH_COLUMN));
            return;
        }
        $this->fail("a budget of 3 passed a run of $run->statements statements");
    }

    public function test_a_loop_of_lookups_fails_no_n_plus_one_with_the_finding(): void
    {
        $ids = self::serversOf(3, 10);
        try {
            $this->assertPerfaudit(fn () => $this->lookups($ids), noNPlusOne: true, tenant: 3, label: 'lazy');
        } catch (AssertionFailedError $e) {
            $lines = explode("\n", $e->getMessage());
            $this->assertSame(
                "capture run has findings: n_plus_one (pg_perfaudit run {$e->run->runId}, 'lazy')",
                $lines[0]
            );
            $this->assertMatchesRegularExpression(
                '/^\[medium\] n_plus_one for tenant 3: statement executed 10 times '
                . 'with 10 different parameter values for tenant 3: an N\+1 pattern/',
                $lines[1]
            );
            $this->assertSame('    query: SELECT name FROM pa_servers WHERE id = $1', $lines[2]);
            $this->assertStringStartsWith('    suggestion: ', $lines[3]);
            $this->assertCount(4, $lines, 'only the n_plus_one finding is listed');
            $this->assertSame(1, $this->selectOne());
            // The unscoped lookups found only organization 3's rows: low,
            // which the default floor (medium) lets pass.
            $this->assertTrue($e->run->assertNoFindings(['unscoped_tenant_query'], 'medium'));
            $this->assertSame(['low'], array_column($e->run->findings(['unscoped_tenant_query']), 'severity'));
            return;
        }
        $this->fail('ten lookups in a loop passed noNPlusOne');
    }

    public function test_the_eager_version_passes(): void
    {
        $ids = self::serversOf(3, 10);
        $run = $this->assertPerfaudit(
            fn () => $this->eager($ids),
            maxQueries: 1,
            noNPlusOne: true,
            noFindings: true,
            tenant: 3
        );
        $this->assertCount(10, $run->result, 'what the callable returned');
        $this->assertSame('3', $run->queries()[0]['tenant'], 'attributed to the acting tenant');
    }

    public function test_another_organizations_row_is_a_critical_finding_for_the_acting_tenant(): void
    {
        // Acting as organization 2 (start()'s third argument), read server
        // 2, which is organization 3's.
        try {
            $this->assertPerfaudit(fn () => $this->lookups([2]), noFindings: true, tenant: '2', label: 'leak');
        } catch (AssertionFailedError $e) {
            $this->assertStringStartsWith('capture run has findings: cross_tenant_access', $e->getMessage());
            $this->assertStringContainsString(
                "\n[critical] cross_tenant_access for tenant 3: the statement ran for tenant 2 and read rows of tenant 3\n",
                $e->getMessage()
            );
            [$finding] = $e->run->findings(['cross_tenant_access']);
            $this->assertSame('2', $finding['detail']['acting_tenant']);
            $this->assertSame(1, $this->selectOne());
            return;
        }
        $this->fail("organization 3's row read as organization 2 passed");
    }

    public function test_the_evidence_stays_after_the_rollback(): void
    {
        $this->pdo->exec("INSERT INTO pa_servers VALUES (41, 2, 'made by the test')");
        $run = $this->assertPerfaudit(fn () => $this->lookups([2, 41]), tenant: 2, label: 'evidence');
        $this->pdo->rollBack();     // what RefreshDatabase does after the test

        $other = Connection::open();
        $q = $other->prepare('SELECT label, statements FROM perfaudit.runs WHERE run_id = ?');
        $q->execute([$run->runId]);
        $this->assertEquals((object) ['label' => 'evidence', 'statements' => 2], $q->fetch());
        $q = $other->prepare('SELECT kind FROM perfaudit.findings WHERE run_id = ? ORDER BY kind');
        $q->execute([$run->runId]);
        $this->assertSame(['cross_tenant_access', 'unscoped_tenant_query'], $q->fetchAll(PDO::FETCH_COLUMN));
        // The checks can be made on it from there too, by run id.
        $q = $other->prepare('SELECT perfaudit.assert_max_queries(2, ?)');
        $q->execute([$run->runId]);
        $this->assertTrue($q->fetchColumn());
    }

    public function test_a_callable_that_throws_still_stops_its_run(): void
    {
        try {
            $this->assertPerfaudit(function () {
                $this->lookups([1]);
                throw new RuntimeException('the page failed');
            }, maxQueries: 10, label: 'throws');
            $this->fail('the exception did not come through');
        } catch (RuntimeException $e) {
            $this->assertSame('the page failed', $e->getMessage());
        }
        $this->assertNull($this->pdo->query('SELECT perfaudit.active_run()')->fetchColumn());
        $run = $this->pdo->query(
            'SELECT label, statements FROM perfaudit.runs WHERE run_id = perfaudit.last_run()'
        )->fetch();
        $this->assertEquals((object) ['label' => 'throws', 'statements' => 1], $run);
    }

    public function test_a_callable_that_aborts_the_transaction(): void
    {
        // An SQL error in the callable aborts the transaction, where the
        // run cannot be stopped; it is stopped by the next capture on the
        // connection, after the rollback.
        try {
            $this->assertPerfaudit(fn () => $this->pdo->query('SELECT 1 / 0'), label: 'aborts');
            $this->fail('the division by zero did not come through');
        } catch (PDOException $e) {
            $this->assertSame('22012', $e->getCode());
        }
        $this->pdo->rollBack();
        $this->pdo->beginTransaction();
        $run = $this->assertPerfaudit(fn () => $this->selectOne(), maxQueries: 1, label: 'after');
        $this->assertSame(1, $run->statements);
        $stopped = $this->pdo->query(
            "SELECT stopped_at IS NOT NULL FROM perfaudit.runs WHERE label = 'aborts' AND pid = pg_backend_pid()"
        )->fetchAll(PDO::FETCH_COLUMN);
        $this->assertSame([true], $stopped, 'the aborted run was stopped and stored');
    }

    public function test_a_check_on_an_aborted_transaction_says_so(): void
    {
        $run = $this->assertPerfaudit(fn () => $this->lookups([1]));
        try {
            $this->pdo->query('SELECT 1 / 0');
        } catch (PDOException) {
            // The test swallowed an SQL error: its transaction is aborted.
        }
        $this->expectException(RuntimeException::class);
        $this->expectExceptionMessage("the connection's transaction is already aborted");
        $run->assertMaxQueries(1);
    }

    public function test_an_error_that_is_not_a_failed_check_comes_through_as_a_pdo_exception(): void
    {
        try {
            $this->assertPerfaudit(fn () => $this->lookups([1]), noFindings: ['n_plus_two']);
            $this->fail('an unknown kind passed');
        } catch (AssertionFailedError $e) {
            throw $e;
        } catch (PDOException $e) {
            $this->assertSame('22023', $e->getCode());
            $this->assertStringContainsString('n_plus_two', $e->getMessage());
        }
        // Rolled back to the check's savepoint: the transaction goes on.
        $this->assertSame(1, $this->selectOne());
    }

    public function test_latency_budget(): void
    {
        $this->assertTrue($this->assertQueryTime(
            'SELECT name FROM pa_servers WHERE organization_id = $1',
            maxMs: 50,
            tenants: [1, 2, 3, 4]
        ));
        try {
            $this->assertQueryTime('SELECT pg_sleep(0.002)', maxMs: 1, iterations: 3);
        } catch (AssertionFailedError $e) {
            $this->assertStringStartsWith('query slower than allowed at percentile', $e->getMessage());
            $this->assertStringEndsWith("\n    query: SELECT pg_sleep(0.002)", $e->getMessage());
            $this->assertNull($e->run);
            $this->assertSame(1, $this->selectOne());
            return;
        }
        $this->fail('a 2 ms statement met a 1 ms budget');
    }

    public function test_outside_laravel_the_connection_must_be_given(): void
    {
        $case = new class ('test_x') extends TestCase {
            use PerfauditAssertions;
        };
        $this->expectException(LogicException::class);
        $this->expectExceptionMessage('override perfauditPdo()');
        $case->assertPerfaudit(fn () => null, maxQueries: 1);
    }
}
