#!/usr/bin/env bash
# Lint the deployment files. Runs yamllint on every YAML file of deploy/ and
# config/, 'intentd check-config' on the configs that the container image and
# the Kubernetes ConfigMap ship, and 'systemd-analyze verify' on the systemd
# unit. Also checks the Kafka Connect JSON files and that the metrics port
# agrees across config, probes, Service and HEALTHCHECK.
# Nothing here needs Docker or a Kubernetes cluster, and nothing is deployed.
#
# Environment:
#   INTENTD  the intentd binary (default build/release/processor/intentd)
# Exits non-zero if any check failed.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

intentd=${INTENTD:-build/release/processor/intentd}
python=/usr/bin/python3
failed=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "deploy/lint: $*" >&2
  failed=1
}

if [ ! -x "$intentd" ]; then
  echo "deploy/lint: $intentd not found; build intentd first or set INTENTD" >&2
  exit 2
fi

# 1. YAML style and syntax. deploy/kafka/lib contains downloaded jars, not YAML.
mapfile -t yaml_files < <(find deploy config -path deploy/kafka/lib -prune -o \( -name '*.yaml' -o -name '*.yml' \) -print | sort)
yamllint --strict -c deploy/.yamllint "${yaml_files[@]}" || fail "yamllint found problems in ${yaml_files[*]}"

# 2. The shipped configs must pass intentd's own validation. The variables
# they reference get sample values, because check-config rejects an unset
# ${VAR} without a default.
export HOSTNAME=lint-0 KAFKA_BOOTSTRAP=kafka:9092 KAFKA_USERNAME=lint KAFKA_PASSWORD=lint
"$intentd" check-config deploy/docker/intentd.yaml >/dev/null || fail "deploy/docker/intentd.yaml is not a valid intentd config"
"$python" - deploy/kubernetes/configmap.yaml "$work/k8s-intentd.yaml" <<'PY' || fail "could not extract intentd.yaml from deploy/kubernetes/configmap.yaml"
import sys, yaml
with open(sys.argv[1]) as f:
    doc = yaml.safe_load(f)
with open(sys.argv[2], "w") as f:
    f.write(doc["data"]["intentd.yaml"])
PY
[ -s "$work/k8s-intentd.yaml" ] && { "$intentd" check-config "$work/k8s-intentd.yaml" >/dev/null ||
  fail "intentd.yaml in deploy/kubernetes/configmap.yaml is not a valid intentd config"; }

# 3. The systemd unit. verify checks that ExecStart= exists, so it runs on a
# copy whose /usr/local/bin/intentd points at the built binary. verify only
# warns (exit 0) about unknown or invalid settings, so any output fails too.
unit=deploy/systemd/intentd.service
grep -q '^ExecStart=/usr/local/bin/intentd run ' "$unit" || fail "$unit: ExecStart= no longer starts /usr/local/bin/intentd run"
mkdir -p "$work/systemd"
sed "s#/usr/local/bin/intentd#$root/$intentd#g" "$unit" >"$work/systemd/intentd.service"
if ! verify_output=$(systemd-analyze verify "$work/systemd/intentd.service" 2>&1) || [ -n "$verify_output" ]; then
  echo "$verify_output" >&2
  fail "systemd-analyze verify rejected $unit"
fi

# 4. Kafka Connect configs: valid JSON, in the REST API's {name, config} form.
for f in deploy/kafka-connect/*.json; do
  jq -e '.name and .config["connector.class"] and .config.topics and .config["value.converter.schema.registry.url"]' \
    "$f" >/dev/null || fail "$f: invalid JSON, or name, connector.class, topics or the registry URL is missing"
done

# The schema registration script must find both output schemas in the
# catalogue; --print sends nothing.
deploy/kafka-connect/register-schemas.sh --print http://127.0.0.1:8081 >/dev/null ||
  fail "deploy/kafka-connect/register-schemas.sh --print failed"

# 5. One metrics port everywhere a scraper or a probe looks for it.
"$python" - <<'PY' || fail "the metrics port or the probe paths disagree between the deploy files (see above)"
import re, sys, yaml

def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]

ports = {}
docker_cfg = load_all("deploy/docker/intentd.yaml")[0]
ports["deploy/docker/intentd.yaml metrics.port"] = docker_cfg["metrics"]["port"]
with open("deploy/docker/Dockerfile") as f:
    dockerfile = f.read()
ports["Dockerfile HEALTHCHECK"] = int(re.search(r"127\.0\.0\.1:(\d+)/healthz", dockerfile).group(1))
ports["Dockerfile EXPOSE"] = int(re.search(r"^EXPOSE (\d+)", dockerfile, re.M).group(1))
cm = load_all("deploy/kubernetes/configmap.yaml")[0]
ports["configmap metrics.port"] = yaml.safe_load(cm["data"]["intentd.yaml"])["metrics"]["port"]
sts = load_all("deploy/kubernetes/statefulset.yaml")[0]
container = sts["spec"]["template"]["spec"]["containers"][0]
ports["statefulset containerPort"] = container["ports"][0]["containerPort"]
svc = load_all("deploy/kubernetes/service.yaml")[0]
ports["service port"] = svc["spec"]["ports"][0]["port"]
ports["service prometheus.io/port"] = int(svc["metadata"]["annotations"]["prometheus.io/port"])

status = 0
if len(set(ports.values())) != 1:
    for where, port in ports.items():
        print(f"  {where}: {port}", file=sys.stderr)
    status = 1
probes = {name: container[name]["httpGet"]["path"] for name in ("startupProbe", "livenessProbe", "readinessProbe")}
if probes != {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}:
    print(f"  statefulset probe paths are {probes}", file=sys.stderr)
    status = 1
sys.exit(status)
PY

if [ "$failed" = 0 ]; then
  echo "deploy/lint: ${#yaml_files[@]} YAML files, 2 intentd configs, the systemd unit and the Kafka Connect configs are clean"
fi
exit "$failed"
