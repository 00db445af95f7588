#!/usr/bin/env bash
# intentd quick start: install, build, start a local Kafka broker, create the
# topics, run intentd, replay the bundled Taobao sample and Chinese reviews,
# wait until intentd has consumed every event, and print what it wrote.
# See deploy/QUICKSTART.md.
#
# usage: deploy/quickstart.sh [--port N] [--dir DIR] [--data DIR] [--slice N] [--language en|zh]
#                             [--timeout SECONDS] [--metrics-port N] [--keep-running]
#        deploy/quickstart.sh stop [--dir DIR]
#
# Exit status: 0 on success, 1 on a failed step, 2 on a usage error.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
data_dir="$repo/../shared/data"
config="config/quickstart.yaml"

usage() {
  cat <<EOF
usage: deploy/quickstart.sh [--port N] [--dir DIR] [--data DIR] [--slice N] [--language en|zh]
                            [--timeout SECONDS] [--metrics-port N] [--keep-running]
       deploy/quickstart.sh stop [--dir DIR]

Installs the Debian packages, builds intentd (Release, in build/release),
starts a local Kafka broker, creates the topics of $config,
starts 'intentd run' in the background, replays the bundled Taobao sample
and Chinese reviews, waits until intentd has consumed every event and prints
the events processed, dead letters, intents and offers, with example offers.
Every run starts from an empty broker: the broker data of the previous quick
start in DIR is deleted, so the numbers are those of this run.

  --port N           broker port on 127.0.0.1; the controller uses N+1 (default 9092)
  --dir DIR          quick-start state: logs, outputs, pid file, broker data in
                     DIR/kafka (default var/quickstart in the repository)
  --data DIR         folder with taobao_user_behavior_sample.csv and
                     online_shopping_10_cats.csv (default ../shared/data next
                     to the repository)
  --slice N          replay only the first N events in event-time order (default: all)
  --language en|zh   language of the offer messages (default zh)
  --timeout SECONDS  how long to wait for intentd to consume everything (default 900)
  --metrics-port N   serve /metrics, /healthz and /readyz on 127.0.0.1:N (default: off)
  --keep-running     leave intentd and the broker running at the end
  stop               stop the intentd and the broker of DIR

environment:
  INTENTD_SKIP_INSTALL=1      skip deploy/install-deps.sh
  INTENTD_QUICKSTART_BINARY   use this intentd binary and skip the build
EOF
}

say() { echo "quickstart: $*"; }
die() { echo "quickstart: $*" >&2; exit 1; }

# ---- arguments ----

command=start
if [ "${1:-}" = stop ]; then
  command=stop
  shift
fi
port=9092
dir="$repo/var/quickstart"
slice=""
language=zh
timeout_s=900
keep_running=0
metrics_port=""
need_value() { [ $# -ge 2 ] || { echo "quickstart: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --port) need_value "$@"; port=$2; shift 2 ;;
    --dir) need_value "$@"; dir=$2; shift 2 ;;
    --data) need_value "$@"; data_dir=$2; shift 2 ;;
    --slice) need_value "$@"; slice=$2; shift 2 ;;
    --language) need_value "$@"; language=$2; shift 2 ;;
    --timeout) need_value "$@"; timeout_s=$2; shift 2 ;;
    --metrics-port) need_value "$@"; metrics_port=$2; shift 2 ;;
    --keep-running) keep_running=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "quickstart: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65534 ] ||
  { echo "quickstart: invalid --port '$port': expected 1..65534 (the controller uses port+1)" >&2; exit 2; }
[ -z "$slice" ] || { [[ "$slice" =~ ^[0-9]+$ ]] && [ "$slice" -gt 0 ]; } ||
  { echo "quickstart: invalid --slice '$slice': expected a number of events > 0" >&2; exit 2; }
[[ "$timeout_s" =~ ^[0-9]+$ ]] || { echo "quickstart: invalid --timeout '$timeout_s': expected whole seconds" >&2; exit 2; }
[ -z "$metrics_port" ] || { [[ "$metrics_port" =~ ^[0-9]+$ ]] && [ "$metrics_port" -ge 1 ] && [ "$metrics_port" -le 65535 ]; } ||
  { echo "quickstart: invalid --metrics-port '$metrics_port': expected 1..65535" >&2; exit 2; }
case "$language" in en|zh) ;; *) echo "quickstart: invalid --language '$language': expected en or zh" >&2; exit 2 ;; esac
export INTENTD_QUICKSTART_LANGUAGE=$language

dir=$(realpath -m "$dir")
data_dir=$(realpath -m "$data_dir")
broker_dir="$dir/kafka"
marker="$dir/.intentd-quickstart"
pid_file="$dir/intentd.pid"
bootstrap="127.0.0.1:$port"
cd "$repo" || die "cannot enter $repo"

# ---- stop ----

# Prints the pid of the quick start's intentd if it still runs.
intentd_pid() {
  local pid
  [ -f "$pid_file" ] || return 1
  pid=$(tr -dc '0-9' <"$pid_file")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "intentd run --config $config" || return 1
  echo "$pid"
}

# SIGTERM makes intentd finish and commit its current batch before it exits.
stop_intentd() {
  local pid i
  if pid=$(intentd_pid); then
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "intentd (pid $pid) did not exit within 30 s of SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null
    fi
    say "stopped intentd (pid $pid)"
  fi
  rm -f "$pid_file"
}

stop_all() {
  stop_intentd
  if [ -d "$broker_dir" ]; then
    "$here/kafka/broker.sh" stop --dir "$broker_dir" | sed 's/^/quickstart: /'
  fi
}

if [ "$command" = stop ]; then
  [ -e "$marker" ] || { say "no quick start in $dir, nothing to stop"; exit 0; }
  stop_all
  exit 0
fi

# ---- start ----

step() { echo; echo "==> $*"; }

# Checked before anything is installed or built, so a missing file is not
# mistaken for a failed step.
for f in taobao_user_behavior_sample.csv online_shopping_10_cats.csv; do
  [ -f "$data_dir/$f" ] ||
    { echo "quickstart: the sample data file $data_dir/$f is missing: pass the folder that holds it with --data DIR" >&2; exit 1; }
done

if [ -e "$dir" ] && [ ! -e "$marker" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
  die "$dir is not empty and was not created by the quick start; its broker data would be deleted, so choose another --dir"
fi
mkdir -p "$dir" || die "cannot create $dir"
touch "$marker"

# On failure, stop what this run started unless --keep-running, and point at
# the logs.
finished=0
on_exit() {
  [ "$finished" = 1 ] && return
  echo "quickstart: failed; logs are in $dir (intentd.log, replay.log, kafka/broker.log)" >&2
  if [ "$keep_running" = 0 ]; then
    stop_all >&2
  fi
}
trap on_exit EXIT

if [ "${INTENTD_SKIP_INSTALL:-0}" != 1 ]; then
  step "installing Debian packages (deploy/install-deps.sh)"
  "$here/install-deps.sh" || die "installing the Debian packages failed"
fi

if [ -n "${INTENTD_QUICKSTART_BINARY:-}" ]; then
  intentd=$(realpath "$INTENTD_QUICKSTART_BINARY")
  [ -x "$intentd" ] || die "INTENTD_QUICKSTART_BINARY=$INTENTD_QUICKSTART_BINARY is not an executable file"
else
  step "building intentd (cmake Release in build/release)"
  cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >"$dir/build.log" 2>&1 &&
    cmake --build build/release -j "$(nproc)" --target intentd >>"$dir/build.log" 2>&1 ||
    { tail -n 30 "$dir/build.log" >&2; die "the build failed; see $dir/build.log"; }
  intentd="$repo/build/release/processor/intentd"
fi

step "starting a fresh local Kafka broker on $bootstrap (data in $broker_dir)"
stop_all >/dev/null
rm -rf "$broker_dir"
"$here/kafka/broker.sh" start --port "$port" --dir "$broker_dir" | sed 's/^/quickstart: /'
[ "${PIPESTATUS[0]}" = 0 ] || die "the broker did not start; see $broker_dir/broker.log"

step "creating the topics of $config"
"$intentd" topics create --config "$config" --bootstrap "$bootstrap" ||
  die "intentd topics create failed"

step "starting intentd run in the background (log: $dir/intentd.log)"
metrics_args=()
[ -z "$metrics_port" ] || metrics_args=(--metrics-port "$metrics_port")
setsid "$intentd" run --config "$config" --bootstrap "$bootstrap" "${metrics_args[@]}" </dev/null \
  >"$dir/intentd.log" 2>&1 &
echo $! >"$pid_file"
say "intentd is running (pid $(cat "$pid_file"))"
[ -z "$metrics_port" ] ||
  say "metrics: http://127.0.0.1:$metrics_port/metrics, health: /healthz and /readyz on the same port"

step "replaying the Taobao sample and the Chinese reviews${slice:+ (first $slice events)}"
say "NOTE: the reviews have no user ids. Each review is linked to a user, an item and a time"
say "taken from the Taobao file. This linkage is synthetic: that user did not write that review."
limit_args=()
[ -z "$slice" ] || limit_args=(--limit "$slice")
"$intentd" replay --config "$config" --bootstrap "$bootstrap" \
  --taobao "$data_dir/taobao_user_behavior_sample.csv" \
  --reviews "$data_dir/online_shopping_10_cats.csv" \
  --reviews-users-from "$data_dir/taobao_user_behavior_sample.csv" \
  "${limit_args[@]}" >"$dir/replay.log" 2>&1 ||
  { tail -n 20 "$dir/replay.log" >&2; die "intentd replay failed; see $dir/replay.log"; }
grep -v '^\s*$' "$dir/replay.log" | grep -iv 'progress' | tail -n 8 | sed 's/^/  /'

step "waiting until intentd has committed every event"
# Prints the number after " NAME=" in a line of 'intentd peek --lag'.
field() { sed -n "s/.* $1=\([0-9-]*\).*/\1/p" <<<"$2"; }
started=$(date +%s)
last_report=0
while :; do
  intentd_pid >/dev/null || { tail -n 20 "$dir/intentd.log" >&2; die "intentd exited early; see $dir/intentd.log"; }
  # A broker that has just started may not serve the group's offsets yet,
  # so a few failures in a row are tolerated.
  if ! "$intentd" peek --config "$config" --bootstrap "$bootstrap" --lag >"$dir/lag.txt" 2>>"$dir/peek.log"; then
    peek_failures=$((${peek_failures:-0} + 1))
    [ "$peek_failures" -lt 5 ] || die "intentd peek --lag failed $peek_failures times in a row; see $dir/peek.log"
    sleep 1
    continue
  fi
  peek_failures=0
  total=$(grep '^total ' "$dir/lag.txt")
  lag=$(sed -n 's/.* lag=\([0-9-]*\).*/\1/p' <<<"$total")
  elapsed=$(($(date +%s) - started))
  [ "$lag" = 0 ] && break
  if [ "$elapsed" -ge "$timeout_s" ]; then
    die "intentd did not consume everything within $timeout_s s ($total); see $dir/intentd.log"
  fi
  if [ $((elapsed - last_report)) -ge 5 ]; then
    say "${elapsed} s: intentd has committed $(field committed "$total") of $(field end "$total") events"
    last_report=$elapsed
  fi
  sleep 1
done
say "all events committed after ${elapsed} s"

# Outputs, read with read_committed. The files stay for a closer look.
"$intentd" peek --config "$config" --bootstrap "$bootstrap" --topic offers --limit 100000000 \
  >"$dir/offers.txt" 2>>"$dir/peek.log" || die "reading the offers failed; see $dir/peek.log"
"$intentd" peek --config "$config" --bootstrap "$bootstrap" --topic dead_letter --limit 100000000 \
  >"$dir/dead-letters.txt" 2>>"$dir/peek.log" || die "reading the dead letters failed; see $dir/peek.log"
intents=$("$intentd" peek --config "$config" --bootstrap "$bootstrap" --topic intents --count 2>>"$dir/peek.log" |
  sed -n 's/^records=//p')
[ -n "$intents" ] || die "counting the intents failed; see $dir/peek.log"
"$intentd" peek --config "$config" --bootstrap "$bootstrap" --topic intents --limit 3 \
  >"$dir/intents-sample.txt" 2>>"$dir/peek.log"

replayed=$(field end "$total")
processed=$(field committed "$total")
clicks=$(field end "$(grep '^topic=clickstream ' "$dir/lag.txt")")
reviews=$(field end "$(grep '^topic=reviews ' "$dir/lag.txt")")
offers=$(grep -c '^offer ' "$dir/offers.txt")
holdout=$(grep -c '^offer .* holdout=true ' "$dir/offers.txt")
dead=$(grep -c '^dead_letter ' "$dir/dead-letters.txt")

echo
echo "==== quick start summary ===="
echo "events replayed:   $replayed (clickstream $clicks, reviews $reviews)"
echo "events processed:  $processed"
echo "dead letters:      $dead"
echo "intents written:   $intents"
echo "offers written:    $offers (of which $holdout in the holdout group, recorded but not to be sent)"
echo "reviews are linked to synthetic users from the Taobao file: the linked user did not write the review"
echo
for rule in cart_added unhappy_reviewer; do
  echo "example offers of rule $rule:"
  grep "^offer .* rule=$rule " "$dir/offers.txt" | head -n 3 | sed 's/^/  /'
done
if [ "$dead" -gt 0 ]; then
  echo "example dead letters:"
  head -n 3 "$dir/dead-letters.txt" | sed 's/^/  /'
fi
echo "example intents:"
sed 's/^/  /' "$dir/intents-sample.txt"
echo
echo "files in $dir:"
echo "  intentd.log  replay.log  kafka/broker.log   logs"
echo "  offers.txt  dead-letters.txt  intents-sample.txt   decoded outputs, one record a line"
echo "read any topic with: ${intentd#"$repo"/} peek --config $config --bootstrap $bootstrap --topic offers --limit 20"

if [ "$keep_running" = 1 ]; then
  echo
  echo "intentd (pid $(cat "$pid_file")) and the broker on $bootstrap are still running."
  stop_command="deploy/quickstart.sh stop"
  [ "$dir" = "$repo/var/quickstart" ] || stop_command+=" --dir $dir"
  echo "stop them with: $stop_command"
else
  echo
  stop_all
  echo "intentd and the broker are stopped. --keep-running leaves them up."
fi
finished=1
