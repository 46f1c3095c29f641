"""The few things perfaudit needs of a connection, for Django's
``connection``, psycopg 3 and psycopg2 alike.

All three take DB-API cursors with ``%s`` placeholders.  What differs is
how to tell whether a transaction is open (a check then runs inside a
savepoint, so that a failed one does not abort the test's transaction)
and where an error's SQLSTATE is.
"""

import contextlib

PA001 = "PA001"


def _is_django(conn):
    return hasattr(conn, "in_atomic_block") and hasattr(conn, "alias")


def sqlstate(exc):
    """The SQLSTATE of a driver error (or Django's wrapper of one), or None."""
    while exc is not None:
        code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
        if code:
            return code
        exc = exc.__cause__
    return None


def _primary(exc):
    """The server's primary message and detail of a driver error."""
    while exc is not None:
        diag = getattr(exc, "diag", None)
        if diag is not None and getattr(diag, "message_primary", None):
            return diag.message_primary, getattr(diag, "message_detail", None)
        if getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None):
            return str(exc).strip(), None
        exc = exc.__cause__
    return None, None


class Db:
    """A connection as perfaudit uses it."""

    def __init__(self, conn):
        self.conn = conn
        self.django = _is_django(conn)

    def rows(self, sql, params=()):
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description is not None else []
        finally:
            cur.close()

    def value(self, sql, params=()):
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def _in_transaction(self):
        """Is a transaction block open, where a failed statement would
        abort it?  (Outside one, each statement is its own.)"""
        conn = self.conn
        if self.django:
            return conn.in_atomic_block
        info = getattr(conn, "info", None)
        status = getattr(info, "transaction_status", None)
        if status is not None:                       # psycopg 3
            name = getattr(status, "name", str(status))
            if name == "INERROR":
                raise RuntimeError("the connection's transaction is already aborted; "
                                   "pg_perfaudit cannot check this run on it")
            return name == "INTRANS" or not conn.autocommit
        get_status = getattr(conn, "get_transaction_status", None)
        if get_status is not None:                   # psycopg2
            import psycopg2.extensions as ext
            status = get_status()
            if status == ext.TRANSACTION_STATUS_INERROR:
                raise RuntimeError("the connection's transaction is already aborted; "
                                   "pg_perfaudit cannot check this run on it")
            return status == ext.TRANSACTION_STATUS_INTRANS or not conn.autocommit
        return False

    @contextlib.contextmanager
    def savepoint(self):
        """A block whose failure rolls back to where it started, and only
        that: the caller's transaction goes on (as Django's atomic())."""
        if self.django:
            from django.db import transaction
            if self.conn.in_atomic_block:
                with transaction.atomic(using=self.conn.alias):
                    yield
            else:
                yield
            return
        if not self._in_transaction():
            yield
            return
        self.rows("SAVEPOINT perfaudit_check")
        try:
            yield
        except BaseException:
            self.rows("ROLLBACK TO SAVEPOINT perfaudit_check")
            self.rows("RELEASE SAVEPOINT perfaudit_check")
            raise
        self.rows("RELEASE SAVEPOINT perfaudit_check")

    def check(self, sql, params=()):
        """Run an assertion function inside a savepoint: None when it
        passes, (message, detail) when it raises PA001; other errors raise."""
        try:
            with self.savepoint():
                self.rows(sql, params)
        except Exception as exc:          # the driver's, or Django's wrapper
            if sqlstate(exc) != PA001:
                raise
            return _primary(exc)
        return None
