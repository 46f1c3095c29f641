# frozen_string_literal: true

module Perfaudit
  # The same as pg_perfaudit.control's default_version (test/check-version.sh).
  VERSION = "0.2.0"
end
