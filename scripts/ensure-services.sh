#!/usr/bin/env bash
# Start PostgreSQL, Redis and RabbitMQ when one of them does not answer, then wait for it.
# The commands are the ones in ../shared/SERVICES.md.
set -u

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
    local name=$1 port=$2 i
    for i in $(seq 1 120); do
        port_open "$port" && return 0
        sleep 0.5
    done
    echo "ensure-services: $name did not answer on 127.0.0.1:$port after 60 s" >&2
    return 1
}

status=0
if ! port_open 5432; then
    echo "ensure-services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
    wait_port PostgreSQL 5432 || status=1
fi
if ! port_open 6379; then
    echo "ensure-services: starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    wait_port Redis 6379 || status=1
fi
if ! port_open 5672; then
    echo "ensure-services: starting RabbitMQ"
    rabbitmq-server -detached || true
    wait_port RabbitMQ 5672 || status=1
fi
exit $status
