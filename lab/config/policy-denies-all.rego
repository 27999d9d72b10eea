# The project's sample mistake, kept as a drill: this module compiles, but it
# reads input.path and input.token.sub, keys the Airlock policy engine never
# sends (the real input has sub, tenant, groups, tool, resource, method,
# headers). Every rule body is undefined, so data.airlock.authz.allow is
# false for every request: validating syntax is not enough, a policy check
# must evaluate known requests and compare decisions.
package airlock.authz

import rego.v1

default allow := false

allow if {
	input.token.sub != ""
	startswith(input.path, "/mcp")
}

allow if {
	"admin" in input.token.groups
}
