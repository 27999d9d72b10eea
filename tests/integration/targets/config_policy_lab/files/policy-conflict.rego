# Compiles (opa check passes) and answers every known request, but any
# evaluation of the whole data.airlock.authz package with an input that has
# neither sub nor tool is an eval_conflict_error. The lab's documented build
# loads policies that way and reports /ready 503 (checks.policy unhealthy):
# the module must restore the previous policy.
package airlock.authz

import rego.v1

default allow := false

user_tools := {"search_docs", "read_file"}

is_user if "mcp-users" in input.groups

allow if {
	is_user
	input.method == "tools/call"
	input.tool in user_tools
}

mode := "anonymous" if not input.sub

mode := "no-tool" if not input.tool
