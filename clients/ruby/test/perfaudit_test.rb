# frozen_string_literal: true

# assert_perfaudit (perfaudit/minitest) with ActiveRecord and minitest:
# each test in a transaction rolled back after it (Rails' transactional
# tests); the failures are minitest failures carrying the queries or the
# findings, and the test's transaction goes on after them.
#
#   PGHOST=... PGPORT=... PGDATABASE=... ruby -Ilib test/perfaudit_test.rb
require "minitest/autorun"
require "perfaudit/minitest"
require_relative "schema"

class PerfauditMinitestTest < Minitest::Test
  include Perfaudit::Minitest

  def a = GEM_ORGS[0]
  def b = GEM_ORGS[1]
  def perfaudit_tenant = a.id

  def run(*)
    result = nil
    ActiveRecord::Base.transaction do
      result = super
      raise ActiveRecord::Rollback
    end
    result
  end

  def test_budget_passes_and_returns_the_run
    run = assert_perfaudit(max_queries: 7) { lazy_page(a) }
    assert_equal 7, run.statements
    assert_equal 7, run.queries.sum { |q| q[:calls].to_i }
  end

  def test_budget_failure_is_a_minitest_failure_listing_the_queries
    error = assert_raises(Minitest::Assertion) { assert_perfaudit(max_queries: 3) { lazy_page(a) } }
    assert_kind_of Perfaudit::FailureInfo, error
    assert_match(/\A7 queries executed, at most 3 allowed \(pg_perfaudit run \d+, "PerfauditMinitestTest#test_budget/, error.message)
    assert_match(/^1\. SELECT "gem_servers"\.\* FROM "gem_servers" WHERE "gem_servers"\."id" = \$1 LIMIT \$2  \[6×\]  \(tenant #{a.id}\)$/,
                 error.message)
    # The failed check rolled back to its savepoint: the test goes on.
    assert_equal 6, GemServer.where(organization_id: a.id).count
  end

  def test_n_plus_one_failure_carries_the_finding_and_its_fix
    error = assert_raises(Minitest::Assertion) { assert_perfaudit(no_n_plus_one: true) { lazy_page(a) } }
    assert_match(/^\[medium\] n_plus_one for tenant #{a.id}: statement executed 6 times with 6 different parameter values/,
                 error.message)
    assert_match(/^    suggestion: Fetch the rows in one query/, error.message)
    assert_equal 6, error.run.findings(kinds: ["n_plus_one"]).first[:detail]["calls"]
  end

  def test_includes_passes_every_check
    run = assert_perfaudit(max_queries: 2, no_n_plus_one: true, no_findings: true) { eager_page(a) }
    assert_equal 2, run.statements
  end

  def test_another_organizations_row_fails_no_findings
    theirs = GemServer.where(organization_id: b.id).first
    error = assert_raises(Minitest::Assertion) do
      assert_perfaudit(no_findings: [:cross_tenant_access]) { GemServer.find(theirs.id) }
    end
    assert_match(/^\[critical\] cross_tenant_access for tenant #{b.id}: the statement ran for tenant #{a.id} and read rows of tenant #{b.id}$/,
                 error.message)
    # As b, whose row it is, the same read passes.
    assert_perfaudit(no_findings: [:cross_tenant_access], tenant: b.id) { GemServer.find(theirs.id) }
  end

  def test_counts_against_active_record_notifications
    counts = nil
    run = assert_perfaudit do
      counts = active_record_counts do
        # What a tenancy concern sends: counted by ActiveRecord (and
        # assert_queries), not by pg_perfaudit (SET is not a query).
        ActiveRecord::Base.connection.execute("SET app.current_organization_id = '#{a.id}'")
        ActiveRecord::Base.transaction(requires_new: true) do
          GemServer.create!(organization_id: a.id, name: "new")
          lazy_page(a)
        end
      end
    end
    # What ActiveRecord sent, without TRANSACTION (savepoints) and cache
    # hits, is what pg_perfaudit counted, and the SET.
    assert_equal counts[:sent], run.statements + 1
    assert_equal 8, run.statements
  end

  def test_schema_lookups_count_as_statements
    # A model whose columns are not loaded yet (the first request of a
    # process, or after a migration): ActiveRecord looks them up with
    # statements it names SCHEMA, which Rails' assert_queries leaves out
    # and the server runs.
    GemOrganization.reset_column_information
    ActiveRecord::Base.connection.schema_cache.clear!
    counts = nil
    run = assert_perfaudit { counts = active_record_counts { GemOrganization.find(a.id) } }
    assert_equal counts[:sent], run.statements
    assert_operator counts[:without_schema], :<, counts[:sent]
    assert_equal 1, counts[:without_schema]
    puts "\n  schema lookups: pg_perfaudit #{run.statements}, ActiveRecord #{counts[:sent]}, " \
         "without SCHEMA #{counts[:without_schema]}" if ENV["PA_VERBOSE"]
  end

  def test_a_block_that_raises_still_stops_its_run
    assert_raises(ZeroDivisionError) { assert_perfaudit(max_queries: 1) { GemServer.count && 1 / 0 } }
    stopped = ActiveRecord::Base.connection.select_value(
      "SELECT statements FROM perfaudit.runs WHERE label = 'PerfauditMinitestTest#test_a_block_that_raises_still_stops_its_run' " \
      "AND stopped_at IS NOT NULL"
    )
    assert_equal 1, stopped.to_i
    assert_perfaudit(max_queries: 1) { GemServer.count }
  end

  def test_a_statement_error_in_the_block_is_the_tests_error
    assert_raises(ActiveRecord::StatementInvalid) do
      ActiveRecord::Base.transaction(requires_new: true) do
        assert_perfaudit { ActiveRecord::Base.connection.select_value("SELECT 1/0") }
      end
    end
    # The next capture stops the run the aborted savepoint left behind.
    run = assert_perfaudit(max_queries: 1) { GemServer.count }
    assert_equal 1, run.statements
  end

  def test_unknown_kind_is_an_error_not_a_failure
    error = assert_raises(ActiveRecord::StatementInvalid) do
      assert_perfaudit(no_findings: [:no_such_kind]) { GemServer.count }
    end
    refute_equal "PA001", Perfaudit.sqlstate(error)
  end

  def test_report_and_evidence_after_the_rollback
    run = assert_perfaudit { lazy_page(a) }
    assert_includes run.report, "gem_servers"
    # A new connection (the test's transaction is still open here) sees
    # the run: it is stored outside the test's transaction.
    other = PG.connect(host: ENV.fetch("PGHOST"), port: ENV.fetch("PGPORT"),
                       user: ENV.fetch("PGUSER", "postgres"), dbname: ENV.fetch("PGDATABASE"))
    assert_equal "7", other.exec_params("SELECT statements FROM perfaudit.runs WHERE run_id = $1", [run.run_id]).getvalue(0, 0)
  ensure
    other&.close
  end
end
