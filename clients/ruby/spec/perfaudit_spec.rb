# frozen_string_literal: true

# The RSpec matchers (perfaudit/rspec) on ActiveRecord: each example in a
# transaction rolled back after it (rspec-rails' use_transactional_fixtures
# does the same); a failed expectation is RSpec's own failure with the
# queries or findings in its message.
#
#   PGHOST=... PGPORT=... PGDATABASE=... rspec -Ilib spec
require "perfaudit/rspec"
require_relative "../test/schema"

RSpec.configure do |config|
  config.around do |example|
    ActiveRecord::Base.transaction do
      example.run
      raise ActiveRecord::Rollback
    end
  end
end

RSpec.describe "pg_perfaudit matchers" do
  let(:a) { GEM_ORGS[0] }
  let(:b) { GEM_ORGS[1] }

  it "passes an eager page and fails a lazy one with the finding" do
    expect { eager_page(a) }.not_to have_n_plus_one.as_tenant(a.id)
    expect { expect { lazy_page(a) }.not_to have_n_plus_one.as_tenant(a.id) }
      .to raise_error(RSpec::Expectations::ExpectationNotMetError,
                      /^\[medium\] n_plus_one for tenant #{a.id}: statement executed 6 times/)
    # The failed expectation rolled back to its savepoint: the example goes on.
    expect(GemServer.where(organization_id: a.id).count).to eq(6)
  end

  it "matches an N+1 positively" do
    expect { lazy_page(a) }.to have_n_plus_one
  end

  it "counts the queries as make_at_most(n).queries" do
    expect { lazy_page(a) }.to make_at_most(7).queries
    expect { expect { lazy_page(a) }.to make_at_most(5).queries }
      .to raise_error(RSpec::Expectations::ExpectationNotMetError,
                      /\A7 queries executed, at most 5 allowed .*\nCaptured queries were:\n1\. SELECT "gem_servers"/m)
  end

  it "labels the run with the example's description" do
    expect { GemServer.count }.to make_at_most(1).queries
    label = ActiveRecord::Base.connection.select_value(
      "SELECT label FROM perfaudit.runs ORDER BY run_id DESC LIMIT 1"
    )
    expect(label).to eq("pg_perfaudit matchers labels the run with the example's description")
  end

  it "fails a read of another organization's row as cross_tenant_access" do
    theirs = GemServer.where(organization_id: b.id).first
    expect { GemServer.find(theirs.id) }.not_to have_perfaudit_findings(:cross_tenant_access).as_tenant(b.id)
    expect do
      expect { GemServer.find(theirs.id) }.not_to have_perfaudit_findings(:cross_tenant_access).as_tenant(a.id)
    end.to raise_error(RSpec::Expectations::ExpectationNotMetError,
                       /^\[critical\] cross_tenant_access for tenant #{b.id}: the statement ran for tenant #{a.id}/)
  end

  it "raises RSpec's failure from run.assert_* too" do
    run = Perfaudit.capture("direct", tenant: a.id) { lazy_page(a) }
    expect { run.assert_max_queries(1) }.to raise_error(RSpec::Expectations::ExpectationNotMetError)
    expect(run.assert_max_queries(7)).to be(true)
  end
end
