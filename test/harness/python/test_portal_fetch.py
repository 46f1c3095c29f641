"""An extended-protocol portal read in chunks (Execute with a row limit, as
JDBC's fetchSize and other drivers' streaming reads do) is one execution of
its query, its rows summed over the chunks.  libpq (and so psycopg) cannot
send a row limit, so this test speaks the protocol itself over the Unix
socket, as the application role (trust authentication on the harness's
throwaway cluster)."""

import os
import socket
import struct


class Wire:
    """Just enough of the v3 frontend protocol."""

    def __init__(self):
        path = os.path.join(os.environ["PGHOST"], ".s.PGSQL.%s" % os.environ["PGPORT"])
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        params = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in
                          [("user", os.environ["PGUSER"]), ("database", os.environ["PGDATABASE"])])
        body = struct.pack("!i", 196608) + params + b"\0"
        self.sock.sendall(struct.pack("!i", len(body) + 4) + body)
        self.until(b"Z")

    def send(self, kind, body=b""):
        self.sock.sendall(kind + struct.pack("!i", len(body) + 4) + body)

    def recv(self):
        head = self._read(5)
        kind, length = head[:1], struct.unpack("!i", head[1:])[0]
        return kind, self._read(length - 4)

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            assert chunk, "server closed the connection"
            buf += chunk
        return buf

    def until(self, stop):
        """Messages up to one of kind stop; DataRow values of one column."""
        rows, kinds = [], []
        while True:
            kind, body = self.recv()
            kinds.append(kind)
            assert kind != b"E", body
            if kind == b"D":
                (n,) = struct.unpack("!h", body[:2])
                (length,) = struct.unpack("!i", body[2:6])
                rows.append(body[6:6 + length].decode() if length >= 0 else None)
            if kind in stop:
                return rows, kinds

    def query(self, text):
        self.send(b"Q", text.encode() + b"\0")
        return self.until(b"Z")[0]

    def close(self):
        self.send(b"X")
        self.sock.close()


def test_portal_fetched_in_chunks_is_one_statement():
    w = Wire()
    try:
        w.query("SET perfaudit.tenant_setting = 'app.current_organization_id'")
        w.query("SET app.current_organization_id = '7'")
        (run_id,) = w.query("SELECT perfaudit.start('portal chunks')")
        # Parse, Bind an unnamed portal, Execute 3 rows at a time until done.
        w.send(b"P", b"\0" + b"SELECT id FROM app.users WHERE organization_id = $1 ORDER BY id\0"
               + struct.pack("!h", 0))
        w.send(b"B", b"\0\0" + struct.pack("!h", 0) + struct.pack("!h", 1)
               + struct.pack("!i", 1) + b"7" + struct.pack("!h", 0))
        fetched, chunks = 0, 0
        while True:
            w.send(b"E", b"\0" + struct.pack("!i", 3))
            w.send(b"H")                          # Flush
            rows, kinds = w.until(b"sC")           # PortalSuspended or CommandComplete
            fetched += len(rows)
            chunks += 1
            if kinds[-1] == b"C":
                break
        w.send(b"S")
        w.until(b"Z")
        (statements,) = w.query("SELECT statements FROM perfaudit.stop()")
        result = w.query("SELECT calls || ' ' || rows || ' ' || tenant FROM perfaudit.run_statements"
                         " WHERE run_id = %d AND query LIKE 'SELECT id FROM app.users%%'" % int(run_id))
    finally:
        w.close()
    assert fetched == 20 and chunks == 7       # 20 users per organization, 3 at a time
    assert statements == "1"
    assert result == ["1 20 7"]


def test_portal_read_in_a_transaction_rolled_back_still_counts():
    # JDBC's fetchSize in a transactional test: a named portal read in
    # chunks, then the test's transaction rolled back before the portal
    # was closed.  What it returned was sent: one statement, its rows.
    w = Wire()
    try:
        w.query("SET perfaudit.tenant_setting = 'app.current_organization_id'")
        w.query("SET app.current_organization_id = '7'")
        (run_id,) = w.query("SELECT perfaudit.start('portal rolled back')")
        w.query("BEGIN")
        w.send(b"P", b"\0" + b"SELECT id FROM app.users WHERE organization_id = $1 ORDER BY id\0"
               + struct.pack("!h", 0))
        w.send(b"B", b"chunks\0\0" + struct.pack("!h", 0) + struct.pack("!h", 1)
               + struct.pack("!i", 1) + b"7" + struct.pack("!h", 0))
        fetched = 0
        for _ in range(2):
            w.send(b"E", b"chunks\0" + struct.pack("!i", 4))
            w.send(b"H")
            rows, _ = w.until(b"s")
            fetched += len(rows)
        w.send(b"S")
        w.until(b"Z")
        w.query("ROLLBACK")
        (statements,) = w.query("SELECT statements FROM perfaudit.stop()")
        result = w.query("SELECT calls || ' ' || rows FROM perfaudit.run_statements"
                         " WHERE run_id = %d AND query LIKE 'SELECT id FROM app.users%%'" % int(run_id))
    finally:
        w.close()
    assert fetched == 8
    assert statements == "1"
    assert result == ["1 8"]
