# ActiveRecord 6.1 (prepared statements over the extended protocol) and
# minitest against pg_perfaudit: each test in a transaction rolled back
# after it (as Rails' transactional tests), each scenario counted by
# ActiveRecord's own sql.active_record notifications and compared with the
# run's statements: equal once transaction control (BEGIN, SAVEPOINT,
# RELEASE, which ActiveRecord names TRANSACTION; pg_perfaudit does not count
# it) and query cache hits (which never reach the server) are left out.
# ActiveRecord's schema lookups (named SCHEMA: a table's primary key, its
# columns) are statements the server runs, and count; Rails' own
# assert_queries leaves them out, which is why a budget copied from it can
# be lower than pg_perfaudit's count by those.
require "json"
require "minitest/autorun"
require "active_record"
require "perfaudit/minitest"

ActiveRecord::Base.establish_connection(
  adapter: "postgresql", host: ENV.fetch("PGHOST"), port: ENV.fetch("PGPORT"),
  username: "postgres", database: "saas_rails", prepared_statements: true,
  variables: { "perfaudit.tenant_setting" => "app.org" })
ActiveRecord::Base.logger = nil

conn = ActiveRecord::Base.connection
conn.execute("CREATE EXTENSION IF NOT EXISTS pg_perfaudit")
ActiveRecord::Schema.verbose = false
ActiveRecord::Schema.define do
  create_table :organizations, force: true do |t|
    t.text :name
  end
  create_table :servers, force: true do |t|
    t.bigint :organization_id, null: false
    t.text :name
  end
  create_table :applications, force: true do |t|
    t.bigint :organization_id, null: false
    t.bigint :server_id, null: false
    t.text :name
  end
  create_table :folders, force: true do |t|
    t.bigint :organization_id, null: false
    t.bigint :parent_id
    t.text :name
  end
end

class Organization < ActiveRecord::Base
  has_many :servers
end

class Server < ActiveRecord::Base
  belongs_to :organization
end

class Application < ActiveRecord::Base
  belongs_to :organization
  belongs_to :server
end

class Folder < ActiveRecord::Base
  belongs_to :organization
  belongs_to :parent, class_name: "Folder", optional: true
end

ORGS = (1..10).map { |i| Organization.create!(name: "org #{i}") }
ORGS.each do |org|
  6.times do |i|
    s = Server.create!(organization: org, name: "s#{i}")
    Application.create!(organization: org, server: s, name: "a#{i}")
  end
end
LEAF = (0..10).reduce(nil) { |parent, d| Folder.create!(organization: ORGS[0], parent: parent, name: "level #{d}") }
conn.execute("ANALYZE")

Run = Struct.new(:run_id, :statements, :rails_queries, :findings) do
  def of(kind) = findings.select { |f| f["kind"] == kind }
  def kinds(min = "low")
    order = %w[low medium high critical]
    findings.select { |f| order.index(f["severity"]) >= order.index(min) }.map { |f| f["kind"] }.uniq.sort
  end
end

class PerfauditTest < Minitest::Test
  def conn = ActiveRecord::Base.connection
  def a = ORGS[0]
  def b = ORGS[1]

  def run(*)
    result = nil
    ActiveRecord::Base.transaction do
      result = super
      raise ActiveRecord::Rollback
    end
    result
  end

  # Perfaudit.capture (clients/ruby) around the block, and ActiveRecord's
  # own count of what it sent.
  def audited(label, tenant: nil)
    count = 0
    captured = Perfaudit.capture(label, tenant: tenant) do
      # Subscribed inside the capture: the helper's start() and stop() are
      # not the scenario's.
      sub = ActiveSupport::Notifications.subscribe("sql.active_record") do |*, payload|
        next if payload[:name] == "TRANSACTION" || payload[:cached]
        count += 1
      end
      begin
        yield
      ensure
        ActiveSupport::Notifications.unsubscribe(sub)
      end
    end
    findings = captured.findings.map { |f| f.transform_keys(&:to_s) }
    Run.new(captured.run_id, captured.statements, count, findings)
  end

  def assert_counts(run)
    assert_equal run.rails_queries, run.statements, "pg_perfaudit and ActiveRecord count the same queries"
  end

  def test_lazy_belongs_to_n_plus_one_is_the_organizations
    r = audited("lazy", tenant: a.id.to_s) do
      Application.where(organization_id: a.id).each { |app| app.server.name }
    end
    assert_counts r
    assert_equal 7, r.statements
    n1 = r.of("n_plus_one")
    assert_equal 1, n1.size
    assert_equal a.id.to_s, n1[0]["tenant"]
    assert_equal ["low"], r.of("unscoped_tenant_query").map { |f| f["severity"] }.uniq
  end

  def test_includes_is_clean_from_medium_up
    r = audited("includes", tenant: a.id.to_s) do
      Application.where(organization_id: a.id).includes(:server).each { |app| app.server.name }
    end
    assert_counts r
    assert_equal 2, r.statements
    assert_equal [], r.kinds("medium")
  end

  def test_find_each_batches_are_not_n_plus_one
    30.times { |i| Server.create!(organization: a, name: "more #{i}") }
    r = audited("find_each", tenant: a.id.to_s) do
      Server.where(organization_id: a.id).find_each(batch_size: 5) { |s| s.name }
    end
    assert_counts r
    assert_operator r.statements, :>=, 8
    assert_equal [], r.of("n_plus_one")
  end

  def test_insert_all_is_the_organizations
    r = audited("insert_all") do
      Server.insert_all((1..5).map { |i| { organization_id: a.id, name: "bulk #{i}" } })
    end
    assert_counts r
    tenants = conn.select_values("SELECT tenant FROM perfaudit.run_statements " \
                                 "WHERE run_id = #{r.run_id.to_i} AND query LIKE 'INSERT%'")
    assert_equal [a.id.to_s], tenants
  end

  def test_create_loop_is_an_n_plus_one_of_writes
    r = audited("create loop", tenant: a.id.to_s) do
      6.times { |i| Server.create!(organization: a, name: "new #{i}") }
    end
    assert_counts r
    n1 = r.of("n_plus_one")
    assert_equal 1, n1.size
    assert_equal "insert", n1[0]["detail"]["operation"]
  end

  def test_query_cache_sends_one_query
    s = Server.where(organization_id: a.id).first
    r = audited("query cache", tenant: a.id.to_s) do
      ActiveRecord::Base.cache { 5.times { Server.where(organization_id: a.id).find(s.id) } }
    end
    assert_counts r
    assert_equal 1, r.statements
    assert_equal [], r.of("repeated_query")
  end

  def test_unscoped_all_without_acting_tenant
    r = audited("unscoped") { Server.all.to_a }
    assert_counts r
    assert_equal ["high"], r.of("unscoped_tenant_query").map { |f| f["severity"] }.uniq
  end

  def test_eager_load_and_scoped_filters_are_clean
    r = audited("eager_load", tenant: a.id.to_s) do
      Application.where(organization_id: a.id).eager_load(:server).each { |app| app.server.name }
      Server.where(organization_id: a.id, name: "s1").to_a
    end
    assert_counts r
    assert_equal 2, r.statements
    assert_equal [], r.kinds("medium")
    # the joined servers are unscoped SQL, but were all the organization's rows
    assert_equal ["low"], r.of("unscoped_tenant_query").map { |f| f["severity"] }.uniq
  end

  def test_find_or_create_by_repeats
    r = audited("find_or_create_by", tenant: a.id.to_s) do
      5.times { Server.find_or_create_by!(organization_id: a.id, name: "s0") }
    end
    assert_counts r
    assert_equal ["repeated_query"], r.of("repeated_query").map { |f| f["kind"] }
  end

  def test_in_list_over_ten_organizations
    r = audited("ten orgs") { Server.where(organization_id: ORGS.map(&:id)).to_a }
    assert_counts r
    cross = r.of("cross_tenant_query")
    assert_equal 1, cross.size
    assert_equal 10, cross[0]["detail"]["tenant_count"]
    assert_equal ORGS.map { |o| o.id.to_s }, cross[0]["tenant"].split(",")
  end

  def test_idiomatic_request_acting_as_one_organization_is_clean
    r = audited("request", tenant: a.id.to_s) do
      server = Server.where(organization_id: a.id).find(Server.where(organization_id: a.id).first.id)
      app = Application.where(organization_id: a.id, server_id: server.id).first
      app.server.name
      app.organization.name
      server.update!(name: "renamed")
      Application.create!(organization: a, server: server, name: "new")
      app.destroy!
    end
    assert_counts r
    assert_equal [], r.kinds("medium")
    assert_equal ["low"], r.of("unscoped_tenant_query").map { |f| f["severity"] }.uniq
    assert_equal true, conn.select_value("SELECT perfaudit.assert_no_findings(run_id => #{r.run_id.to_i})")
    assert_equal [a.id.to_s], conn.select_values("SELECT DISTINCT tenant FROM perfaudit.run_statements " \
                                                 "WHERE run_id = #{r.run_id.to_i}")
  end

  def test_updating_another_organizations_row_is_a_leak
    theirs = Server.where(organization_id: b.id).first
    r = audited("write leak", tenant: a.id.to_s) { theirs.update!(name: "overwritten") }
    assert_counts r
    leak = r.of("cross_tenant_access")
    assert_equal 1, leak.size
    assert_equal b.id.to_s, leak[0]["tenant"]
  end

  def test_parent_walk_is_an_n_plus_one_and_the_recursive_cte_is_not
    depth = 0
    r = audited("parent walk", tenant: a.id.to_s) do
      f = Folder.where(organization_id: a.id).find(LEAF.id)
      while f.parent
        f = f.parent
        depth += 1
      end
    end
    assert_equal 10, depth
    assert_counts r
    assert_equal 11, r.statements
    n1 = r.of("n_plus_one")
    assert_equal 1, n1.size
    assert_equal a.id.to_s, n1[0]["tenant"]

    path = nil
    cte = audited("recursive cte", tenant: a.id.to_s) do
      path = Folder.find_by_sql([<<~SQL, LEAF.id, a.id])
        WITH RECURSIVE up AS (
          SELECT * FROM folders WHERE id = ? AND organization_id = ?
          UNION ALL
          SELECT f.* FROM folders f JOIN up ON f.id = up.parent_id)
        SELECT * FROM up
      SQL
    end
    assert_equal 11, path.size
    assert_counts cte
    assert_equal 1, cte.statements
    assert_equal [], cte.kinds("medium")
  end

  def test_reading_another_organizations_row_is_a_leak
    other = Server.where(organization_id: b.id).first
    r = audited("leak", tenant: a.id.to_s) { Server.find(other.id) }
    assert_counts r
    leak = r.of("cross_tenant_access")
    assert_equal 1, leak.size
    assert_equal "critical", leak[0]["severity"]
    assert_equal b.id.to_s, leak[0]["tenant"]
    # PA001, inside a savepoint: the test's transaction and the evidence stay.
    err = assert_raises(ActiveRecord::StatementInvalid) do
      ActiveRecord::Base.transaction(requires_new: true) do
        conn.select_value("SELECT perfaudit.assert_no_findings(run_id => #{r.run_id.to_i})")
      end
    end
    assert_equal "PA001", err.cause.result.error_field(PG::PG_DIAG_SQLSTATE)
    assert_equal 1, conn.select_value("SELECT count(*) FROM perfaudit.findings " \
                                      "WHERE run_id = #{r.run_id.to_i} AND kind = 'cross_tenant_access'")
  end
end

# Counts for test/run-tests.sh: a minitest reporter writing "passed failed".
class PaCountReporter < Minitest::AbstractReporter
  def initialize(path)
    super()
    @path, @passed, @failed = path, 0, 0
  end

  def record(result)
    if result.passed? then @passed += 1 elsif !result.skipped? then @failed += 1 end
  end

  def report = File.write(@path, "#{@passed} #{@failed}\n")
end

module Minitest
  def self.plugin_pacount_init(_options)
    reporter << PaCountReporter.new(ENV["PA_RAILS_COUNTS"]) if ENV["PA_RAILS_COUNTS"]
  end
end
Minitest.extensions << "pacount"
