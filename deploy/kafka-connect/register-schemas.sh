#!/usr/bin/env bash
# Register intentd's output schemas in a Confluent Schema Registry under the
# ids of schemas/catalogue.json, so that AvroConverter can look up the ids
# that intentd writes into each record's Confluent frame.
#
#   deploy/kafka-connect/register-schemas.sh http://schema-registry:8081
#   deploy/kafka-connect/register-schemas.sh --print URL    # show the requests, send none
#
# Each subject (TopicNameStrategy: <topic>-value) is switched to IMPORT mode,
# which accepts an explicit id and version, and back to READWRITE afterwards.
# IMPORT mode needs mode.mutability=true in the registry's config and a
# subject with no schema yet. Topic names come from USER_INTENTS_TOPIC and
# OFFERS_TOPIC (defaults user-intents and offers).
#
# NOTE: written against the Schema Registry REST API documentation and run
# here only with --print; no registry was available to test it against.
set -euo pipefail

print_only=0
if [ "${1:-}" = "--print" ]; then
  print_only=1
  shift
fi
if [ $# -ne 1 ]; then
  echo "usage: $0 [--print] REGISTRY_URL" >&2
  exit 2
fi
registry=${1%/}
root=$(cd "$(dirname "$0")/../.." && pwd)
catalogue="$root/schemas/catalogue.json"

request() {
  local method=$1 path=$2 body=$3
  if [ "$print_only" = 1 ]; then
    echo "$method $registry$path $body"
    return
  fi
  curl --fail-with-body --silent --show-error -X "$method" \
    -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
    --data "$body" "$registry$path"
  echo
}

register() {
  local subject=$1 record=$2
  local entry id file body
  entry=$(jq -c --arg r "$record" '.schemas[] | select(.record == $r and .reader == true)' "$catalogue")
  if [ -z "$entry" ]; then
    echo "register-schemas: no reader schema for $record in $catalogue" >&2
    exit 1
  fi
  id=$(jq -r .id <<<"$entry")
  file="$root/schemas/$(jq -r .file <<<"$entry")"
  body=$(jq -c --argjson id "$id" '{schemaType: "AVRO", schema: (. | tojson), id: $id, version: 1}' "$file")

  request PUT "/mode/$subject" '{"mode":"IMPORT"}'
  request POST "/subjects/$subject/versions" "$body"
  request PUT "/mode/$subject" '{"mode":"READWRITE"}'
}

register "${USER_INTENTS_TOPIC:-user-intents}-value" io.intentd.UserIntent
register "${OFFERS_TOPIC:-offers}-value" io.intentd.Offer
