#!/usr/bin/env sh
# Make sure Debian's redis-server is installed (for `make run` without REDIS_URL
# and for tests where nothing answers on 6379). Installs it with apt if missing.
set -eu
if command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ]; then exit 0; fi
echo "installing redis-server (Debian package)" >&2
if [ "$(id -u)" -eq 0 ]; then
  (apt-get update -qq && apt-get install -y -qq redis-server) >&2
else
  (sudo apt-get update -qq && sudo apt-get install -y -qq redis-server) >&2
fi
