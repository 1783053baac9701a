#!/bin/sh
# One-shot and idempotent (docker-compose runs it at every `up`, before the platform starts):
# initialize OpenBao the first time, then make sure the KV v2 engine, the platform's policy and
# the platform's AppRole login (VAULT_ROLE_ID and VAULT_SECRET_ID from deploy/.env) exist. The root token stays in the
# `openbao-init` volume, which only this container mounts; nothing is printed.
set -eu
: "${VAULT_ROLE_ID:?set VAULT_ROLE_ID in deploy/.env}"
: "${VAULT_SECRET_ID:?set VAULT_SECRET_ID in deploy/.env}"
export BAO_ADDR="${BAO_ADDR:-http://openbao:8200}"
STATE="${BAO_INIT_STATE:-/openbao/init/init.json}"
MOUNT="${VAULT_MOUNT:-secret}"
PREFIX="${VAULT_PATH_PREFIX:-agent-platform}"

# `bao status`: 0 unsealed, 2 sealed, 1 cannot tell (not up yet).
wait_for() {
  want="$1"
  tries=0
  while :; do
    code=0
    bao status >/dev/null 2>&1 || code=$?
    if [ "$code" = "$want" ] || { [ "$want" = 2 ] && [ "$code" = 0 ]; }; then
      return 0
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then
      echo "error: OpenBao at $BAO_ADDR did not answer (status $code) within 60 s" >&2
      exit 1
    fi
    sleep 1
  done
}

wait_for 2  # answering, sealed or not
if bao status -format=json 2>/dev/null | grep -q '"initialized": *false'; then
  umask 077
  bao operator init -recovery-shares=1 -recovery-threshold=1 -format=json >"$STATE.tmp"
  mv "$STATE.tmp" "$STATE"
  echo "OpenBao initialized (root token and recovery key kept in the openbao-init volume)"
fi
wait_for 0  # the static seal unseals it by itself

BAO_TOKEN="$(sed -n 's/.*"root_token": *"\([^"]*\)".*/\1/p' "$STATE")"
if [ -z "$BAO_TOKEN" ]; then
  echo "error: no root token in $STATE" >&2
  exit 1
fi
export BAO_TOKEN

bao secrets list -format=json | grep -q "\"$MOUNT/\"" \
  || bao secrets enable -path="$MOUNT" kv-v2 >/dev/null
bao policy write agent-platform - >/dev/null <<POLICY
path "$MOUNT/data/$PREFIX/*" { capabilities = ["create", "read", "update"] }
path "$MOUNT/metadata/$PREFIX/*" { capabilities = ["read", "list", "delete"] }
POLICY
bao auth list -format=json | grep -q '"approle/"' || bao auth enable approle >/dev/null
# Short tokens, renewed by the platform; after the max TTL it logs in again with the secret id.
bao write auth/approle/role/agent-platform token_policies=agent-platform token_ttl=1h \
  token_max_ttl=24h secret_id_ttl=0 secret_id_num_uses=0 >/dev/null
bao write auth/approle/role/agent-platform/role-id role_id="$VAULT_ROLE_ID" >/dev/null
if ! bao write auth/approle/login role_id="$VAULT_ROLE_ID" secret_id="$VAULT_SECRET_ID" \
  >/dev/null 2>&1; then
  bao write auth/approle/role/agent-platform/custom-secret-id secret_id="$VAULT_SECRET_ID" \
    >/dev/null
fi
echo "OpenBao ready: KV v2 at $MOUNT/, policy and AppRole agent-platform in place"
