# llm-vault-apply: this project's apply job (push to main, one GitHub environment per stack).
#
# A ROOT-namespace policy, declared once per environment as llm-vault-apply-<environment>:
# the stack manages objects no token from inside the namespace can reach (the namespace
# itself, the audit device). Paths inside the environment are prefixed with "${ns}".
# It may manage what the stack declares and nothing else. Deliberately absent:
#   - reading or writing secret values (${kv_mount}/data/*): apply never needs them;
#   - deleting the namespace or unmounting the kv store: both destroy secrets; a human
#     admin does that on purpose (the stack protects them in staging and prod anyway);
#   - AppRole secret IDs: minting one would let CI log in as the model runner.
# Whoever manages roles and policies in a namespace can grant access within it: this
# token is short-lived and bound to a reviewed GitHub environment for that reason.

path "sys/namespaces/${namespace}" {
  capabilities = ["create", "read", "update", "patch"]
}

# Audit devices live in the root namespace; listing them needs sudo.
path "sys/audit" {
  capabilities = ["read", "sudo"]
}
path "sys/audit/${audit_path}" {
  capabilities = ["create", "read", "update", "delete", "sudo"]
}

path "${ns}sys/mounts" {
  capabilities = ["read"]
}
path "${ns}sys/mounts/${kv_mount}" {
  capabilities = ["create", "read", "update"]
}
path "${ns}sys/mounts/${kv_mount}/tune" {
  capabilities = ["create", "read", "update"]
}
path "${ns}${kv_mount}/config" {
  capabilities = ["create", "read", "update"]
}
# Metadata records of the catalogue (owner, rotation period). Not delete: that removes every version.
path "${ns}${kv_mount}/metadata/*" {
  capabilities = ["create", "read", "update", "list"]
}

path "${ns}sys/auth" {
  capabilities = ["read"]
}
path "${ns}sys/auth/${jwt_path}" {
  capabilities = ["create", "read", "update", "delete", "sudo"]
}
path "${ns}sys/auth/${jwt_path}/tune" {
  capabilities = ["create", "read", "update"]
}
path "${ns}sys/auth/${approle_path}" {
  capabilities = ["create", "read", "update", "delete", "sudo"]
}
path "${ns}sys/auth/${approle_path}/tune" {
  capabilities = ["create", "read", "update"]
}
path "${ns}auth/${jwt_path}/config" {
  capabilities = ["create", "read", "update"]
}
# Exact names, generated from the declared objects (infra.config.declared_grants): no globs
# where the names are known, so the apply token cannot add a role or a policy of its own.
${jwt_role_grants}
# "+" is one path segment: the role itself, not its secret-id endpoints below it.
path "${ns}auth/${approle_path}/role" {
  capabilities = ["list"]
}
${approle_role_grants}
path "${ns}auth/${approle_path}/role/+/secret-id" {
  capabilities = ["deny"]
}
path "${ns}auth/${approle_path}/role/+/custom-secret-id" {
  capabilities = ["deny"]
}
${token_role_grants}
${policy_grants}
# Not "default": every token of the environment carries it (the model runner's included), and
# the stack does not manage it. Not granted above; the deny stays in case a glob comes back.
path "${ns}sys/policies/acl/default" {
  capabilities = ["deny"]
}

# The pipeline's own trust (this backend, its roles, these policies): read only, so that a
# refresh sees it and CI can never widen its own access; an admin applies changes to it.
path "sys/auth/${pipeline_path}" {
  capabilities = ["read", "sudo"]
}
path "sys/auth/${pipeline_path}/tune" {
  capabilities = ["read"]
}
path "auth/${pipeline_path}/config" {
  capabilities = ["read"]
}
path "auth/${pipeline_path}/role/*" {
  capabilities = ["read", "list"]
}
path "sys/policies/acl/llm-vault-preview-${environment}" {
  capabilities = ["read"]
}
path "sys/policies/acl/llm-vault-apply-${environment}" {
  capabilities = ["read"]
}
