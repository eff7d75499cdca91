#!/usr/bin/env bash
# Prints deploy/nginx.conf.template filled in for one set of app processes; deploy/serve.sh (processes on
# this machine) and deploy/replicas.py proxy (the replicas of compose.yaml) both use it, so both route alike.
#
#   deploy/nginx_conf.sh RUN_DIR LISTEN PORT ADDRESS...
#
# ADDRESS is host:port of process 0, 1, ... in the order of their VITVIZ_REPLICA, or `-` where no process has
# that index (the others keep theirs). At most 10: a class code's first character is its process's index, one
# digit.
set -euo pipefail

if [ $# -lt 4 ]; then
    echo "usage: deploy/nginx_conf.sh RUN_DIR LISTEN PORT ADDRESS..." >&2
    exit 2
fi
RUN=$1 LISTEN=$2 PORT=$3
shift 3
P=$#
if [ "$P" -gt 10 ]; then
    echo "vitviz: $P app processes asked for, at most 10 behind one nginx (a class code names its process with one digit)" >&2
    exit 2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)

upstreams="" replicas="" codes="" cookies=""
i=-1
for address in "$@"; do
    i=$((i + 1))
    [ "$address" = "-" ] && continue
    n=$((${n:-0} + 1))
    upstreams+="        server $address max_fails=0;"$'\n'
    replicas+="    upstream vitviz_$i { server $address max_fails=0; }"$'\n'
    codes+="        \"~*^$i[a-z]{4}\$\" $i;"$'\n'
    cookies+="        \"$i\" $i;"$'\n'
done
if [ -z "$upstreams" ]; then
    echo "vitviz: no app process to route to" >&2
    exit 2
fi

sed -e "s|@RUN@|$RUN|g" -e "s|@PORT@|$PORT|g" -e "s|@LISTEN@|$LISTEN|g" -e "s|@PROCESSES@|${n:-0}|g" \
    "$ROOT/deploy/nginx.conf.template" |
    awk -v ups="$upstreams" -v reps="$replicas" -v codes="$codes" -v cookies="$cookies" '
        $0 == "@UPSTREAMS@"         { printf "%s", ups; next }
        $0 == "@REPLICA_UPSTREAMS@" { printf "%s", reps; next }
        $0 == "@CLASS_CODES@"       { printf "%s", codes; next }
        $0 == "@REPLICA_COOKIES@"   { printf "%s", cookies; next }
        { print }'
