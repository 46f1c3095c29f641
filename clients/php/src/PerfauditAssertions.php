<?php

declare(strict_types=1);

namespace Perfaudit;

use LogicException;
use PDO;

/**
 * pg_perfaudit checks for PHPUnit test cases, shaped for Laravel feature
 * tests:
 *
 *     use Perfaudit\PerfauditAssertions;
 *
 *     class DashboardTest extends TestCase
 *     {
 *         use RefreshDatabase, PerfauditAssertions;
 *
 *         public function test_dashboard(): void
 *         {
 *             $run = $this->assertPerfaudit(fn () => $this->get('/dashboard'),
 *                                           maxQueries: 5, noNPlusOne: true, tenant: 42);
 *             $run->result->assertOk();
 *         }
 *     }
 *
 * A failed check is a PHPUnit failure (AssertionFailed, an
 * AssertionFailedError) listing the captured queries or the findings; each
 * passed check counts as an assertion.  The checks run in a savepoint, so
 * RefreshDatabase's transaction goes on after a failure, and the run stays
 * stored after its rollback.
 *
 * The connection: in a Laravel application, the default connection's PDO
 * (DB::connection()->getPdo()), the one the application's queries go
 * through.  Anywhere else, override perfauditPdo() to return the PDO the
 * code under test uses.
 */
trait PerfauditAssertions
{
    /**
     * The PDO connection whose session the checks capture.  Override it
     * outside Laravel (or for another connection than the default).
     */
    protected function perfauditPdo(): PDO
    {
        $facade = 'Illuminate\Support\Facades\DB';
        if (class_exists($facade)) {
            return $facade::connection()->getPdo();
        }
        throw new LogicException(sprintf(
            '%s uses %s outside Laravel (no class %s): override perfauditPdo() to return the PDO '
            . 'connection the code under test runs its queries on',
            static::class,
            PerfauditAssertions::class,
            $facade
        ));
    }

    /**
     * Runs $request inside a pg_perfaudit capture run and checks it: at most
     * $maxQueries statements; no N+1 ($noNPlusOne); no findings of the kinds
     * in $noFindings (true: any kind from $minSeverity, default 'medium';
     * kinds named are checked at every severity unless $minSeverity is
     * given).  $tenant is the acting tenant (perfaudit.start()'s third
     * argument): a row of another organization read or written is then a
     * critical cross_tenant_access finding.  $label defaults to the test's
     * name.  Returns the Run, for more checks or to look at ->queries(),
     * ->findings(), ->report(), ->statements and ->result (what $request
     * returned).
     *
     * @param callable(): mixed $request
     * @param list<string>|bool|null $noFindings
     */
    public function assertPerfaudit(
        callable $request,
        ?int $maxQueries = null,
        bool $noNPlusOne = false,
        array|bool|null $noFindings = null,
        ?string $minSeverity = null,
        int|string|null $tenant = null,
        ?string $label = null,
    ): Run {
        $run = Run::capture($this->perfauditPdo(), $request, $label ?? $this->perfauditLabel(), $tenant);
        $run->check($maxQueries, $noNPlusOne, $noFindings, $minSeverity);
        return $run;
    }

    /**
     * $query's latency at $percentile over $iterations executions is at
     * most $maxMs (perfaudit.assert_query_time()); `$1` takes each of
     * $tenants in turn.
     *
     * @param list<int|string>|null $tenants
     */
    public function assertQueryTime(
        string $query,
        float $maxMs,
        float $percentile = 0.95,
        int $iterations = 50,
        ?array $tenants = null,
    ): bool {
        return Benchmark::assertQueryTime($this->perfauditPdo(), $query, $maxMs, $percentile, $iterations, $tenants);
    }

    /**
     * Class::test, with the data set when there is one, as PHPUnit names
     * the test (PHPUnit 10 has nameWithDataSet(), 9 getName()).
     */
    protected function perfauditLabel(): string
    {
        $name = method_exists($this, 'nameWithDataSet') ? $this->nameWithDataSet() : $this->getName();
        return static::class . '::' . $name;
    }
}
