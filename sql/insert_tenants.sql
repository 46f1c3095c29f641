-- INSERTs name the tenants they write: the tenant column's value, a
-- literal or a bound parameter (Django save(), Rails create!), in one row
-- or many (bulk_create(), insert_all): such a statement is attributed to
-- that tenant, and to several when its rows belong to several.
CREATE TABLE ins_servers (id serial PRIMARY KEY, organization_id int NOT NULL, name text);
PREPARE create_server(int, text) AS
    INSERT INTO ins_servers (organization_id, name) VALUES ($1, $2);
SELECT perfaudit.start('inserts') AS run_i \gset
INSERT INTO ins_servers (organization_id, name) VALUES (42, 'literal');
EXECUTE create_server(43, 'bound');
INSERT INTO ins_servers (organization_id, name) VALUES (44, 'a'), (44, 'b'), (44, 'c');
INSERT INTO ins_servers (name, organization_id) VALUES ('x', 45), ('y', 46);
PREPARE bulk(int, int) AS INSERT INTO ins_servers (organization_id, name) VALUES ($1, 'p'), ($2, 'q');
EXECUTE bulk(47, 47);
INSERT INTO ins_servers (organization_id, name) SELECT organization_id, name FROM ins_servers WHERE id = 1;
SELECT statements FROM perfaudit.stop();
SELECT tenant, calls, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 70) AS query
  FROM perfaudit.run_statements
 WHERE run_id = :run_i ORDER BY tenant COLLATE "C" NULLS LAST, query COLLATE "C";
SELECT kind, tenant FROM perfaudit.findings
 WHERE run_id = :run_i AND kind = 'cross_tenant_query';
DEALLOCATE ALL;
DROP TABLE ins_servers;
