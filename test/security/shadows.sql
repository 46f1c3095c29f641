-- Shadows of built-in objects, planted by a hostile role in schema public.
--
-- Run as the hostile role, with search_path = pg_catalog, in a database
-- where it may create objects in public (it owns the database, or was
-- granted CREATE on public).  It defines:
--
--   public.pa_marker         who ran a planted object, what, and the query
--   public.pa_trap(what)     records a call: a WARNING "pa_trap: ..." in the
--                            server log (kept even when the statement is
--                            rolled back), a row in pa_marker, and, when the
--                            caller is a superuser, makes the hostile role
--                            (the trap's owner) a superuser
--   public.pa_plant_shadows(words, ops, variant)
--                            plants, for every name in words and every
--                            operator symbol in ops that pg_catalog has:
--                              - a function of the same name and argument
--                                types for every overload (aggregates
--                                included), which calls the trap and then
--                                the original;
--                              - an operator of the same symbol and operand
--                                types for every overload, likewise;
--                              - a domain over every type of that name
--                                (variant 'domain'), or a composite type of
--                                that name with casts to it from the common
--                                built-in types (variant 'cast'), whose
--                                CHECK or cast function calls the trap;
--                              - a collation of every such name;
--                            and returns what it planted and skipped per
--                            kind.  A name that cannot be shadowed (an
--                            argument of type internal, a pseudo-type) is
--                            skipped and counted.
--
-- The tests that load it (t/010_security.pl, test/prometheus/run.sh) take
-- the words and operators from the SQL they check, so a name added there
-- is shadowed without editing a list.

CREATE TABLE public.pa_marker (who name, what text, query text);
GRANT INSERT ON public.pa_marker TO PUBLIC;

CREATE FUNCTION public.pa_trap(what text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog AS $f$
DECLARE
    owner name := (SELECT pg_get_userbyid(p.proowner) FROM pg_proc p
                    WHERE p.oid = 'public.pa_trap(pg_catalog.text)'::regprocedure);
BEGIN
    RAISE WARNING 'pa_trap: % ran %', current_user, what;
    INSERT INTO public.pa_marker VALUES (current_user, what, current_query());
    IF (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        EXECUTE format('ALTER ROLE %I SUPERUSER', owner);
    END IF;
    RETURN true;
END $f$;
GRANT EXECUTE ON FUNCTION public.pa_trap(text) TO PUBLIC;

CREATE FUNCTION public.pa_plant_shadows(words text[], ops text[], variant text DEFAULT 'domain')
RETURNS TABLE (kind text, planted int, skipped int, skipped_names text)
LANGUAGE plpgsql SET search_path = pg_catalog AS $p$
DECLARE
    -- Pseudo-types a SQL function can take and return.
    poly CONSTANT oid[] := ARRAY['anyelement', 'anyarray', 'anynonarray', 'anyenum', 'anyrange',
                                 'anymultirange', 'anycompatible', 'anycompatiblearray',
                                 'anycompatiblenonarray', 'anycompatiblerange',
                                 'anycompatiblemultirange', 'record', 'void']::regtype[]::oid[];
    p record;
    o record;
    t record;
    n int := 0;
    k int;
    fn text;
    sig text;
    args text;
    call text;
    ok_f int := 0; skip_f int := 0; names_f text[] := '{}';
    ok_a int := 0; skip_a int := 0; names_a text[] := '{}';
    ok_o int := 0; skip_o int := 0; names_o text[] := '{}';
    ok_t int := 0; skip_t int := 0; names_t text[] := '{}';
    ok_c int := 0; skip_c int := 0; names_c text[] := '{}';
    ok_l int := 0; skip_l int := 0; names_l text[] := '{}';
BEGIN
    -- Functions: the same signature (defaults, OUT parameters, VARIADIC
    -- and SETOF as the original has them), the trap, then the original.
    FOR p IN
        SELECT f.oid, f.proname, f.pronargs, f.provariadic, f.proretset, ARRAY(SELECT unnest(f.proargtypes::oid[])) AS argtypes,
               pg_get_function_arguments(f.oid) AS fargs,
               pg_get_function_identity_arguments(f.oid) AS iargs,
               pg_get_function_result(f.oid) AS fres
          FROM pg_proc f
         WHERE f.pronamespace = 'pg_catalog'::regnamespace AND f.prokind = 'f'
           AND f.proname = ANY (words)
         ORDER BY f.proname, f.oid
    LOOP
        -- VARIADIC "any" (format, concat, jsonb_build_object): the same
        -- leading arguments and one to three text ones, which a call with
        -- that many arguments prefers to the variadic original
        IF p.provariadic = '"any"'::regtype THEN
            FOR k IN 1 .. 3 LOOP
                SELECT coalesce(string_agg(format_type(x.typ, NULL), ', ' ORDER BY x.i), '')
                  INTO args FROM unnest(p.argtypes[1:p.pronargs - 1]) WITH ORDINALITY AS x(typ, i);
                args := concat_ws(', ', nullif(args, ''), array_to_string(array_fill('text'::text, ARRAY[k]), ', '));
                SELECT string_agg('$' || i, ', ' ORDER BY i) INTO call FROM generate_series(1, p.pronargs - 1 + k) AS i;
                BEGIN
                    EXECUTE format($b$CREATE FUNCTION public.%I(%s) RETURNS %s LANGUAGE sql AS %L$b$,
                                   p.proname, args, p.fres,
                                   format('SELECT public.pa_trap(%L); SELECT pg_catalog.%I(%s)',
                                          'function ' || p.proname || '(' || args || ')', p.proname, call));
                    ok_f := ok_f + 1;
                EXCEPTION WHEN others THEN
                    skip_f := skip_f + 1;
                    names_f := names_f || (p.proname || '(' || args || '): ' || SQLERRM);
                END;
            END LOOP;
            CONTINUE;
        END IF;
        -- argument and result types a SQL function can have
        IF EXISTS (SELECT FROM pg_proc f, unnest(f.proargtypes::oid[] || f.prorettype) AS a(t)
                     JOIN pg_type ty ON ty.oid = a.t
                    WHERE f.oid = p.oid AND ty.typtype = 'p' AND NOT a.t = ANY (poly)) THEN
            skip_f := skip_f + 1;
            names_f := names_f || (p.proname || '(' || p.iargs || ')');
            CONTINUE;
        END IF;
        SELECT string_agg(CASE WHEN p.provariadic <> 0 AND i = p.pronargs THEN 'VARIADIC ' ELSE '' END
                          || '$' || i, ', ' ORDER BY i)
          INTO call FROM generate_series(1, p.pronargs) AS i;
        n := n + 1;
        BEGIN
            EXECUTE format($b$CREATE FUNCTION public.%I(%s) RETURNS %s LANGUAGE sql AS %L$b$,
                           p.proname, p.fargs, p.fres,
                           format('SELECT public.pa_trap(%L); SELECT * FROM pg_catalog.%I(%s)',
                                  'function ' || p.proname || '(' || p.iargs || ')',
                                  p.proname, coalesce(call, '')));
            ok_f := ok_f + 1;
        EXCEPTION WHEN others THEN
            skip_f := skip_f + 1;
            names_f := names_f || (p.proname || '(' || p.iargs || '): ' || SQLERRM);
        END;
    END LOOP;

    -- Aggregates (plain and ordered-set): a state function that calls the
    -- trap; the result need not be right, the trap is what is looked for.
    FOR p IN
        SELECT f.oid, f.proname, a.aggkind, a.aggnumdirectargs,
               pg_get_function_identity_arguments(f.oid) AS iargs,
               ARRAY(SELECT unnest(f.proargtypes::oid[])) AS argtypes, f.prorettype
          FROM pg_proc f JOIN pg_aggregate a ON a.aggfnoid = f.oid
         WHERE f.pronamespace = 'pg_catalog'::regnamespace AND f.prokind = 'a'
           AND f.proname = ANY (words)
         ORDER BY f.proname, f.oid
    LOOP
        n := n + 1;
        fn := 'pa_agg_' || n;
        BEGIN
            IF EXISTS (SELECT FROM unnest(p.argtypes || p.prorettype) AS x(typ) JOIN pg_type ty ON ty.oid = x.typ
                        WHERE ty.typtype = 'p' AND NOT x.typ = ANY (poly)) THEN
                RAISE EXCEPTION 'pseudo-type argument';
            END IF;
            IF p.aggkind = 'n' THEN
                SELECT coalesce(string_agg(format_type(x.typ, NULL), ', ' ORDER BY x.i), '')
                  INTO args FROM unnest(p.argtypes) WITH ORDINALITY AS x(typ, i);
                EXECUTE format($b$CREATE FUNCTION public.%I(%s) RETURNS %s LANGUAGE sql AS %L$b$,
                               fn, concat_ws(', ', format_type(p.prorettype, NULL), nullif(args, '')),
                               format_type(p.prorettype, NULL),
                               format('SELECT public.pa_trap(%L); SELECT $1',
                                      'aggregate ' || p.proname || '(' || coalesce(nullif(p.iargs, ''), '*') || ')'));
                EXECUTE format('CREATE AGGREGATE public.%I(%s) (SFUNC = public.%I, STYPE = %s)',
                               p.proname, CASE WHEN args = '' THEN '*' ELSE args END, fn,
                               format_type(p.prorettype, NULL));
            ELSE
                -- ordered-set: direct arguments, then ORDER BY arguments
                SELECT string_agg(format_type(x.typ, NULL), ', ' ORDER BY x.i) FILTER (WHERE x.i <= p.aggnumdirectargs),
                       string_agg(format_type(x.typ, NULL), ', ' ORDER BY x.i) FILTER (WHERE x.i > p.aggnumdirectargs)
                  INTO sig, args FROM unnest(p.argtypes) WITH ORDINALITY AS x(typ, i);
                EXECUTE format($b$CREATE FUNCTION public.%I(%s, %s) RETURNS %s LANGUAGE sql AS %L$b$,
                               fn, format_type(p.prorettype, NULL), args, format_type(p.prorettype, NULL),
                               format('SELECT public.pa_trap(%L); SELECT $1',
                                      'aggregate ' || p.proname || '(' || p.iargs || ')'));
                EXECUTE format('CREATE AGGREGATE public.%I(%s ORDER BY %s) (SFUNC = public.%I, STYPE = %s)',
                               p.proname, sig, args, fn, format_type(p.prorettype, NULL));
            END IF;
            ok_a := ok_a + 1;
        EXCEPTION WHEN others THEN
            skip_a := skip_a + 1;
            names_a := names_a || (p.proname || '(' || p.iargs || '): ' || SQLERRM);
        END;
    END LOOP;

    -- Operators: the same symbol and operand types.
    FOR o IN
        SELECT op.oid, op.oprname, op.oprleft, op.oprright, op.oprresult
          FROM pg_operator op
         WHERE op.oprnamespace = 'pg_catalog'::regnamespace AND op.oprname = ANY (ops)
         ORDER BY op.oprname, op.oid
    LOOP
        n := n + 1;
        fn := 'pa_op_' || n;
        BEGIN
            IF EXISTS (SELECT FROM unnest(ARRAY[o.oprleft, o.oprright, o.oprresult]) AS x(typ)
                         JOIN pg_type ty ON ty.oid = x.typ
                        WHERE ty.typtype = 'p' AND NOT x.typ = ANY (poly)) THEN
                RAISE EXCEPTION 'pseudo-type operand';
            END IF;
            IF o.oprleft = 0 THEN
                EXECUTE format($b$CREATE FUNCTION public.%I(%s) RETURNS %s LANGUAGE sql AS %L$b$,
                               fn, format_type(o.oprright, NULL), format_type(o.oprresult, NULL),
                               format('SELECT public.pa_trap(%L); SELECT OPERATOR(pg_catalog.%s) $1',
                                      'operator ' || o.oprname || ' (NONE, ' || format_type(o.oprright, NULL) || ')',
                                      o.oprname));
                EXECUTE format('CREATE OPERATOR public.%s (RIGHTARG = %s, FUNCTION = public.%I)',
                               o.oprname, format_type(o.oprright, NULL), fn);
            ELSE
                EXECUTE format($b$CREATE FUNCTION public.%I(%s, %s) RETURNS %s LANGUAGE sql AS %L$b$,
                               fn, format_type(o.oprleft, NULL), format_type(o.oprright, NULL),
                               format_type(o.oprresult, NULL),
                               format('SELECT public.pa_trap(%L); SELECT $1 OPERATOR(pg_catalog.%s) $2',
                                      'operator ' || o.oprname || ' (' || format_type(o.oprleft, NULL)
                                      || ', ' || format_type(o.oprright, NULL) || ')',
                                      o.oprname));
                EXECUTE format('CREATE OPERATOR public.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = public.%I)',
                               o.oprname, format_type(o.oprleft, NULL), format_type(o.oprright, NULL), fn);
            END IF;
            ok_o := ok_o + 1;
        EXCEPTION WHEN others THEN
            skip_o := skip_o + 1;
            names_o := names_o || (o.oprname || ' (' || format_type(o.oprleft, NULL) || ', '
                                   || format_type(o.oprright, NULL) || '): ' || SQLERRM);
        END;
    END LOOP;

    -- Collations.
    FOR t IN
        SELECT c.collname FROM pg_collation c
         WHERE c.collnamespace = 'pg_catalog'::regnamespace AND c.collname = ANY (words)
           AND c.collencoding IN (-1, pg_char_to_encoding(getdatabaseencoding()))
         ORDER BY 1
    LOOP
        BEGIN
            EXECUTE format('CREATE COLLATION public.%I FROM pg_catalog.%I', t.collname, t.collname);
            ok_l := ok_l + 1;
        EXCEPTION WHEN others THEN
            skip_l := skip_l + 1;
            names_l := names_l || (t.collname || ': ' || SQLERRM);
        END;
    END LOOP;

    -- Types last: the functions above were created with names resolved in
    -- pg_catalog, and a type planted first would have changed them.
    FOR t IN
        SELECT ty.oid, ty.typname, ty.typtype FROM pg_type ty
         WHERE ty.typnamespace = 'pg_catalog'::regnamespace AND ty.typname = ANY (words)
         ORDER BY 2
    LOOP
        n := n + 1;
        BEGIN
            IF t.typtype = 'p' THEN
                RAISE EXCEPTION 'pseudo-type';
            END IF;
            IF variant = 'domain' THEN
                EXECUTE format('CREATE DOMAIN public.%I AS pg_catalog.%I CHECK (public.pa_trap(%L))',
                               t.typname, t.typname, 'domain ' || t.typname);
            ELSE
                -- A type of the same name that the hostile role owns, and
                -- casts to it (a role may create casts to its own types).
                EXECUTE format('CREATE TYPE public.%I AS (v pg_catalog.text)', t.typname);
                FOR o IN SELECT s.oid AS src FROM pg_type s
                          WHERE s.oid = ANY ('{text,int4,int8,float8,numeric,jsonb,bool,name,oid,timestamptz,interval}'::regtype[]::oid[])
                LOOP
                    fn := 'pa_cast_' || n || '_' || o.src;
                    EXECUTE format($b$CREATE FUNCTION public.%I(%s) RETURNS public.%I LANGUAGE sql AS %L$b$,
                                   fn, format_type(o.src, NULL), t.typname,
                                   format('SELECT public.pa_trap(%L); SELECT ROW($1::pg_catalog.text)::public.%I',
                                          'cast ' || format_type(o.src, NULL) || ' -> ' || t.typname, t.typname));
                    EXECUTE format('CREATE CAST (%s AS public.%I) WITH FUNCTION public.%I(%s) AS IMPLICIT',
                                   format_type(o.src, NULL), t.typname, fn, format_type(o.src, NULL));
                    ok_c := ok_c + 1;
                END LOOP;
            END IF;
            ok_t := ok_t + 1;
        EXCEPTION WHEN others THEN
            skip_t := skip_t + 1;
            names_t := names_t || (t.typname || ': ' || SQLERRM);
        END;
    END LOOP;

    RETURN QUERY VALUES
        ('function', ok_f, skip_f, array_to_string(names_f, '; ')),
        ('aggregate', ok_a, skip_a, array_to_string(names_a, '; ')),
        ('operator', ok_o, skip_o, array_to_string(names_o, '; ')),
        ('collation', ok_l, skip_l, array_to_string(names_l, '; ')),
        ('type', ok_t, skip_t, array_to_string(names_t, '; ')),
        ('cast', ok_c, skip_c, array_to_string(names_c, '; '));
END $p$;
