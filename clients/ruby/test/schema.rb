# frozen_string_literal: true

# The helpers' tests' database: ActiveRecord on the server of PGHOST,
# PGPORT, PGDATABASE (pg_perfaudit preloaded), prepared statements on, as
# Rails' default; the tenant setting named on every pooled connection as
# the README's database.yml does (variables:).  Two organizations, six
# servers and applications each.
require "active_record"

ActiveRecord::Base.establish_connection(
  adapter: "postgresql", host: ENV.fetch("PGHOST"), port: ENV.fetch("PGPORT"),
  username: ENV.fetch("PGUSER", "postgres"), database: ENV.fetch("PGDATABASE"),
  prepared_statements: true,
  variables: { "perfaudit.tenant_setting" => "app.current_organization_id" }
)
ActiveRecord::Base.logger = nil
ActiveRecord::Migration.verbose = false

ActiveRecord::Base.connection.execute("CREATE EXTENSION IF NOT EXISTS pg_perfaudit")
ActiveRecord::Schema.define do
  create_table :gem_organizations, force: true do |t|
    t.text :name
  end
  create_table :gem_servers, force: true do |t|
    t.bigint :organization_id, null: false, index: true
    t.text :name
  end
  create_table :gem_applications, force: true do |t|
    t.bigint :organization_id, null: false, index: true
    t.bigint :server_id, null: false
    t.text :name
  end
end

class GemOrganization < ActiveRecord::Base
  has_many :servers, class_name: "GemServer", foreign_key: :organization_id
end

class GemServer < ActiveRecord::Base
  belongs_to :organization, class_name: "GemOrganization"
end

class GemApplication < ActiveRecord::Base
  belongs_to :organization, class_name: "GemOrganization"
  belongs_to :server, class_name: "GemServer"
end

GEM_ORGS = (1..2).map { |i| GemOrganization.create!(name: "org #{i}") }
GEM_ORGS.each do |org|
  6.times do |i|
    server = GemServer.create!(organization: org, name: "s#{i}")
    GemApplication.create!(organization: org, server: server, name: "a#{i}")
  end
end
ActiveRecord::Base.connection.execute("ANALYZE")

# A page as a controller renders it: applications and, lazily, each one's
# server (belongs_to: one query per application).
def lazy_page(org)
  GemApplication.where(organization_id: org.id).map { |app| app.server.name }
end

def eager_page(org)
  GemApplication.where(organization_id: org.id).includes(:server).map { |app| app.server.name }
end

# ActiveRecord's own count of what it sent: sql.active_record events,
# without transaction control and query cache hits; also without its
# schema lookups ("SCHEMA"), as Rails' assert_queries counts.
def active_record_counts
  counts = { sent: 0, without_schema: 0 }
  sub = ActiveSupport::Notifications.subscribe("sql.active_record") do |*, payload|
    next if payload[:name] == "TRANSACTION" || payload[:cached]

    counts[:sent] += 1
    counts[:without_schema] += 1 unless payload[:name] == "SCHEMA"
  end
  yield
  counts
ensure
  ActiveSupport::Notifications.unsubscribe(sub)
end
