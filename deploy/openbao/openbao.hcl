# OpenBao for docker-compose: one node, data on the `openbao-data` volume, unsealed at every
# start with the static key BAO_STATIC_KEY (64 hex characters, from deploy/.env), so a restart
# needs no person. Plain HTTP on the compose network only; the port is not published.
ui            = false
api_addr      = "http://openbao:8200"
cluster_addr  = "http://openbao:8201"

storage "raft" {
  path    = "/openbao/file"
  node_id = "openbao-1"
}

listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true
}

seal "static" {
  current_key_id = "compose-1"
  current_key    = "env://BAO_STATIC_KEY"
}
