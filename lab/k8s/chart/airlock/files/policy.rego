package airlock.authz

import rego.v1

default allow := false

allow if {
	input.groups[_] == "mcp.users"
}
