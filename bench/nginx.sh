# Sourced by the bench scripts: start_nginx OUT starts nginx on a free
# loopback port, pinned to core 1, with its files in OUT (the caller's trap
# kills $(cat OUT/nginx.pid)); sets PORT and URL.
start_nginx() {
  local out=$1
  PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  cat > "$out/nginx.conf" <<NGINX
worker_processes 1;
pid $out/nginx.pid;
error_log $out/error.log;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$PORT; location / { return 200 "ok"; } }
}
NGINX
  taskset -c 1 nginx -c "$out/nginx.conf" -p "$out"
  sleep 0.5
  URL="http://127.0.0.1:$PORT/"
}

# Sets VOLLEY (the build of this checkout, built if needed; VOLLEY=path names
# another, for a before/after pair) and FIXTURE (the test fixture it builds).
volley_and_fixture() {
  if [ -z "${VOLLEY:-}" ]; then
    cargo build --release -q -p volley
    VOLLEY="$CARGO_TARGET_DIR/release/volley"
  fi
  FIXTURE=$("$VOLLEY" build engine/tests/guests/fixture 2>/dev/null | tail -1)
}

# The valgrind benches' start (bench/cachegrind.sh, bench/callgrind.sh):
# nginx and valgrind installed when missing, volley and the scenario in
# FIXTURE (SCENARIO, else the test fixture), nginx started on loopback in
# $OUT, which the caller's trap stops and removes.
valgrind_scenario() {
  command -v nginx >/dev/null || apt-get install -y -qq nginx >/dev/null
  command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
  volley_and_fixture
  FIXTURE=${SCENARIO:-$FIXTURE}
  start_nginx "$OUT"
}
