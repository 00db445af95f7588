#!/usr/bin/env bash
# Start, stop or query a local single-node Apache Kafka broker in KRaft mode
# (one JVM that is both broker and controller), listening on 127.0.0.1 only.
# The jars come from Maven Central through pom.xml next to this script; see
# README.md for the files it writes and for troubleshooting.
#
# usage: broker.sh start|stop|status [--port N] [--dir DIR] [--timeout SECONDS]
#
# Exit status: 0 on success (status: running and responding to metadata
# requests), 1 on failure (status: running but not responding), 2 on a usage
# error, 3 from status when no broker is running.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
lib="$here/lib"
node_id=1

usage() {
  cat <<EOF
usage: broker.sh start|stop|status [--port N] [--dir DIR] [--timeout SECONDS]

  start    resolve the jars if lib/ is missing, write DIR/server.properties,
           format the KRaft storage on first use, start the broker in the
           background and wait until it responds to metadata requests
  stop     send SIGTERM, wait, then SIGKILL if it is still running
  status   exit 0 if the broker runs and responds, 1 if it runs but does not
           respond, 3 if it does not run

  --port N           client (PLAINTEXT) port on 127.0.0.1; the controller
                     listens on N+1. Default: the port DIR was last started
                     with, else 9092.
  --dir DIR          state directory (config, data, log, pid).
                     Default: $repo/var/kafka
  --timeout SECONDS  start: how long to wait for the broker to respond
                     (default 60); stop: how long to wait after SIGTERM
                     before SIGKILL (default 30)

environment:
  KAFKA_HEAP_OPTS    JVM heap options (default: -Xms256m -Xmx1g)
EOF
}

say() { echo "broker.sh: $*"; }
die() { echo "broker.sh: $*" >&2; exit 1; }

# Prints the last lines of the broker log to stderr, for error messages.
show_log_tail() {
  local lines=${1:-30}
  if [ -f "$log_file" ]; then
    echo "---- last $lines lines of $log_file ----" >&2
    tail -n "$lines" "$log_file" >&2
    echo "----" >&2
  fi
}

# ---- argument parsing ----

command=${1:-}
[ -n "$command" ] || { usage >&2; exit 2; }
shift
case "$command" in
  start|stop|status) ;;
  -h|--help|help) usage; exit 0 ;;
  *) echo "broker.sh: unknown command '$command'" >&2; usage >&2; exit 2 ;;
esac

port=""
dir="$repo/var/kafka"
timeout_s=""
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=${2:-}; shift 2 || { echo "broker.sh: --port needs a value" >&2; exit 2; } ;;
    --port=*) port=${1#--port=}; shift ;;
    --dir) dir=${2:-}; shift 2 || { echo "broker.sh: --dir needs a value" >&2; exit 2; } ;;
    --dir=*) dir=${1#--dir=}; shift ;;
    --timeout) timeout_s=${2:-}; shift 2 || { echo "broker.sh: --timeout needs a value" >&2; exit 2; } ;;
    --timeout=*) timeout_s=${1#--timeout=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "broker.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

if [ -n "$port" ] && ! { [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65534 ]; }; then
  echo "broker.sh: invalid --port '$port': expected 1..65534 (the controller uses port+1)" >&2
  exit 2
fi
if [ -n "$timeout_s" ] && ! [[ "$timeout_s" =~ ^[0-9]+$ ]]; then
  echo "broker.sh: invalid --timeout '$timeout_s': expected whole seconds" >&2
  exit 2
fi
[ -n "$dir" ] || { echo "broker.sh: --dir must not be empty" >&2; exit 2; }
dir=$(realpath -m "$dir")

config_file="$dir/server.properties"
data_dir="$dir/data"
log_file="$dir/broker.log"
pid_file="$dir/broker.pid"
probe_config="$dir/probe.properties"
kafka_lock="$data_dir/.lock"

# ---- process discovery ----

# Prints the pid in DIR/broker.pid if that process is a kafka.Kafka JVM
# started with DIR/server.properties. A pid that was reused by another
# program does not count.
pid_from_file() {
  local pid
  [ -f "$pid_file" ] || return 1
  pid=$(tr -dc '0-9' <"$pid_file")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $config_file" || return 1
  echo "$pid"
}

# Prints the pid of the process that holds the POSIX lock on DIR/data/.lock.
# Kafka locks its log directory this way for as long as it runs, so this
# finds a broker on DIR even when its pid file was deleted. /proc/locks lists
# the locks of every user's processes as MAJOR:MINOR:INODE in hex and decimal.
pid_holding_lock() {
  local dev inode major minor
  [ -e "$kafka_lock" ] || return 1
  read -r dev inode < <(stat -c '%d %i' "$kafka_lock") || return 1
  # Split st_dev as the kernel's MAJOR() and MINOR() (glibc's gnu_dev_major/minor).
  major=$(( ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff) ))
  minor=$(( (dev & 0xff) | ((dev >> 12) & ~0xff) ))
  awk -v id="$(printf '%02x:%02x:%s' "$major" "$minor" "$inode")" \
    '$2 == "POSIX" && $6 == id { print $5; found = 1; exit } END { exit !found }' /proc/locks
}

running_pid() { pid_from_file || pid_holding_lock; }

# Prints the PLAINTEXT port that DIR/server.properties configures.
configured_port() {
  [ -f "$config_file" ] || return 1
  sed -n 's|^listeners=PLAINTEXT://127\.0\.0\.1:\([0-9]*\),.*|\1|p' "$config_file" | head -n 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Succeeds if the broker on $1 responds to a Metadata request and lists itself.
# BrokerApiVersionsCommand (in kafka_2.13) bootstraps with a Metadata
# request, then sends ApiVersions to every broker the response names.
probe() {
  local out
  cat >"$probe_config" <<EOF
request.timeout.ms=5000
default.api.timeout.ms=8000
EOF
  # Without a log4j config the tool's logging is off apart from a warning on stderr.
  out=$(timeout 20 java -Xmx128m -cp "$lib/*" kafka.admin.BrokerApiVersionsCommand \
          --bootstrap-server "127.0.0.1:$1" --command-config "$probe_config" 2>/dev/null)
  grep -q "^127\.0\.0\.1:$1 (id: $node_id rack" <<<"$out"
}

# ---- start ----

ensure_jars() {
  local version
  version=$(sed -n 's|.*<kafka.version>\(.*\)</kafka.version>.*|\1|p' "$here/pom.xml")
  if [ -f "$lib/kafka_2.13-$version.jar" ] && compgen -G "$lib/slf4j-reload4j-*.jar" >/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null || die "lib/ has no kafka_2.13-$version.jar and mvn is not installed (deploy/install-deps.sh installs it)"
  say "resolving the Kafka $version jars into $lib with Maven"
  # Offline first, so a machine whose ~/.m2 already has the jars needs no network.
  if ! mvn -q -B -o -f "$here/pom.xml" dependency:copy-dependencies >/dev/null 2>&1; then
    mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies ||
      die "mvn dependency:copy-dependencies failed for $here/pom.xml; run it by hand to see why"
  fi
  [ -f "$lib/kafka_2.13-$version.jar" ] || die "Maven finished but $lib/kafka_2.13-$version.jar is missing"
}

write_server_properties() {
  local controller_port=$(($1 + 1))
  cat >"$config_file" <<EOF
# Generated by deploy/kafka/broker.sh on every start; edits are overwritten.
# Single-node KRaft: this JVM is both broker and controller.
process.roles=broker,controller
node.id=$node_id
controller.quorum.voters=$node_id@127.0.0.1:$controller_port
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$1,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$1
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data_dir

# One broker, so every internal topic has one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=8
default.replication.factor=1
min.insync.replicas=1
num.partitions=1

# Tests create their topics explicitly and want consumer groups to start at once.
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
EOF
}

format_storage_once() {
  local cluster_id
  [ -f "$data_dir/meta.properties" ] && return 0
  cluster_id=$(java -cp "$lib/*" kafka.tools.StorageTool random-uuid 2>/dev/null |
                 grep -E '^[A-Za-z0-9_-]{22}$' | tail -n 1)
  [ -n "$cluster_id" ] || die "kafka.tools.StorageTool random-uuid printed no cluster id; check java and $lib"
  say "formatting KRaft storage in $data_dir (cluster id $cluster_id)"
  if ! java -Dlog4j.configuration="file:$here/log4j.properties" -cp "$lib/*" kafka.tools.StorageTool \
         format --config "$config_file" --cluster-id "$cluster_id" >>"$log_file" 2>&1; then
    echo "broker.sh: formatting the storage in $data_dir failed; see $log_file" >&2
    show_log_tail 20
    exit 1
  fi
}

# Stops pid with SIGTERM, then SIGKILL after $2 seconds. Prints what it did.
terminate() {
  local pid=$1 wait_s=$2 waited=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge $((wait_s * 10)) ]; then
      say "pid $pid still running ${wait_s} s after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
      return 0
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  say "stopped pid $pid in $((waited / 10)).$((waited % 10)) s"
}

# Removes a pid file left by a broker that was killed or crashed, and reports
# a stale Kafka lock. Called only when no process runs on DIR.
clear_stale_files() {
  if [ -f "$pid_file" ]; then
    say "removing stale pid file $pid_file (pid $(tr -dc '0-9' <"$pid_file") is not a broker on $dir)"
    rm -f "$pid_file"
  fi
  # The lock file stays after every stop, so only a missing clean-shutdown
  # marker makes it stale. No process holds it (running_pid checked), so the
  # next broker takes the lock over and recovers the logs, and deleting the
  # file is not needed.
  if [ -e "$kafka_lock" ] && [ ! -e "$data_dir/.kafka_cleanshutdown" ]; then
    say "found stale lock $kafka_lock that no process holds: the last run did not shut down cleanly, so Kafka will recover its logs on start"
  fi
}

start() {
  local pid requested_port=$port wait_s=${timeout_s:-60} started elapsed

  mkdir -p "$dir" || die "cannot create $dir"
  # Serialise start and stop on DIR so two concurrent starts cannot race.
  exec 9>"$dir/.broker.sh.lock"
  flock -w 120 9 || die "timed out after 120 s waiting for $dir/.broker.sh.lock, which another broker.sh holds while it starts or stops this broker"

  [ -n "$port" ] || port=$(configured_port) || true
  [ -n "$port" ] || port=9092

  if pid=$(running_pid); then
    local running_port
    running_port=$(configured_port)
    if [ -n "$requested_port" ] && [ "$requested_port" != "$running_port" ]; then
      die "a broker already runs on $dir (pid $pid, port $running_port), not on the requested port $requested_port; stop it first"
    fi
    [ -f "$pid_file" ] || echo "$pid" >"$pid_file"
    if probe "$running_port"; then
      say "already running (pid $pid, 127.0.0.1:$running_port, dir $dir)"
      exit 0
    fi
    die "already running (pid $pid) but not responding on 127.0.0.1:$running_port; see $log_file, or run 'broker.sh stop --dir $dir' and start again"
  fi
  clear_stale_files

  port_in_use "$port" && die "port $port on 127.0.0.1 is in use by another process; choose another with --port"
  port_in_use $((port + 1)) && die "controller port $((port + 1)) on 127.0.0.1 is in use by another process; choose another --port (the controller uses port+1)"

  ensure_jars
  mkdir -p "$data_dir"
  write_server_properties "$port"
  format_storage_once

  echo "==== broker.sh start $(date -u +%Y-%m-%dT%H:%M:%SZ) port $port ====" >>"$log_file"
  # setsid detaches the JVM from the caller's session, so closing the
  # terminal does not stop it. fd 9 (our flock) must not leak into the JVM.
  # shellcheck disable=SC2086 # KAFKA_HEAP_OPTS is a list of JVM options
  setsid java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g} -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$here/log4j.properties" -Dkafka.logs.dir="$dir" \
    -cp "$lib/*" kafka.Kafka "$config_file" </dev/null >>"$log_file" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$pid_file"

  started=$(date +%s)
  while :; do
    elapsed=$(($(date +%s) - started))
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$pid_file"
      echo "broker.sh: the broker (pid $pid) exited during startup; see $log_file" >&2
      show_log_tail 30
      exit 1
    fi
    if probe "$port"; then
      say "running (pid $pid, 127.0.0.1:$port, controller 127.0.0.1:$((port + 1)), dir $dir), ready in ${elapsed} s"
      exit 0
    fi
    if [ "$elapsed" -ge "$wait_s" ]; then
      echo "broker.sh: the broker (pid $pid) did not respond to metadata requests on 127.0.0.1:$port within $wait_s s; stopping it. See $log_file" >&2
      show_log_tail 30
      terminate "$pid" 10 >&2
      rm -f "$pid_file"
      exit 1
    fi
    sleep 1
  done
}

# ---- stop and status ----

stop() {
  local pid
  [ -d "$dir" ] || { say "not running (no $dir)"; exit 0; }
  exec 9>"$dir/.broker.sh.lock"
  flock -w 120 9 || die "timed out after 120 s waiting for $dir/.broker.sh.lock, which another broker.sh holds while it starts or stops this broker"

  if ! pid=$(running_pid); then
    say "not running on $dir"
    clear_stale_files
    exit 0
  fi
  terminate "$pid" "${timeout_s:-30}"
  rm -f "$pid_file"
}

status() {
  local pid
  if ! pid=$(running_pid); then
    say "not running on $dir"
    exit 3
  fi
  [ -n "$port" ] || port=$(configured_port)
  if probe "$port"; then
    say "running (pid $pid, 127.0.0.1:$port, dir $dir) and responding to metadata requests"
    exit 0
  fi
  say "pid $pid is running but does not respond on 127.0.0.1:$port; see $log_file"
  exit 1
}

"$command"
