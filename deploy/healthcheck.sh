#!/bin/sh
# The image's HEALTHCHECK (Docker and Compose; Kubernetes uses the chart's probes instead).
# One image runs every process, so look at which `linkport` command this container runs:
#   serve   -> GET /healthz answers 200
#   worker  -> `linkport worker-health` (the worker's heartbeat is fresh)
#   other   -> healthy (migrate and the clients commands are one-shot)
set -eu

command=""
for cmdline in /proc/[0-9]*/cmdline; do
  args=$(tr '\0' ' ' 2>/dev/null <"$cmdline") || continue  # the process may be gone
  case "$args" in
    */linkport\ serve*) command=serve; break ;;
    */linkport\ worker*) command=worker; break ;;
  esac
done

case "$command" in
  serve)
    exec python -c 'import os, sys, urllib.request
url = "http://127.0.0.1:%s/healthz" % os.environ.get("LINKPORT_PORT", "8080")
try:
    urllib.request.urlopen(url, timeout=4)
except Exception as exc:
    sys.exit("unhealthy: %s: %s" % (url, exc))' ;;
  worker)
    exec linkport worker-health ;;
  *)
    exit 0 ;;
esac
