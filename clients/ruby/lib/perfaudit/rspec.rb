# frozen_string_literal: true

# RSpec matchers on a block, capturing it into a pg_perfaudit run:
#
#   require "perfaudit/rspec"
#   expect { get "/dashboard" }.not_to have_n_plus_one
#   expect { get "/dashboard" }.to make_at_most(5).queries
#   expect { get "/servers/#{id}" }.not_to have_perfaudit_findings(:cross_tenant_access).as_tenant(org.id)
#
# Each matcher takes .as_tenant(id) (the organization the block acts as)
# and .labelled(text) (default: the example's description).  Failures
# list the statements or findings; run.assert_* raise RSpec's own
# ExpectationNotMetError once this file is loaded.
require "rspec/expectations"
require "perfaudit"

module Perfaudit
  # A failed check in RSpec is RSpec's own ExpectationNotMetError.
  self.failure_class = ::RSpec::Expectations::ExpectationNotMetError

  # What the matchers share: the capture of the block and the message of
  # the check that decided.
  module RSpecMatching
    def self.capture(matcher, block)
      example = ::RSpec.respond_to?(:current_example) ? ::RSpec.current_example : nil
      label = matcher.instance_variable_get(:@perfaudit_label) || example&.full_description
      Perfaudit.capture(label, tenant: matcher.instance_variable_get(:@perfaudit_tenant), &block)
    end

    # The message of the check's failure, or nil when it passed.
    def self.failure_of(run)
      yield run
      nil
    rescue Perfaudit::FailureInfo => e
      e.message
    end
  end

  module RSpecMatchers
    extend ::RSpec::Matchers::DSL

    matcher :have_n_plus_one do
      supports_block_expectations
      chain(:as_tenant) { |tenant| @perfaudit_tenant = tenant }
      chain(:labelled) { |label| @perfaudit_label = label }

      match do |block|
        @run = RSpecMatching.capture(self, block)
        @message = RSpecMatching.failure_of(@run, &:assert_no_n_plus_one)
        !@message.nil?
      end
      failure_message { "expected an N+1 pattern, but pg_perfaudit run #{@run.run_id} found none" }
      failure_message_when_negated { @message }
    end

    matcher :make_at_most do |n|
      supports_block_expectations
      chain(:queries) {} # rubocop:disable Lint/EmptyBlock -- reads as English
      chain(:as_tenant) { |tenant| @perfaudit_tenant = tenant }
      chain(:labelled) { |label| @perfaudit_label = label }

      match do |block|
        @run = RSpecMatching.capture(self, block)
        @message = RSpecMatching.failure_of(@run) { |run| run.assert_max_queries(n) }
        @message.nil?
      end
      failure_message { @message }
      failure_message_when_negated do
        "expected more than #{n} queries, pg_perfaudit run #{@run.run_id} counted #{@run.statements}"
      end
    end

    # Findings of the kinds named (none named: any kind from min_severity,
    # default "medium").
    matcher :have_perfaudit_findings do |*kinds|
      supports_block_expectations
      chain(:as_tenant) { |tenant| @perfaudit_tenant = tenant }
      chain(:labelled) { |label| @perfaudit_label = label }
      chain(:from_severity) { |severity| @min_severity = severity }

      match do |block|
        @run = RSpecMatching.capture(self, block)
        @message = RSpecMatching.failure_of(@run) do |run|
          run.assert_no_findings(kinds: kinds.empty? ? nil : kinds, min_severity: @min_severity)
        end
        !@message.nil?
      end
      failure_message { "expected findings#{kinds.empty? ? '' : " (#{kinds.join(', ')})"}, but pg_perfaudit run #{@run.run_id} had none" }
      failure_message_when_negated { @message }
    end
  end
end

RSpec.configure { |config| config.include Perfaudit::RSpecMatchers } if defined?(RSpec.configure)
