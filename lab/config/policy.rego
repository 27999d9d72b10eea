# MCP Airlock lab policy (Rego v1), queried as data.airlock.authz.allow.
#
# Input (what Airlock really sends): sub, tenant, groups, tool, resource,
# method, headers; optionally virtual_uri, real_path, root_type, read_only,
# operation. Only a boolean true allows.
package airlock.authz

import rego.v1

default allow := false

user_tools := {"search_docs", "read_file"}

admin_tools := {"admin_exec", "rotate_keys"}

discovery_methods := {"tools/list", "resources/list", "prompts/list", "prompts/get", "completion/complete", "ping"}

is_admin if "airlock-admins" in input.groups

is_user if "mcp-users" in input.groups

is_user if is_admin

allow if rule_id != "default_deny"

# The rule that decided, recorded as rule_id in policy_evaluate audit events
# and in airlock_policy_decisions_total.
rule_id := "discovery" if {
	is_user
	input.method in discovery_methods
} else := "user_tool" if {
	is_user
	input.method == "tools/call"
	input.tool in user_tools
} else := "admin_tool" if {
	is_admin
	input.method == "tools/call"
	input.tool in admin_tools
} else := "docs_read" if {
	is_user
	input.method == "resources/read"
	startswith(input.resource, "mcp://docs/")
} else := "default_deny"
