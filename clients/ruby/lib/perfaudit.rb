# frozen_string_literal: true

# Test helpers for pg_perfaudit on ActiveRecord.
#
#   run = Perfaudit.capture("dashboard", tenant: org.id) { get "/dashboard" }
#   run.assert_max_queries(5)
#   run.assert_no_n_plus_one
#   run.assert_no_findings(min_severity: "medium")
#
# The connection is ActiveRecord::Base.connection unless one is given.  A
# failed check raises a Perfaudit::Failure carrying the run, its statements
# and findings in the message; with perfaudit/minitest or perfaudit/rspec
# loaded it is that framework's own failure (Minitest::Assertion,
# RSpec::Expectations::ExpectationNotMetError).  Each check runs inside a
# savepoint (transaction(requires_new: true)), so a failed one leaves the
# test's transaction usable.  The run and its findings are stored by
# pg_perfaudit outside the test's transaction: they stay after its rollback
# (perfaudit.runs, perfaudit.findings).
#
# What pg_perfaudit counts: every statement the server executes, including
# ActiveRecord's schema lookups (payload name "SCHEMA"), and not
# transaction control (BEGIN, SAVEPOINT, RELEASE: "TRANSACTION") nor query
# cache hits (they never reach the server).
require "json"
require "active_record"
require_relative "perfaudit/version"

module Perfaudit
  SEVERITIES = %w[low medium high critical].freeze
  PA001 = "PA001"

  # What every perfaudit failure is, whichever class the test framework
  # wants it to be: it knows its run.
  module FailureInfo
    attr_reader :run
  end

  # A failed check outside minitest and RSpec.
  class Failure < StandardError
    include FailureInfo

    def initialize(message = nil, run = nil)
      super(message)
      @run = run
    end
  end

  class << self
    # The class failed checks raise: perfaudit/minitest and perfaudit/rspec
    # set their framework's own.
    attr_writer :failure_class

    def failure_class
      @failure_class || Failure
    end

    # The failure of a check: an instance of the framework's own class
    # (not a subclass: minitest's summary counts failures by exact class),
    # extended with FailureInfo.
    def failure(message, run)
      error = failure_class.new(message)
      error.extend(FailureInfo) unless error.is_a?(FailureInfo)
      error.instance_variable_set(:@run, run)
      error
    end

    # The SQLSTATE of an error from the pg driver, or of ActiveRecord's
    # wrapper of one (StatementInvalid keeps it as its cause), or nil.
    def sqlstate(error)
      pg_result(error)&.error_field(PG::PG_DIAG_SQLSTATE)
    end

    def pg_result(error)
      while error
        result = error.respond_to?(:result) ? error.result : nil
        return result if result
        error = error.cause
      end
      nil
    end

    # Captures what the block runs on the connection into a pg_perfaudit
    # run, stopped when the block ends (also when it raises), and returns
    # the Run.  tenant: the organization the code acts as; another
    # organization's rows read or written are then cross_tenant_access.
    def capture(label = nil, tenant: nil, scope: "session", connection: ActiveRecord::Base.connection)
      raise ArgumentError, "Perfaudit.capture needs a block" unless block_given?

      stop_stale(connection)
      run_id = connection.select_value(
        "SELECT perfaudit.start(#{connection.quote(label)}, #{connection.quote(scope)}, " \
        "#{connection.quote(tenant&.to_s)})"
      ).to_i
      run = Run.new(connection, run_id, label)
      begin
        yield run
      rescue Exception # rubocop:disable Lint/RescueException -- stop, then re-raise anything
        begin
          run.stopped(connection.select_value("SELECT statements FROM perfaudit.stop()"))
        rescue ActiveRecord::ActiveRecordError
          # The block's error aborted the transaction: the run is stopped
          # by the next capture on this connection (the session keeps it).
          stale << connection.object_id
        end
        raise
      end
      run.stopped(connection.select_value("SELECT statements FROM perfaudit.stop()"))
      run
    end

    private

    def stale
      @stale ||= []
    end

    def stop_stale(connection)
      key = connection.object_id
      return unless stale.delete(key)

      begin
        connection.select_value("SELECT statements FROM perfaudit.stop()")
      rescue ActiveRecord::ActiveRecordError
        nil
      end
    end
  end

  # A stopped capture run (perfaudit.runs) and its checks.
  class Run
    attr_reader :run_id, :label, :statements

    def initialize(connection, run_id, label)
      @connection = connection
      @run_id = run_id
      @label = label
    end

    def stopped(statements)
      @statements = statements.to_i
      self
    end

    # The run's statements, one hash per (query, tenant, nesting level),
    # most executions first.
    def queries
      @connection.select_all(
        "SELECT query, tenant, calls, rows, total_ms, nesting_level FROM perfaudit.run_statements " \
        "WHERE run_id = #{@run_id} ORDER BY calls DESC, total_ms DESC"
      ).map { |r| r.transform_keys(&:to_sym) }
    end

    # The run's findings (kind, severity, tenant, relation, message,
    # suggestion, query, detail), most severe first.
    def findings(kinds: nil, min_severity: "low")
      floor = Perfaudit::SEVERITIES.index(min_severity.to_s) or
        raise ArgumentError, "unknown severity #{min_severity.inspect}"
      kinds = kinds&.map(&:to_s)
      rows = @connection.select_all(
        "SELECT kind, severity, tenant, relation, message, suggestion, query, detail::pg_catalog.text AS detail " \
        "FROM perfaudit.findings WHERE run_id = #{@run_id} ORDER BY finding_id"
      ).map do |r|
        r = r.transform_keys(&:to_sym)
        r[:detail] = r[:detail] ? JSON.parse(r[:detail]) : {}
        r
      end
      rows.select { |f| (kinds.nil? || kinds.include?(f[:kind])) && Perfaudit::SEVERITIES.index(f[:severity]) >= floor }
          .sort_by.with_index { |f, i| [-Perfaudit::SEVERITIES.index(f[:severity]), i] }
    end

    # pg_perfaudit's text report of the run.
    def report
      @connection.select_values("SELECT line FROM perfaudit.report(#{@run_id}) AS line").join("\n")
    end

    # At most n statements, as pg_perfaudit counts them.
    def assert_max_queries(n)
      return true if check("SELECT perfaudit.assert_max_queries(#{Integer(n)}, #{@run_id})").nil?

      lines = ["#{@statements} queries executed, at most #{n} allowed (pg_perfaudit run #{@run_id}#{label_note})",
               "Captured queries were:"]
      queries.each.with_index(1) do |q, i|
        lines << "#{i}. #{Perfaudit.oneline(q[:query])}" \
                 "#{q[:calls].to_i > 1 ? "  [#{q[:calls]}×]" : ''}" \
                 "#{q[:tenant] ? "  (tenant #{q[:tenant]})" : ''}"
      end
      raise Perfaudit.failure(lines.join("\n"), self)
    end

    # No N+1 pattern, at any severity.
    def assert_no_n_plus_one
      assert_no_findings(kinds: ["n_plus_one"])
    end

    # No findings: with kinds nil, none from min_severity (default
    # "medium") up; kinds named are checked at every severity unless
    # min_severity is given too (as perfaudit.assert_no_findings()).
    def assert_no_findings(kinds: nil, min_severity: nil)
      kinds = kinds&.map(&:to_s)
      array = kinds.nil? ? "NULL" : "ARRAY[#{kinds.map { |k| @connection.quote(k) }.join(', ')}]::pg_catalog.text[]"
      failed = check("SELECT perfaudit.assert_no_findings(#{array}, #{@run_id}, " \
                     "#{@connection.quote(min_severity&.to_s)})")
      return true if failed.nil?

      message, detail = failed
      found = findings(kinds: kinds, min_severity: min_severity || (kinds.nil? ? "medium" : "low"))
      lines = ["#{message} (pg_perfaudit run #{@run_id}#{label_note})"]
      lines << detail if found.empty? && detail
      found.each do |f|
        lines << "[#{f[:severity]}] #{f[:kind]}#{f[:relation] ? " on #{f[:relation]}" : ''}" \
                 "#{f[:tenant] ? " for tenant #{f[:tenant]}" : ''}: #{f[:message]}"
        lines << "    query: #{Perfaudit.oneline(f[:query])}" if f[:query]
        lines << "    suggestion: #{f[:suggestion]}" if f[:suggestion]
      end
      raise Perfaudit.failure(lines.join("\n"), self)
    end

    # The checks assert_perfaudit and the matchers take: at most
    # max_queries statements; no N+1; no findings of the kinds in
    # no_findings (true: any kind from min_severity, default "medium").
    def check_all(max_queries: nil, no_n_plus_one: false, no_findings: nil, min_severity: nil)
      assert_max_queries(max_queries) unless max_queries.nil?
      assert_no_n_plus_one if no_n_plus_one
      if no_findings == true
        assert_no_findings(min_severity: min_severity)
      elsif no_findings
        assert_no_findings(kinds: Array(no_findings), min_severity: min_severity)
      end
      true
    end

    private

    def label_note
      @label ? ", #{@label.inspect}" : ""
    end

    # Runs an assertion function in a savepoint: nil when it passes,
    # [message, detail] when it raises PA001; other errors raise.
    def check(sql)
      # (In a transaction an earlier error aborted, the savepoint itself
      # fails with PG::InFailedSqlTransaction, which is raised as it is.)
      @connection.transaction(requires_new: true) { @connection.select_value(sql) }
      nil
    rescue ActiveRecord::StatementInvalid => e
      raise unless Perfaudit.sqlstate(e) == PA001

      result = Perfaudit.pg_result(e)
      [result.error_field(PG::PG_DIAG_MESSAGE_PRIMARY), result.error_field(PG::PG_DIAG_MESSAGE_DETAIL)]
    end
  end

  def self.oneline(text, limit = 200)
    text = text.to_s.split.join(" ")
    text.length <= limit ? text : "#{text[0, limit - 1]}…"
  end
end
