<?php

declare(strict_types=1);

namespace Perfaudit;

use PDO;
use Throwable;
use WeakMap;

/**
 * A pg_perfaudit capture run (a row of perfaudit.runs) and its checks.
 *
 *     $run = Run::capture($pdo, fn () => $app->handle($request), 'GET /dashboard', tenant: 42);
 *     $run->assertMaxQueries(5);
 *     $run->assertNoNPlusOne();
 *     $run->assertNoFindings();            // any kind, from severity medium up
 *
 * A failed check throws AssertionFailed (PHPUnit's AssertionFailedError
 * under PHPUnit) with the captured queries or the findings in its message.
 * Each check runs in a savepoint when a transaction is open, so the
 * caller's transaction goes on after a failure.  The run and its findings
 * are stored by pg_perfaudit outside the caller's transaction: they stay in
 * perfaudit.runs and perfaudit.findings after it is rolled back.
 *
 * What pg_perfaudit counts: every statement the server executes (SELECT,
 * INSERT, UPDATE, DELETE, DDL, each statement of a multi-statement string),
 * and not transaction control (BEGIN, COMMIT, SAVEPOINT, RELEASE, ROLLBACK
 * TO), SET, nor the DEALLOCATE pdo_pgsql sends for each server-side
 * prepared statement it is done with.
 */
final class Run
{
    public const SEVERITIES = ['low', 'medium', 'high', 'critical'];

    /** Statements the run executed (perfaudit.runs.statements), set when it stops. */
    public ?int $statements = null;

    /** What the captured callable returned (a Laravel test's TestResponse, say). */
    public mixed $result = null;

    /**
     * Connections whose run could not be stopped because the callable
     * raised inside a transaction it had aborted: the run is still active
     * in that session, and the next capture on the connection stops it
     * first.  Weak, so a connection that goes away is forgotten with it.
     *
     * @var WeakMap<PDO, true>|null
     */
    private static ?WeakMap $unstopped = null;

    private function __construct(
        private readonly Db $db,
        public readonly int $runId,
        public readonly ?string $label,
    ) {
    }

    /**
     * Captures what $fn runs on $pdo's session into a pg_perfaudit run, and
     * returns the stopped run (what $fn returned is in ->result).
     *
     * $tenant is the acting tenant, the organization the code acts as: a
     * row of another organization that its statements read or write is
     * then a cross_tenant_access finding.  The run is stopped when $fn
     * returns and also when it throws (and $fn's exception goes on).
     *
     * @param callable(): mixed $fn
     */
    public static function capture(
        PDO $pdo,
        callable $fn,
        ?string $label = null,
        int|string|null $tenant = null,
        string $scope = 'session',
    ): self {
        $db = new Db($pdo);
        self::$unstopped ??= new WeakMap();
        if (isset(self::$unstopped[$pdo])) {
            // An earlier capture's callable aborted its transaction, so its
            // run could not be stopped; stop it now, so that start() can
            // begin this one.  In a savepoint, and only if it is still
            // active: this clean-up must not abort the caller's transaction.
            unset(self::$unstopped[$pdo]);
            try {
                $db->inSavepoint(fn () => $db->rows(
                    'SELECT CASE WHEN perfaudit.active_run() IS NOT NULL THEN (perfaudit.stop()).run_id END'
                ));
            } catch (Throwable) {
                // start() below says what is wrong, if anything still is.
            }
        }
        $runId = (int) $db->value(
            'SELECT perfaudit.start(?, ?, ?)',
            [$label, $scope, $tenant === null ? null : (string) $tenant]
        );
        $run = new self($db, $runId, $label);
        try {
            $run->result = $fn();
        } catch (Throwable $e) {
            // $fn's exception is the caller's: stop the run if the
            // transaction still allows it, and let that exception through
            // in any case.
            try {
                $run->stop();
            } catch (Throwable) {
                self::$unstopped[$pdo] = true;
            }
            throw $e;
        }
        $run->stop();
        return $run;
    }

    // --- what it saw ---------------------------------------------------------

    /**
     * The run's statements, one per (query, tenant, nesting level), most
     * executions first.
     *
     * @return list<array{query: ?string, tenant: ?string, calls: int, rows: int, total_ms: float, nesting_level: int}>
     */
    public function queries(): array
    {
        $rows = $this->db->rows(
            'SELECT query, tenant, calls, rows, total_ms, nesting_level'
            . ' FROM perfaudit.run_statements WHERE run_id = ?'
            . ' ORDER BY calls DESC, total_ms DESC',
            [$this->runId]
        );
        return array_map(static fn (array $r): array => [
            'query' => $r['query'],
            'tenant' => $r['tenant'],
            'calls' => (int) $r['calls'],
            'rows' => (int) $r['rows'],
            'total_ms' => (float) $r['total_ms'],
            'nesting_level' => (int) $r['nesting_level'],
        ], $rows);
    }

    /**
     * The run's findings of $kinds (null: all) from $minSeverity up, most
     * severe first.
     *
     * @param list<string>|null $kinds
     * @return list<array{kind: string, severity: string, tenant: ?string, relation: ?string, message: string, suggestion: ?string, query: ?string, detail: array<string, mixed>}>
     */
    public function findings(?array $kinds = null, string $minSeverity = 'low'): array
    {
        $floor = self::rank($minSeverity);
        $rows = $this->db->rows(
            'SELECT kind, severity, tenant, relation, message, suggestion, query, detail::pg_catalog.text AS detail'
            . ' FROM perfaudit.findings WHERE run_id = ? ORDER BY finding_id',
            [$this->runId]
        );
        $found = [];
        foreach ($rows as $r) {
            if (($kinds !== null && !in_array($r['kind'], $kinds, true)) || self::rank($r['severity']) < $floor) {
                continue;
            }
            $r['detail'] = $r['detail'] === null ? [] : json_decode($r['detail'], true, 512, JSON_THROW_ON_ERROR);
            $found[] = $r;
        }
        // Stable since PHP 8.0: equal severities keep the server's order.
        usort($found, static fn (array $a, array $b): int => self::rank($b['severity']) <=> self::rank($a['severity']));
        return $found;
    }

    /** pg_perfaudit's text report of the run (perfaudit.report()). */
    public function report(): string
    {
        $lines = $this->db->rows('SELECT line FROM perfaudit.report(?) AS line', [$this->runId]);
        return implode("\n", array_column($lines, 'line'));
    }

    // --- checks ------------------------------------------------------------

    /** At most $max statements, as pg_perfaudit counts them. */
    public function assertMaxQueries(int $max): bool
    {
        $failed = $this->db->check('SELECT perfaudit.assert_max_queries(?, ?)', [$max, $this->runId]);
        if ($failed === null) {
            return Outcome::pass();
        }
        $lines = [
            sprintf('%d queries executed, at most %d allowed (pg_perfaudit run %d%s)',
                $this->statements ?? 0, $max, $this->runId, $this->labelSuffix()),
            'Captured queries were:',
        ];
        foreach ($this->queries() as $i => $q) {
            $lines[] = sprintf('%d. %s%s%s',
                $i + 1,
                self::oneLine($q['query']),
                $q['calls'] > 1 ? sprintf('  [%d×]', $q['calls']) : '',
                $q['tenant'] !== null && $q['tenant'] !== '' ? sprintf('  (tenant %s)', $q['tenant']) : '');
        }
        Outcome::fail(implode("\n", $lines), $this);
    }

    /** No N+1 pattern, at any severity. */
    public function assertNoNPlusOne(): bool
    {
        return $this->assertNoFindings(['n_plus_one']);
    }

    /**
     * No findings: with $kinds null, none of any kind from $minSeverity
     * (default 'medium') up; kinds named are checked at every severity
     * unless $minSeverity is given too (as perfaudit.assert_no_findings()).
     *
     * @param list<string>|null $kinds
     */
    public function assertNoFindings(?array $kinds = null, ?string $minSeverity = null): bool
    {
        $failed = $this->db->check(
            'SELECT perfaudit.assert_no_findings(?::pg_catalog.text[], ?, ?)',
            [Db::textArray($kinds), $this->runId, $minSeverity]
        );
        if ($failed === null) {
            return Outcome::pass();
        }
        [$message, $detail] = $failed;
        $found = $this->findings($kinds, $minSeverity ?? ($kinds === null ? 'medium' : 'low'));
        $lines = [sprintf('%s (pg_perfaudit run %d%s)', $message, $this->runId, $this->labelSuffix())];
        if ($found === [] && $detail !== null) {
            // No finding to list: the run is incomplete, say; the server's
            // DETAIL says why.
            $lines[] = $detail;
        }
        foreach ($found as $f) {
            $lines[] = sprintf('[%s] %s%s%s: %s',
                $f['severity'],
                $f['kind'],
                $f['relation'] !== null ? ' on ' . $f['relation'] : '',
                $f['tenant'] !== null ? ' for tenant ' . $f['tenant'] : '',
                $f['message']);
            if ($f['query'] !== null) {
                $lines[] = '    query: ' . self::oneLine($f['query']);
            }
            if ($f['suggestion'] !== null) {
                $lines[] = '    suggestion: ' . $f['suggestion'];
            }
        }
        Outcome::fail(implode("\n", $lines), $this);
    }

    /**
     * The checks assertPerfaudit() takes: at most $maxQueries statements;
     * no N+1; no findings of the kinds in $noFindings (true: any kind from
     * $minSeverity, default 'medium').
     *
     * @param list<string>|bool|null $noFindings
     */
    public function check(
        ?int $maxQueries = null,
        bool $noNPlusOne = false,
        array|bool|null $noFindings = null,
        ?string $minSeverity = null,
    ): bool {
        if ($maxQueries !== null) {
            $this->assertMaxQueries($maxQueries);
        }
        if ($noNPlusOne) {
            $this->assertNoNPlusOne();
        }
        if ($noFindings === true) {
            $this->assertNoFindings(null, $minSeverity);
        } elseif (is_array($noFindings) && $noFindings !== []) {
            $this->assertNoFindings(array_values($noFindings), $minSeverity);
        }
        return true;
    }

    private function stop(): void
    {
        $this->statements = (int) $this->db->value('SELECT statements FROM perfaudit.stop()');
    }

    /**
     * ", 'label'" for a message, control characters escaped so that a label
     * cannot add lines of its own to it (backslashes are kept as they are:
     * the default label is a class name).
     */
    private function labelSuffix(): string
    {
        return $this->label === null ? '' : ", '" . addcslashes($this->label, "\0..\37\177") . "'";
    }

    private static function rank(string $severity): int
    {
        $rank = array_search($severity, self::SEVERITIES, true);
        if ($rank === false) {
            throw new \InvalidArgumentException(sprintf(
                "unknown severity '%s' (known: %s)", $severity, implode(', ', self::SEVERITIES)));
        }
        return $rank;
    }

    /** A statement on one line, white space collapsed, at most $limit characters. */
    private static function oneLine(?string $text, int $limit = 200): string
    {
        $text = trim((string) preg_replace('/\s+/u', ' ', (string) $text));
        if (preg_match('/^.{' . $limit . '}./us', $text) !== 1) {
            return $text;
        }
        preg_match('/^.{' . ($limit - 1) . '}/us', $text, $m);
        return $m[0] . '…';
    }
}
