#!/usr/bin/env sh
# Print the path of a working Python of the given version: `find-python.sh 3.10`
# (Rasa 3.6 installs only there) or `find-python.sh 3.11` (gateway and actions).
# PYTHON310 / PYTHON311 override the search.
set -u
version="${1:?usage: find-python.sh 3.10|3.11}"
override=$(eval echo "\${PYTHON$(echo "$version" | tr -d .):-}")
for candidate in "$override" "python$version" "/usr/bin/python$version" \
    "/usr/local/bin/python$version" "$HOME"/.pyenv/versions/"$version".*/bin/"python$version"; do
  [ -n "$candidate" ] || continue
  if "$candidate" -c "import sys; assert '%d.%d' % sys.version_info[:2] == '$version'" >/dev/null 2>&1; then
    command -v "$candidate" 2>/dev/null || echo "$candidate"
    exit 0
  fi
done
echo "Python $version not found: install it (apt-get install python$version python$version-venv) or set PYTHON$(echo "$version" | tr -d .)" >&2
exit 1
