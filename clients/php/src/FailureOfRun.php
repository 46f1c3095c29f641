<?php

declare(strict_types=1);

namespace Perfaudit;

/**
 * What AssertionFailed adds to its parent, whichever that is: the run
 * whose check failed (null for a check of no run, assertQueryTime()).
 *
 * @internal
 */
trait FailureOfRun
{
    public ?Run $run = null;

    public static function of(string $message, ?Run $run): static
    {
        $failure = new static($message);
        $failure->run = $run;
        return $failure;
    }
}
