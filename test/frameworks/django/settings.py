# A minimal Django project for pg_perfaudit's framework test: one app,
# PostgreSQL through psycopg2 on the throwaway cluster's socket (PGHOST,
# PGPORT), the test database created by Django's own test runner.
import os

from perfaudit.django import database_options

SECRET_KEY = "pg_perfaudit-test"
INSTALLED_APPS = ["saas"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "saas",
        "USER": os.environ.get("PGUSER", "postgres"),
        "HOST": os.environ["PGHOST"],
        "PORT": os.environ["PGPORT"],
        # What the README recommends: every pooled connection names its
        # tenant setting ({"options": "-c perfaudit.tenant_setting=app.org"}).
        "OPTIONS": database_options(tenant_setting="app.org"),
    }
}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
TEST_RUNNER = "runner.CountingRunner"
