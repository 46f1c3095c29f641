<?php

/*
 * PHPUnit bootstrap for running without Composer (Debian's phpunit, no
 * vendor/): the PSR-4 autoloading composer.json declares, for src/ and
 * tests/.  With Composer, vendor/autoload.php does the same and this file
 * is not needed (phpunit.xml.dist names it so that both work).
 *
 *     phpunit -c clients/php/phpunit.xml.dist
 *     phpunit --bootstrap clients/php/tests/bootstrap.php SomeTest.php
 */

declare(strict_types=1);

$vendor = dirname(__DIR__) . '/vendor/autoload.php';
if (is_file($vendor)) {
    require $vendor;
    return;
}

spl_autoload_register(static function (string $class): void {
    $roots = [
        'Perfaudit\\Tests\\' => __DIR__ . '/',
        'Perfaudit\\' => dirname(__DIR__) . '/src/',
    ];
    foreach ($roots as $prefix => $dir) {
        if (str_starts_with($class, $prefix)) {
            $file = $dir . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
            if (is_file($file)) {
                require $file;
            }
            return;
        }
    }
});
