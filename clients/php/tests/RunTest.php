<?php

declare(strict_types=1);

namespace Perfaudit\Tests;

use PDO;
use Perfaudit\AssertionFailed;
use Perfaudit\Run;
use PHPUnit\Framework\AssertionFailedError;
use PHPUnit\Framework\TestCase;

/**
 * Run on its own, as code without the trait uses it: on an autocommit
 * connection (no transaction, so no savepoint), on one whose error mode is
 * not exceptions, and in a PHP process without PHPUnit.
 */
final class RunTest extends TestCase
{
    private static function lookups(PDO $pdo, array $ids): void
    {
        foreach ($ids as $id) {
            $statement = $pdo->prepare('SELECT relname FROM pg_class WHERE oid = ?');
            $statement->execute([$id]);
            $statement->fetchAll();
        }
    }

    public function test_on_an_autocommit_connection(): void
    {
        $pdo = Connection::open();
        $run = Run::capture($pdo, fn () => self::lookups($pdo, [1259]), 'autocommit');
        $this->assertFalse($pdo->inTransaction());
        $this->assertTrue($run->assertMaxQueries(1));
        try {
            $run->assertMaxQueries(0);
            $this->fail('a budget of 0 passed one statement');
        } catch (AssertionFailedError $e) {
            $this->assertStringStartsWith(
                "1 queries executed, at most 0 allowed (pg_perfaudit run $run->runId, 'autocommit')\n",
                $e->getMessage()
            );
        }
        $this->assertTrue($run->check(maxQueries: 1, noNPlusOne: true, noFindings: true));
        $this->assertStringContainsString('autocommit', $run->report());
        $this->assertNull($pdo->query('SELECT perfaudit.active_run()')->fetchColumn());
    }

    public function test_on_a_connection_that_does_not_throw(): void
    {
        // PDO's error modes other than exceptions would let a failed check
        // pass silently: the helper sets exceptions for its own statements
        // and puts the connection's mode back.
        $pdo = Connection::open([PDO::ATTR_ERRMODE => PDO::ERRMODE_SILENT, PDO::ATTR_EMULATE_PREPARES => true]);
        $pdo->beginTransaction();
        try {
            $run = Run::capture($pdo, fn () => self::lookups($pdo, [1259, 1249]), "it's silent");
            $this->expectException(AssertionFailed::class);
            $this->expectExceptionMessage("2 queries executed, at most 1 allowed (pg_perfaudit run $run->runId, 'it's silent')");
            $run->assertMaxQueries(1);
        } finally {
            $this->assertSame(PDO::ERRMODE_SILENT, $pdo->getAttribute(PDO::ATTR_ERRMODE));
            $this->assertSame('1', (string) $pdo->query('SELECT 1')->fetchColumn(), 'the transaction goes on');
            $pdo->rollBack();
        }
    }

    public function test_kinds_are_bound_not_spliced(): void
    {
        $pdo = Connection::open();
        $run = Run::capture($pdo, fn () => null, 'kinds');
        $this->assertSame(0, $run->statements);
        // Each kind is one element of the array, whatever it holds.
        $this->assertTrue($run->assertNoFindings(['n_plus_one', 'seq_scan'], 'low'));
        $this->expectException(\PDOException::class);
        $this->expectExceptionMessage('n_plus_one,"}');
        $run->assertNoFindings(['n_plus_one,"}']);
    }

    public function test_a_label_cannot_add_lines_to_a_failure_message(): void
    {
        $pdo = Connection::open();
        $run = Run::capture($pdo, fn () => self::lookups($pdo, [1259]), "GET /\nCaptured queries were:");
        try {
            $run->assertMaxQueries(0);
            $this->fail('a budget of 0 passed one statement');
        } catch (AssertionFailed $e) {
            [$first, $second] = explode("\n", $e->getMessage());
            $this->assertSame(
                "1 queries executed, at most 0 allowed (pg_perfaudit run $run->runId, 'GET /\\nCaptured queries were:')",
                $first
            );
            $this->assertSame('Captured queries were:', $second);
        }
    }

    public function test_without_phpunit_a_failure_is_an_assertion_error(): void
    {
        $script = <<<'PHP'
            require $argv[1];
            $pdo = new PDO(sprintf('pgsql:host=%s;port=%s;dbname=%s', getenv('PGHOST'), getenv('PGPORT'),
                                   getenv('PGDATABASE')), getenv('PGUSER') ?: null);
            $run = Perfaudit\Run::capture($pdo, fn () => $pdo->query('SELECT 1')->fetchAll(), 'plain php');
            var_dump($run->assertMaxQueries(1));
            try {
                $run->assertMaxQueries(0);
            } catch (AssertionError $e) {
                echo get_parent_class($e), "\n", strtok($e->getMessage(), "\n"), "\n";
            }
            PHP;
        $out = [];
        exec(
            escapeshellarg(PHP_BINARY) . ' -r ' . escapeshellarg($script) . ' '
            . escapeshellarg(__DIR__ . '/bootstrap.php') . ' 2>&1',
            $out,
            $status
        );
        $this->assertSame(0, $status, implode("\n", $out));
        $this->assertSame('bool(true)', $out[0]);
        $this->assertSame('AssertionError', $out[1]);
        $this->assertMatchesRegularExpression("/^1 queries executed, at most 0 allowed \\(pg_perfaudit run \\d+, 'plain php'\\)$/", $out[2]);
    }
}
