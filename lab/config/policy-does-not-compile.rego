package airlock.authz

import rego.v1

# Broken on purpose (lab/k8s/drill.sh broken-policy syntax): an unclosed rule body,
# so the module does not compile.
default allow := false

allow if {
    input.groups[_] == "mcp-users"
