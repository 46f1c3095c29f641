# frozen_string_literal: true

# minitest's assert_perfaudit, for Minitest::Test and ActiveSupport::TestCase
# (Rails' test classes):
#
#   require "perfaudit/minitest"
#   class DashboardTest < ActionDispatch::IntegrationTest
#     include Perfaudit::Minitest
#     def perfaudit_tenant = organizations(:acme).id
#     test "dashboard" do
#       assert_perfaudit(max_queries: 5, no_n_plus_one: true) { get "/dashboard" }
#     end
#   end
#
# A failed check is a Minitest::Assertion (a failure, F, not an error, E),
# as run.assert_* calls are once this file is loaded.
require "minitest"
require "perfaudit"

module Perfaudit
  # A failed check in minitest is a Minitest::Assertion itself.
  self.failure_class = ::Minitest::Assertion

  module Minitest
    # The acting tenant of every assert_perfaudit of the test (nil: none);
    # a test class overrides it, e.g. with the fixture organization's id.
    def perfaudit_tenant
      nil
    end

    # Captures the block, then checks it: at most max_queries statements;
    # no N+1 when no_n_plus_one; no findings of the kinds in no_findings
    # (true: any kind from min_severity, default "medium").  Returns the
    # Run (queries, findings, report).
    def assert_perfaudit(max_queries: nil, no_n_plus_one: false, no_findings: nil, min_severity: nil,
                         tenant: perfaudit_tenant, label: nil, connection: ActiveRecord::Base.connection, &block)
      raise ArgumentError, "assert_perfaudit needs a block" unless block

      run = Perfaudit.capture(label || "#{self.class.name}##{name}", tenant: tenant, connection: connection,
                              &block)
      self.assertions += 1
      run.check_all(max_queries: max_queries, no_n_plus_one: no_n_plus_one, no_findings: no_findings,
                    min_severity: min_severity)
      run
    end
  end
end
