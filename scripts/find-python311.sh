#!/usr/bin/env sh
# Print the path of a working Python 3.11 or newer for the gateway and action server.
for candidate in "${PYTHON311:-}" python3.11 python3 /usr/bin/python3.11; do
  [ -n "$candidate" ] || continue
  if "$candidate" -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1; then
    command -v "$candidate" 2>/dev/null || echo "$candidate"
    exit 0
  fi
done
echo "Python 3.11 not found: install it or set PYTHON311" >&2
exit 1
