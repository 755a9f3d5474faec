# llm-vault-preview: this project's preview (pull requests) and drift (schedule) jobs.
#
# A ROOT-namespace policy, declared once per environment as llm-vault-preview-<environment>
# (see llm-vault-apply.hcl for why). Read-only: a refresh reads every object the stack
# declares, and nothing here can change one. No secret values (${kv_mount}/data/*), and no
# AppRole secret IDs.

path "sys/namespaces/${namespace}" {
  capabilities = ["read"]
}
# Reading the audit device table needs sudo; sudo on a read-only path grants no writes.
path "sys/audit" {
  capabilities = ["read", "sudo"]
}
path "${ns}sys/mounts" {
  capabilities = ["read"]
}
path "${ns}sys/mounts/${kv_mount}" {
  capabilities = ["read"]
}
path "${ns}sys/mounts/${kv_mount}/tune" {
  capabilities = ["read"]
}
path "${ns}${kv_mount}/config" {
  capabilities = ["read"]
}
path "${ns}${kv_mount}/metadata/*" {
  capabilities = ["read", "list"]
}
path "${ns}sys/auth" {
  capabilities = ["read"]
}
path "${ns}sys/auth/${jwt_path}" {
  capabilities = ["read", "sudo"]
}
path "${ns}sys/auth/${jwt_path}/tune" {
  capabilities = ["read"]
}
path "${ns}sys/auth/${approle_path}" {
  capabilities = ["read", "sudo"]
}
path "${ns}sys/auth/${approle_path}/tune" {
  capabilities = ["read"]
}
path "${ns}auth/${jwt_path}/config" {
  capabilities = ["read"]
}
path "${ns}auth/${jwt_path}/role/*" {
  capabilities = ["read", "list"]
}
path "${ns}auth/${approle_path}/role" {
  capabilities = ["list"]
}
path "${ns}auth/${approle_path}/role/+" {
  capabilities = ["read"]
}
# ${name_prefix} is "" in a namespace (everything there is this environment's) and "<tag>-" in
# the root layout (llm-vault:rootLayout), where other environments' policies and roles sit beside
# ours: ACL globs match prefixes, so this reaches this environment's names only.
path "${ns}auth/token/roles/${name_prefix}*" {
  capabilities = ["read", "list"]
}
path "${ns}sys/policies/acl/${name_prefix}*" {
  capabilities = ["read", "list"]
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
