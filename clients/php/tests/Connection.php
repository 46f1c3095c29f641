<?php

declare(strict_types=1);

namespace Perfaudit\Tests;

use PDO;

/** Connections to the server under test, named by the libpq environment. */
final class Connection
{
    /**
     * A new PDO connection as Laravel makes them: exceptions on errors and
     * server-side prepared statements (a named Parse, Bind and Execute per
     * statement, and a DEALLOCATE when its PDOStatement goes).
     *
     * @param array<int, mixed> $options
     */
    public static function open(array $options = []): PDO
    {
        $dsn = sprintf(
            'pgsql:host=%s;port=%s;dbname=%s',
            getenv('PGHOST') ?: '/var/run/postgresql',
            getenv('PGPORT') ?: '5432',
            getenv('PGDATABASE') ?: 'postgres'
        );
        return new PDO($dsn, getenv('PGUSER') ?: null, getenv('PGPASSWORD') ?: null, $options + [
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_EMULATE_PREPARES => false,
            PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_OBJ,
        ]);
    }
}
