# Sourced by scripts/test: make sure the local PostgreSQL and Mosquitto the tests
# use are running (starts them with the machine's own service commands if not).
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
    local port=$1 name=$2
    for _ in $(seq 1 60); do
        port_open "$port" && return 0
        sleep 0.5
    done
    echo "$name did not come up on 127.0.0.1:$port" >&2
    return 1
}

if ! port_open 5432; then
    echo "==> starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
    wait_port 5432 PostgreSQL
fi
if ! port_open 1883; then
    echo "==> starting Mosquitto"
    mosquitto -d -c /etc/mosquitto/mosquitto.conf
    wait_port 1883 Mosquitto
fi
# The console's browser tests drive Debian's Chromium through chromedriver (no browser download).
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "==> installing Chromium and chromedriver for the browser tests"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; } \
            || echo "warning: could not install chromium (the browser tests will say so)" >&2
    else
        echo "warning: /usr/bin/chromium or /usr/bin/chromedriver missing (apt-get install chromium chromium-driver)" >&2
    fi
fi
