<?php

declare(strict_types=1);

namespace Perfaudit;

use PDO;
use PDOException;
use PDOStatement;
use RuntimeException;
use Throwable;

/**
 * The few things perfaudit needs of a PDO connection (pdo_pgsql).
 *
 * Every statement is prepared and its values bound (`?` placeholders), so
 * labels, tenants and kinds never become SQL text.  The connection is the
 * application's (Laravel's, usually): its error mode, fetch mode and
 * emulation setting are its own, so each call sets the error mode it needs
 * for its duration and puts the application's back, and asks for the fetch
 * mode it needs explicitly.
 *
 * @internal Run, Benchmark and the PHPUnit trait use it; it may change in
 *           any version.
 */
final class Db
{
    /** The SQLSTATE of a failed pg_perfaudit assertion. */
    public const PA001 = 'PA001';

    /** A name no application's own savepoints use (Laravel's are trans2, trans3...). */
    private const SAVEPOINT = 'perfaudit_check';

    /**
     * The statement whose execution failed last, kept until the savepoint
     * is rolled back: pdo_pgsql deallocates a server-side prepared
     * statement when its object goes, and a DEALLOCATE sent while the
     * transaction is aborted fails (an ERROR in the server's log) and
     * leaves the statement prepared in the session.
     */
    private ?PDOStatement $failed = null;

    public function __construct(public readonly PDO $pdo)
    {
    }

    /**
     * The rows of one statement, each an array keyed by column name.
     *
     * @param list<int|string|bool|float|null> $params
     * @return list<array<string, mixed>>
     */
    public function rows(string $sql, array $params = []): array
    {
        return $this->withExceptions(function () use ($sql, $params): array {
            $statement = $this->execute($sql, $params);
            // The statement object goes when this returns, and with it (when
            // prepares are not emulated) the server's prepared statement.
            return $statement->columnCount() > 0 ? $statement->fetchAll(PDO::FETCH_ASSOC) : [];
        });
    }

    /**
     * The first column of the first row, or null.
     *
     * @param list<int|string|bool|float|null> $params
     */
    public function value(string $sql, array $params = []): mixed
    {
        $rows = $this->rows($sql, $params);
        return $rows === [] ? null : array_values($rows[0])[0];
    }

    /**
     * Runs an assertion function: null when it returns true, the server's
     * [message, detail] when it fails with PA001.  Inside a transaction it
     * runs in a savepoint, rolled back on any error, so that the caller's
     * transaction (a test's RefreshDatabase transaction) goes on after a
     * failed check.  Errors other than PA001 are thrown as they came.
     *
     * @param list<int|string|bool|float|null> $params
     * @return array{0: string, 1: ?string}|null
     */
    public function check(string $sql, array $params = []): ?array
    {
        try {
            $this->inSavepoint(fn () => $this->rows($sql, $params));
        } catch (PDOException $e) {
            if (self::sqlstate($e) !== self::PA001) {
                throw $e;
            }
            return self::primary($e);
        }
        return null;
    }

    /**
     * Calls $fn; if a transaction is open, inside a savepoint that is rolled
     * back when $fn throws (and released otherwise), so that an error in $fn
     * does not abort the transaction.  Outside a transaction each statement
     * is its own, and nothing is needed.
     *
     * @template T
     * @param callable(): T $fn
     * @return T
     */
    public function inSavepoint(callable $fn): mixed
    {
        // pdo_pgsql answers from libpq's transaction status, so this is also
        // true for a transaction opened by a plain "BEGIN" and for one that
        // an error has aborted.
        if (!$this->pdo->inTransaction()) {
            return $fn();
        }
        try {
            $this->exec('SAVEPOINT ' . self::SAVEPOINT);
        } catch (PDOException $e) {
            if (self::sqlstate($e) === '25P02') {
                throw new RuntimeException(
                    "the connection's transaction is already aborted (an earlier statement failed); "
                    . 'pg_perfaudit cannot check a run on it until it is rolled back',
                    0,
                    $e
                );
            }
            throw $e;
        }
        try {
            $result = $fn();
        } catch (Throwable $e) {
            $this->exec('ROLLBACK TO SAVEPOINT ' . self::SAVEPOINT);
            $this->failed = null;       // its DEALLOCATE, now that it can succeed
            $this->exec('RELEASE SAVEPOINT ' . self::SAVEPOINT);
            throw $e;
        }
        $this->exec('RELEASE SAVEPOINT ' . self::SAVEPOINT);
        return $result;
    }

    /** The SQLSTATE of a PDO error, or null. */
    public static function sqlstate(PDOException $e): ?string
    {
        $state = $e->errorInfo[0] ?? null;
        if (is_string($state) && $state !== '') {
            return $state;
        }
        // A PDOException made by PDO itself (not the server) may have no
        // errorInfo; its code is then the SQLSTATE, when it has one.
        $code = $e->getCode();
        return is_string($code) && strlen($code) === 5 ? $code : null;
    }

    /**
     * The server's primary message and DETAIL of a PDO error.
     *
     * pdo_pgsql keeps libpq's error text in errorInfo[2]:
     * "ERROR:  message\nDETAIL:  detail\nHINT:  ...", each field on lines
     * of its own (a DETAIL may have several).
     *
     * @return array{0: string, 1: ?string}
     */
    public static function primary(PDOException $e): array
    {
        $text = (string) ($e->errorInfo[2] ?? $e->getMessage());
        $fields = [];
        $current = null;
        foreach (preg_split('/\r?\n/', rtrim($text)) as $line) {
            if (preg_match('/^(ERROR|DETAIL|HINT|CONTEXT|QUERY|STATEMENT|LINE \d+):\s+(.*)$/', $line, $m)) {
                $current = $m[1];
                $fields[$current] = isset($fields[$current]) ? $fields[$current] . "\n" . $m[2] : $m[2];
            } elseif ($current !== null) {
                $fields[$current] .= "\n" . $line;
            }
        }
        return [$fields['ERROR'] ?? trim($text), $fields['DETAIL'] ?? null];
    }

    /**
     * A text[] value for a `?::pg_catalog.text[]` placeholder: an array literal with
     * every element quoted, so no kind can change the array's shape.
     *
     * @param list<string>|null $values
     */
    public static function textArray(?array $values): ?string
    {
        if ($values === null) {
            return null;
        }
        $quoted = array_map(
            static fn (string $v): string => '"' . addcslashes($v, '"\\') . '"',
            array_values($values)
        );
        return '{' . implode(',', $quoted) . '}';
    }

    /** @param list<int|string|bool|float|null> $params */
    private function execute(string $sql, array $params): PDOStatement
    {
        $this->failed = null;
        $statement = $this->pdo->prepare($sql);
        foreach (array_values($params) as $i => $value) {
            $statement->bindValue($i + 1, $value, match (true) {
                $value === null => PDO::PARAM_NULL,
                is_int($value) => PDO::PARAM_INT,
                is_bool($value) => PDO::PARAM_BOOL,
                default => PDO::PARAM_STR,
            });
        }
        try {
            $statement->execute();
        } catch (PDOException $e) {
            $this->failed = $statement;
            throw $e;
        }
        return $statement;
    }

    private function exec(string $sql): void
    {
        $this->withExceptions(fn () => $this->pdo->exec($sql));
    }

    /**
     * Runs $fn with PDO::ERRMODE_EXCEPTION, whatever the connection's own
     * error mode: perfaudit tells a failed check from other errors by the
     * exception's SQLSTATE, and silently ignored errors would pass checks.
     *
     * @template T
     * @param callable(): T $fn
     * @return T
     */
    private function withExceptions(callable $fn): mixed
    {
        $mode = $this->pdo->getAttribute(PDO::ATTR_ERRMODE);
        if ($mode === PDO::ERRMODE_EXCEPTION) {
            return $fn();
        }
        $this->pdo->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
        try {
            return $fn();
        } finally {
            $this->pdo->setAttribute(PDO::ATTR_ERRMODE, $mode);
        }
    }
}
