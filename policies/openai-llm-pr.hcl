# openai-llm-pr: what a pull request's CI job may read. A pull request's workflow file is written
# by the pull request's author, so whatever this grants, anyone who can push a branch gets.
#
# Only the fixtures subtree, which holds test data and never a real credential; the loader refuses
# a pull-request binding to any policy that reads other secret values, or that writes anything,
# and protected stacks (staging, prod) mark no subtree as non-production, so there this policy
# cannot be bound to a pull request at all.

path "${kv_mount}/data/fixtures/*" {
  capabilities = ["read"]
}

path "${kv_mount}/metadata/fixtures/*" {
  capabilities = ["list"]
}
