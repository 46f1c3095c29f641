<?php

declare(strict_types=1);

namespace Perfaudit;

/*
 * A failed pg_perfaudit check.  Under PHPUnit it is one of PHPUnit's own
 * failures (a PHPUnit\Framework\AssertionFailedError), so the test is
 * reported as failed, not as an error, with the queries and findings in its
 * message; without PHPUnit it is an \AssertionError.  Which parent it gets
 * is decided once, when the class is first loaded (PHPUnit loads its own
 * classes before any test, so under PHPUnit it is always the first).
 */

if (class_exists(\PHPUnit\Framework\AssertionFailedError::class)) {
    class AssertionFailed extends \PHPUnit\Framework\AssertionFailedError
    {
        use FailureOfRun;
    }
} else {
    class AssertionFailed extends \AssertionError
    {
        use FailureOfRun;
    }
}
