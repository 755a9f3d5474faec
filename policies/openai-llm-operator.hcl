# openai-llm-operator: a human (or rotation job) who maintains this environment's secrets.
#
# May write new versions (rotation), read, list, soft-delete and undelete versions, and edit
# secret metadata. May NOT destroy versions or delete a secret's metadata: both lose data for
# good, and permanent loss is an admin decision. No sys/: operators do not reconfigure the server.

# Write new versions (create/update/patch: a patch is a partial write, also a new version),
# read them, and soft-delete the latest version (DELETE on data/ is recoverable via undelete/).
path "${kv_mount}/data/*" {
  capabilities = ["create", "read", "update", "patch", "delete"]
}

# Read and edit metadata (max_versions, custom_metadata, delete_version_after) and list names.
# "create" too, so metadata can be set before the first version is written. No "delete":
# DELETE on metadata/ removes every version and the key itself, irrecoverably.
path "${kv_mount}/metadata/*" {
  capabilities = ["create", "read", "update", "list"]
}

# Soft-delete given versions (recoverable).
path "${kv_mount}/delete/*" {
  capabilities = ["update"]
}

# Restore soft-deleted versions.
path "${kv_mount}/undelete/*" {
  capabilities = ["update"]
}

# Explicit, although nothing above grants it: destroy is permanent, and a deny here also
# wins over any broader grant a future policy on the same token might add.
path "${kv_mount}/destroy/*" {
  capabilities = ["deny"]
}

# Mint read-only child tokens for processes that only consume secrets. Only through the token
# role (${token_role}: the stack's shortLivedTokens.role, "openai-llm-readonly" unless the stack
# renames it), whose allowed_policies pin the child to openai-llm-readonly; plain
# auth/token/create and create-orphan stay denied (a child could otherwise carry any of the
# operator's policies or outlive the operator's token).
path "auth/token/create/${token_role}" {
  capabilities = ["update"]
}
