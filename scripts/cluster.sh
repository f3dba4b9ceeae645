#!/usr/bin/env bash
# A NATS JetStream cluster of three servers on loopback, for trying the
# cluster's store (docs/cluster.md), tests and benches.
#
#   scripts/cluster.sh up       start n0, n1, n2 (clients on 4222-4224)
#   scripts/cluster.sh status   their PIDs, JetStream's meta leader, the streams
#   scripts/cluster.sh down     stop them (SIGTERM, then SIGKILL after 10 s)
#
# CLUSTER_DIR (default ./cluster) holds their configuration, stores, logs
# and PIDs; CLUSTER_PORT (default 4222) is n0's client port, n1 and n2 take
# the next ones; routes use +2000, monitoring (HTTP) +4000.
set -euo pipefail
dir=${CLUSTER_DIR:-./cluster}
base=${CLUSTER_PORT:-4222}
server=$(command -v nats-server || echo /usr/sbin/nats-server)

conf() {
  local i=$1
  echo "server_name: n$i"
  echo "listen: 127.0.0.1:$((base + i))"
  echo "http: 127.0.0.1:$((base + 4000 + i))"
  echo "max_payload: 8MB"
  echo "jetstream { store_dir: \"$dir/n$i\" }"
  echo "cluster {"
  echo "  name: sluice"
  echo "  listen: 127.0.0.1:$((base + 2000 + i))"
  echo "  routes: ["
  for j in 0 1 2; do [ "$j" = "$i" ] || echo "    nats-route://127.0.0.1:$((base + 2000 + j))"; done
  echo "  ]"
  echo "}"
}

alive() { [ -f "$dir/n$1.pid" ] && kill -0 "$(cat "$dir/n$1.pid")" 2>/dev/null; }

up() {
  [ -x "$server" ] || { echo "cluster.sh: nats-server not found (scripts/setup.sh installs it)" >&2; exit 1; }
  mkdir -p "$dir"
  for i in 0 1 2; do
    if alive "$i"; then echo "n$i already running (pid $(cat "$dir/n$i.pid"))"; continue; fi
    conf "$i" >"$dir/n$i.conf"
    "$server" -c "$dir/n$i.conf" >>"$dir/n$i.log" 2>&1 &
    echo $! >"$dir/n$i.pid"
  done
  # Ready once JetStream has a meta leader (streams can be created then).
  for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$((base + 4000))/jsz" | grep -q '"leader"'; then
      echo "cluster up: nats://127.0.0.1:$base,nats://127.0.0.1:$((base + 1)),nats://127.0.0.1:$((base + 2))"
      return 0
    fi
    sleep 0.2
  done
  echo "cluster.sh: no JetStream meta leader after 20 s; see $dir/n*.log" >&2
  exit 1
}

down() {
  for i in 0 1 2; do
    alive "$i" && kill -TERM "$(cat "$dir/n$i.pid")"
  done
  for _ in $(seq 1 100); do
    running=0
    for i in 0 1 2; do alive "$i" && running=1; done
    [ "$running" = 0 ] && break
    sleep 0.1
  done
  for i in 0 1 2; do
    alive "$i" && kill -KILL "$(cat "$dir/n$i.pid")"
    rm -f "$dir/n$i.pid"
  done
  echo "cluster down"
}

status() {
  for i in 0 1 2; do
    if alive "$i"; then echo "n$i: running, pid $(cat "$dir/n$i.pid"), nats://127.0.0.1:$((base + i))"
    else echo "n$i: stopped"; fi
  done
  for i in 0 1 2; do
    if alive "$i"; then
      curl -sf "http://127.0.0.1:$((base + 4000 + i))/jsz?streams=true" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print("meta leader:", (j.get("meta_cluster") or {}).get("leader", "none"))
for a in j.get("account_details") or []:
    for s in a.get("stream_detail") or []:
        st, cl = s["state"], s.get("cluster") or {}
        name, leader = s["name"], cl.get("leader", "?")
        print("stream %s: messages %d, sequences %d..%d, leader %s" % (name, st["messages"], st["first_seq"], st["last_seq"], leader))
'
      return 0
    fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: scripts/cluster.sh up|down|status" >&2; exit 2 ;;
esac
