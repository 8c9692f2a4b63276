#!/usr/bin/env bash
# The supervisor's HTTP API with curl: submit a request, poll the job until
# it ends, download its images. Needs only curl and sed.
#
#   SUPERVISOR=http://127.0.0.1:8080 OUT=pics bash examples/curl.sh "a koi pond at dusk"
set -euo pipefail
supervisor=${SUPERVISOR:-http://127.0.0.1:8080}
out=${OUT:-.}
prompt=${1:-a neon koi pond at dusk}
request_id="curl-$(date +%s)-$RANDOM$RANDOM"

# 1. Submit: the same JSON as on cyberimage.requests. The request_id makes a
#    resend after a timeout safe: it never makes a second job.
reply=$(curl -sS -X POST "$supervisor/v1/jobs" -H 'Content-Type: application/json' \
  -d "{\"prompt\":\"$prompt\",\"width\":${WIDTH:-512},\"height\":${HEIGHT:-512},\"steps\":${STEPS:-8},\"request_id\":\"$request_id\"}")
echo "submitted: $reply"
job_id=$(printf '%s' "$reply" | sed -n 's/.*"job_id": *"\([^"]*\)".*/\1/p' | head -1)
if [ -z "$job_id" ] || printf '%s' "$reply" | grep -q '"error"'; then
  echo "rejected" >&2
  exit 1
fi

# 2. Poll the record until the job has ended (GET /v1/events streams
#    progress instead: curl -N "$supervisor/v1/events?job_id=$job_id").
for _ in $(seq 1 600); do
  record=$(curl -sS "$supervisor/v1/jobs/$job_id")
  status=$(printf '%s' "$record" | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p' | head -1)
  case $status in
    completed) break ;;
    failed|cancelled|rejected) echo "job $job_id ended $status: $record" >&2; exit 1 ;;
  esac
  sleep 0.5
done
[ "$status" = completed ] || { echo "job $job_id did not end in time" >&2; exit 1; }

# 3. Download each image through its presigned URL.
mkdir -p "$out"
i=0
for url in $(printf '%s' "$record" | grep -o '"url": *"[^"]*"' | sed 's/"url": *"\(.*\)"/\1/; s/\\u0026/\&/g'); do
  curl -sS -o "$out/$job_id-$i.png" "$url"
  echo "$out/$job_id-$i.png"
  i=$((i + 1))
done
