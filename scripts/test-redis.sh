#!/usr/bin/env sh
# Print the Redis URL the tests use: the local server on 6379 if it answers,
# otherwise a private redis-server (Debian's package) started here on 6399.
set -eu
python="${1:?usage: test-redis.sh PYTHON}"
ping() { "$python" -c "import redis,sys; redis.Redis(port=$1, socket_connect_timeout=1).ping()" >/dev/null 2>&1; }
if ping 6379; then echo "redis://127.0.0.1:6379/15"; exit 0; fi
if ! ping 6399; then
  "$(dirname "$0")/ensure-redis-server.sh"
  redis-server --port 6399 --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --pidfile /tmp/kawan-sehat-test-redis.pid --logfile /tmp/kawan-sehat-test-redis.log >&2
  for _ in 1 2 3 4 5 6 7 8 9 10; do ping 6399 && break; sleep 0.5; done
fi
echo "redis://127.0.0.1:6399/15"
