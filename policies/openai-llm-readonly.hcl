# openai-llm-readonly: the policy carried by short-lived child tokens (minted through the
# token role "openai-llm-readonly" by operators and model runners) for processes that only
# consume secrets.
#
# Same grants as openai-llm-ci today, kept as its own policy on purpose: its holders are
# different (child tokens, not CI logins), and tightening one must not silently change the other.
# No write, no delete, no token creation, no sys/.

# Read any secret of this environment.
path "${kv_mount}/data/*" {
  capabilities = ["read"]
}

# List secret names (LIST only; no version history or custom metadata).
path "${kv_mount}/metadata/*" {
  capabilities = ["list"]
}
