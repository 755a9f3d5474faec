# openai-llm-ci: what a GitHub Actions job of this environment may do with its token.
#
# Lives in the environment's namespace, so "${kv_mount}/..." can only ever mean this
# environment's secrets; other environments' mounts are not named and therefore denied.
# Deliberately absent (the previous setup's CI policy had some of these):
#   - any write, soft-delete, undelete or destroy: CI consumes secrets, operators change them;
#   - auth/token/create*: a CI token that can mint tokens can outlive its job (the old hole);
#   - sys/*: CI never reconfigures the server.

# Read the current (or a given) version of any secret of this environment.
path "${kv_mount}/data/*" {
  capabilities = ["read"]
}

# List secret names, so a job can discover what exists. LIST only: the version history and
# custom metadata (GET on metadata/) are none of CI's business.
path "${kv_mount}/metadata/*" {
  capabilities = ["list"]
}
