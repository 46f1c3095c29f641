<?php

declare(strict_types=1);

namespace Perfaudit;

use PDO;

/**
 * Checks of one statement's latency, which pg_perfaudit measures itself
 * (perfaudit.benchmark()), apart from any capture run.
 */
final class Benchmark
{
    /**
     * The statement's latency at $percentile (default p95) over
     * $iterations timed executions is at most $maxMs milliseconds
     * (perfaudit.assert_query_time()).  `$1` in $query takes each of
     * $tenants in turn.  A slower statement fails as AssertionFailed with
     * the server's message and the measured value.
     *
     * @param list<int|string>|null $tenants
     */
    public static function assertQueryTime(
        PDO $pdo,
        string $query,
        float $maxMs,
        float $percentile = 0.95,
        int $iterations = 50,
        ?array $tenants = null,
    ): bool {
        $db = new Db($pdo);
        $failed = $db->check(
            'SELECT perfaudit.assert_query_time(?, ?, ?, ?, ?::pg_catalog.text[])',
            [
                $query,
                $maxMs,
                $percentile,
                $iterations,
                Db::textArray($tenants === null ? null : array_map('strval', $tenants)),
            ]
        );
        if ($failed === null) {
            return Outcome::pass();
        }
        [$message, $detail] = $failed;
        $lines = [$message . ' (pg_perfaudit)'];
        if ($detail !== null) {
            $lines[] = $detail;
        }
        $lines[] = '    query: ' . trim((string) preg_replace('/\s+/u', ' ', $query));
        Outcome::fail(implode("\n", $lines));
    }
}
