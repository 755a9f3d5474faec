# model-runner: a service that calls the LLM API. It needs the API keys and the per-model
# settings, nothing else of this environment: exact paths, no globs above models/.
#
# No list (it knows the names it needs), no metadata, no write, no sys/, and no token
# creation: a child from the openai-llm-readonly token role would read every secret of the
# environment, more than the runner itself may read (least privilege wins over convenience;
# a runner's workers share its AppRole login instead).

# The provider API keys. Exact path: "api-keys-old" or "api-keys/x" are not granted.
path "${kv_mount}/data/api-keys" {
  capabilities = ["read"]
}

# Per-model settings, one secret per model under models/.
path "${kv_mount}/data/models/*" {
  capabilities = ["read"]
}
