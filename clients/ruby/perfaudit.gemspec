# frozen_string_literal: true

require_relative "lib/perfaudit/version"

Gem::Specification.new do |spec|
  spec.name = "perfaudit"
  spec.version = Perfaudit::VERSION
  spec.summary = "Test helpers for pg_perfaudit: query budgets, N+1 and tenant-isolation assertions for ActiveRecord, minitest and RSpec"
  spec.description = <<~TEXT
    Captures what a block runs on an ActiveRecord connection into a
    pg_perfaudit run and checks it: at most N statements, no N+1 pattern,
    no findings (cross-tenant access, unscoped tenant queries, sequential
    scans).  A failed check is a minitest or RSpec failure carrying the
    statements, findings and suggested fixes; each check runs in a
    savepoint, so the test's transaction goes on.
  TEXT
  spec.license = "PostgreSQL"
  spec.authors = ["pg_perfaudit developers"]
  spec.files = Dir["lib/**/*.rb"] + ["README.md"]
  spec.require_paths = ["lib"]
  spec.required_ruby_version = ">= 3.0"
  spec.add_dependency "activerecord", ">= 6.1"
  spec.add_dependency "pg", ">= 1.1"
  spec.add_development_dependency "minitest", ">= 5.14"
  spec.add_development_dependency "rspec", ">= 3.10"
end
