#!/usr/bin/env bash
# vitviz on every core: P app processes on local ports behind nginx on one port.
#
#   deploy/serve.sh [PROCESSES (default: number of cores)] [PORT (default 8080)]
#
# Each app process is a plain `streamlit run` with the file watcher off, on 127.0.0.1:PORT+1..PORT+P, and
# knows its index as VITVIZ_REPLICA (0..P-1): a class it starts gets a code beginning with that digit, so at
# most 10 processes. nginx (Debian's package: apt-get install nginx) listens on $VITVIZ_LISTEN:PORT
# (default 127.0.0.1; 0.0.0.0 for a classroom) and keeps each browser, and each class, on one process
# (deploy/nginx.conf.template, filled in by deploy/nginx_conf.sh).
# Weights are read, never written, by every process from the same place: fetch them once first
# (`python -m vitviz fetch vit_s16`, into the Hugging Face cache) or point $VITVIZ_WEIGHTS_DIR at a
# folder of <key>.safetensors files. Stopping this script (Ctrl-C, SIGTERM) stops them all; so does
# any one of them exiting.
#
# Environment: VITVIZ_LISTEN, VITVIZ_PORT_BASE (first app port, default PORT+1), VITVIZ_RUN_DIR (the
# generated nginx.conf, logs and the "pid port" list of the app processes in `apps`; default a new
# temporary folder), PYTHON (default python3), NGINX (default: nginx on PATH or /usr/sbin/nginx).
# Scaling past one machine: compose.yaml (replicas of the Docker image behind the same configuration).
set -euo pipefail

P=${1:-$(nproc)}
PORT=${2:-8080}
if ! [[ "$P" =~ ^[0-9]+$ ]] || [ "$P" -lt 1 ] || [ "$P" -gt 10 ]; then
    echo "vitviz: PROCESSES must be 1 to 10, not '$P' (a class code names its process with one digit;" \
         "for more, run more machines)" >&2
    exit 2
fi
# One process per core keeps every core busy: numpy's BLAS gets one thread per process, as torch does
# (VITVIZ_THREADS). A second OpenBLAS thread spins while it waits, and next to a busy core the pages' SVDs and
# matrix products cost 5.7x the CPU with two threads (benchmarks/blas_threads.py).
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=${VITVIZ_RUN_DIR:-$(mktemp -d -t vitviz_serve_XXXXXX)}
BASE=${VITVIZ_PORT_BASE:-$((PORT + 1))}
LISTEN=${VITVIZ_LISTEN:-127.0.0.1}
PYTHON=${PYTHON:-python3}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
mkdir -p "$RUN"

pids=()
stopping=0
stop_all() {
    [ "$stopping" = 1 ] && return
    stopping=1
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait || true
}
trap stop_all EXIT
trap 'exit 0' INT TERM

: > "$RUN/apps"
addresses=()
for i in $(seq 0 $((P - 1))); do
    port=$((BASE + i))
    (cd "$ROOT" && VITVIZ_REPLICA=$i exec "$PYTHON" -m streamlit run streamlit_app.py --server.port "$port" \
        --server.address 127.0.0.1 --server.headless true --server.fileWatcherType none \
        --browser.gatherUsageStats false --browser.serverPort "$PORT") &  # links (a class's join link) name nginx's port
    pids+=("$!")
    echo "$! $port" >> "$RUN/apps"
    addresses+=("127.0.0.1:$port")
done

"$ROOT/deploy/nginx_conf.sh" "$RUN" "$LISTEN" "$PORT" "${addresses[@]}" > "$RUN/nginx.conf"
"$NGINX" -t -q -e "$RUN/nginx_error.log" -c "$RUN/nginx.conf" -p "$RUN"
"$NGINX" -e "$RUN/nginx_error.log" -c "$RUN/nginx.conf" -p "$RUN" &
pids+=("$!")
echo "vitviz: $P app processes behind http://$LISTEN:$PORT (run folder $RUN)"

wait -n  # the first one to end (or a signal) ends the set
