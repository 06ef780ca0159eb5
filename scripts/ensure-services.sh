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
# The management API (HTTP on 15672) serves the RabbitMQ queue-age health tests. Enabling
# an enabled plugin changes nothing, so this is safe to repeat.
if port_open 5672 && ! port_open 15672; then
    echo "ensure-services: enabling the RabbitMQ management plugin"
    rabbitmq-plugins enable --quiet rabbitmq_management || true
    # Not fatal: without it only the management-API tests skip, and they say why.
    wait_port "RabbitMQ management" 15672 || echo "ensure-services: continuing without it" >&2
fi
exit $status
