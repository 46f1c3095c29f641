<?php

declare(strict_types=1);

namespace Perfaudit;

/**
 * How a check ends, under PHPUnit or not.
 *
 * @internal
 */
final class Outcome
{
    /**
     * A check passed: under PHPUnit it counts as an assertion of the running
     * test (PHPUnit adds Assert's static count to the test's), so a test
     * whose only assertions are pg_perfaudit's is not reported as risky.
     */
    public static function pass(): bool
    {
        if (class_exists(\PHPUnit\Framework\Assert::class)) {
            \PHPUnit\Framework\Assert::assertTrue(true);
        }
        return true;
    }

    /** A check failed: PHPUnit's failure (or an \AssertionError) with $message. */
    public static function fail(string $message, ?Run $run = null): never
    {
        self::hideFromTraces();
        throw AssertionFailed::of($message, $run);
    }

    /**
     * Leaves this package's frames out of the traces PHPUnit prints, as it
     * leaves out its own: a failure then points at the test's line, not at
     * this file.
     */
    private static function hideFromTraces(): void
    {
        static $done = false;
        if ($done || !method_exists(\PHPUnit\Util\ExcludeList::class, 'addDirectory')) {
            return;
        }
        $done = true;
        \PHPUnit\Util\ExcludeList::addDirectory(__DIR__);
    }
}
