#!/usr/bin/env bash
# Creates the Secrets the dev or test overlay references, with fresh random passwords,
# in one namespace. Secrets never live in the repository; prod's come from AWS Secrets
# Manager (infra/cloudformation/databases.yaml) and are created the same way by the
# platform team. The passwords must agree across Secrets, so the script creates all or
# nothing: once they exist it does nothing (delete them all to start over).
#
#   k8s/scripts/create-secrets.sh dev    # namespace ironvessel-dev, identity as the IdP
#   k8s/scripts/create-secrets.sh test   # namespace ironvessel-test, Keycloak as the IdP
set -euo pipefail

readonly ENVIRONMENT=${1:?usage: create-secrets.sh dev|test}
case "$ENVIRONMENT" in
dev | test) ;;
*)
    echo "error: environment must be dev or test, not $ENVIRONMENT" >&2
    exit 2
    ;;
esac
readonly NAMESPACE="ironvessel-$ENVIRONMENT"

password() { LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32; }

# Creates secret $1 from the remaining key=value pairs.
create() {
    local name=$1
    shift
    local args=()
    local pair
    for pair in "$@"; do
        args+=("--from-literal=$pair")
    done
    kubectl -n "$NAMESPACE" create secret generic "$name" "${args[@]}"
}

kubectl get namespace "$NAMESPACE" >/dev/null 2>&1 || kubectl create namespace "$NAMESPACE"
if kubectl -n "$NAMESPACE" get secret seeder-secrets >/dev/null 2>&1; then
    echo "the Secrets of $NAMESPACE exist already: nothing to do"
    exit 0
fi

rabbit_password=$(password)
redis_password=$(password)
client_secret=$(password)
create rabbitmq-secrets username=ironvessel "password=$rabbit_password"
create redis-secrets "password=$redis_password"

amqp_url="amqp://ironvessel:$rabbit_password@rabbitmq:5672/%2f"
redis_url="redis://:$redis_password@redis:6379"
seeder_urls=()
# service:database pairs; order's database is called `orders`.
for pair in account:account inventory:inventory order:orders payment:payment; do
    service=${pair%%:*}
    database=${pair##*:}
    db_password=$(password)
    database_url="postgres://$database:$db_password@postgres-$database:5432/$database"
    create "postgres-$database" "password=$db_password"
    secrets=("database-url=$database_url" "amqp-url=$amqp_url" "redis-url=$redis_url")
    if [[ $service != inventory ]]; then
        secrets+=("idp-client-secret=$client_secret")
    fi
    create "$service-secrets" "${secrets[@]}"
    seeder_urls+=("$service-database-url=$database_url")
done

if [[ $ENVIRONMENT == dev ]]; then
    db_password=$(password)
    database_url="postgres://identity:$db_password@postgres-identity:5432/identity"
    create postgres-identity "password=$db_password"
    create identity-secrets "database-url=$database_url" "account-client-secret=$client_secret"
    seeder_urls+=("identity-database-url=$database_url")
else
    db_password=$(password)
    create postgres-keycloak "password=$db_password"
    create keycloak-secrets db-username=keycloak "db-password=$db_password" \
        admin-username=admin "admin-password=$(password)" "account-client-secret=$client_secret"
fi
create seeder-secrets "${seeder_urls[@]}"
