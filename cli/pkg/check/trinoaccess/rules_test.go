package trinoaccess

import (
	"testing"
)

// TestRulesSemantics pins the evaluator to Trino's documented semantics of file-based system
// access control: docs/src/main/sphinx/security/file-system-access-control.md (trinodb/trino, the
// 482/483 documentation) and the implementation it describes,
// lib/trino-plugin-toolkit/src/main/java/io/trino/plugin/base/security/FileBasedSystemAccessControl.java
// and FileBasedSystemAccessControlModule.java. Each case names the sentence or code it checks.
func TestRulesSemantics(t *testing.T) {
	alice := Principal{User: "alice"}
	reader := Principal{User: "bob", Groups: []string{"risk-readers"}}
	cases := []struct {
		name  string
		rules string
		check func(r *Rules) Decision
		want  bool
	}{
		{
			"first matching catalog rule wins (\"the first matching rule is applied\")",
			`{"catalogs":[{"user":"alice","catalog":"iceberg","allow":"none"},{"catalog":"iceberg","allow":"all"}]}`,
			func(r *Rules) Decision { return r.TablePrivilege(alice, "SELECT", "iceberg", "risk", "t") },
			false,
		},
		{
			"no matching catalog rule denies (\"If no rule matches, access is denied\")",
			`{"catalogs":[{"user":"maintenance","catalog":"iceberg","allow":"all"}]}`,
			func(r *Rules) Decision { return r.TablePrivilege(alice, "SELECT", "iceberg", "risk", "t") },
			false,
		},
		{
			"user patterns match the whole name (Matcher.matches)",
			`{"catalogs":[{"user":"ali","catalog":"iceberg","allow":"all"}]}`,
			func(r *Rules) Decision { return r.TablePrivilege(alice, "SELECT", "iceberg", "risk", "t") },
			false,
		},
		{
			"alternation in a user pattern",
			`{"catalogs":[{"user":"distribution|alice","allow":"all"}]}`,
			func(r *Rules) Decision { return r.TablePrivilege(alice, "INSERT", "iceberg", "risk", "t") },
			true,
		},
		{
			"a group rule needs one of the user's groups to match",
			`{"catalogs":[{"group":"risk-readers","catalog":"iceberg","allow":"read-only"}]}`,
			func(r *Rules) Decision { return r.TablePrivilege(reader, "SELECT", "iceberg", "risk", "t") },
			true,
		},
		{
			"a group rule never matches a user without groups (no group provider)",
			`{"catalogs":[{"group":"risk-readers","catalog":"iceberg","allow":"read-only"}]}`,
			func(r *Rules) Decision {
				return r.TablePrivilege(Principal{User: "bob"}, "SELECT", "iceberg", "risk", "t")
			},
			false,
		},
		{
			"read-only catalog access allows SELECT",
			`{"catalogs":[{"allow":"read-only"}]}`,
			func(r *Rules) Decision { return r.TablePrivilege(alice, "SELECT", "iceberg", "risk", "t") },
			true,
		},
		{
			"read-only catalog access blocks INSERT even with the table privilege (INSERT INTO needs catalog all)",
			`{"catalogs":[{"allow":"read-only"}],"tables":[{"privileges":["SELECT","INSERT"]}]}`,
			func(r *Rules) Decision { return r.TablePrivilege(alice, "INSERT", "iceberg", "risk", "t") },
			false,
		},
		{
			"legacy boolean allow true is all",
			`{"catalogs":[{"catalog":"iceberg","allow":true}]}`,
			func(r *Rules) Decision { return r.TablePrivilege(alice, "DELETE", "iceberg", "risk", "t") },
			true,
		},
		{
			"no rules at all grants access (\"If no rules are provided at all, then access is granted\")",
			`{}`,
			func(r *Rules) Decision { return r.TablePrivilege(alice, "OWNERSHIP", "iceberg", "risk", "t") },
			true,
		},
		{
			"an empty section denies (\"adding a section with an empty set of rules\")",
			`{"tables":[]}`,
			func(r *Rules) Decision { return r.TablePrivilege(alice, "SELECT", "iceberg", "risk", "t") },
			false,
		},
		{
			"the first matching table rule decides, even when a later one would grant",
			`{"tables":[{"user":"alice","privileges":["SELECT"]},{"privileges":["SELECT","INSERT"]}]}`,
			func(r *Rules) Decision { return r.TablePrivilege(alice, "INSERT", "iceberg", "risk", "t") },
			false,
		},
		{
			"table rules match catalog, schema and table patterns",
			`{"tables":[{"catalog":"iceberg","schema":"risk","table":"var_.*","privileges":["SELECT"]}]}`,
			func(r *Rules) Decision { return r.TablePrivilege(alice, "SELECT", "iceberg", "risk", "drc") },
			false,
		},
		{
			"information_schema is not restricted by table rules",
			`{"tables":[]}`,
			func(r *Rules) Decision {
				return r.TablePrivilege(alice, "SELECT", "iceberg", "information_schema", "tables")
			},
			true,
		},
		{
			"Trino appends all on the system catalog when a catalogs section exists",
			`{"catalogs":[{"catalog":"iceberg","allow":"all"}]}`,
			func(r *Rules) Decision { return r.TablePrivilege(alice, "SELECT", "system", "runtime", "nodes") },
			true,
		},
		{
			"an explicit system rule comes first and can deny it",
			`{"catalogs":[{"catalog":"system","allow":"none"}]}`,
			func(r *Rules) Decision { return r.TablePrivilege(alice, "SELECT", "system", "runtime", "nodes") },
			false,
		},
		{
			"no system_information section denies all system information (\"If no rules are specified, all access to system information is denied\")",
			`{"catalogs":[{"allow":"all"}]}`,
			func(r *Rules) Decision { return r.SystemInfo(Principal{User: "admin"}, "write") },
			false,
		},
		{
			"system_information write for the shutdown user (Write access to trigger graceful shutdown)",
			`{"system_information":[{"user":"admin","allow":["write"]}]}`,
			func(r *Rules) Decision { return r.SystemInfo(Principal{User: "admin"}, "write") },
			true,
		},
		{
			"system_information rules match users and roles, not groups",
			`{"system_information":[{"user":"admin","allow":["read"]}]}`,
			func(r *Rules) Decision { return r.SystemInfo(reader, "read") },
			false,
		},
		{
			"no queries section: anybody kills anybody's queries",
			`{"catalogs":[{"allow":"all"}]}`,
			func(r *Rules) Decision { return r.KillQuery(reader, "distribution") },
			true,
		},
		{
			"queries rules: the first matching rule's allow set",
			`{"queries":[{"user":"admin","allow":["execute","kill","view"]},{"allow":["execute"]}]}`,
			func(r *Rules) Decision { return r.KillQuery(reader, "distribution") },
			false,
		},
		{
			"users always kill their own queries",
			`{"queries":[{"allow":["execute"]}]}`,
			func(r *Rules) Decision { return r.KillQuery(reader, "bob") },
			true,
		},
		{
			"no impersonation and no principals sections: impersonation denied",
			`{}`,
			func(r *Rules) Decision { return r.Impersonate(alice, "admin") },
			false,
		},
		{
			"impersonation with a back-reference to original_user",
			`{"impersonation":[{"original_user":"team_(.*)","new_user":"team_$1_sandbox"}]}`,
			func(r *Rules) Decision {
				return r.Impersonate(Principal{User: "team_backend"}, "team_backend_sandbox")
			},
			true,
		},
		{
			"SHOW SCHEMAS needs the catalog and some permission inside it",
			`{"catalogs":[{"allow":"read-only"}],"schemas":[],"tables":[{"user":"bob","catalog":"iceberg","privileges":["SELECT"]}],"catalog_session_properties":[]}`,
			func(r *Rules) Decision { return r.ShowSchemas(alice, "iceberg") },
			false,
		},
		{
			"SHOW TABLES for a user with a table privilege in the schema",
			`{"catalogs":[{"allow":"read-only"}],"schemas":[],"tables":[{"user":"alice","catalog":"iceberg","schema":"risk","privileges":["SELECT"]}]}`,
			func(r *Rules) Decision { return r.ShowTables(alice, "iceberg", "risk") },
			true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRules([]byte(tc.rules))
			if err != nil {
				t.Fatal(err)
			}
			d := tc.check(r)
			if d.Allowed != tc.want {
				t.Errorf("allowed=%v, want %v (%s)", d.Allowed, tc.want, d.Reason)
			}
			if d.Reason == "" {
				t.Error("no reason given")
			}
		})
	}
}

func TestParseRulesRejects(t *testing.T) {
	for name, rules := range map[string]string{
		"unknown section":  `{"catalog":[{"allow":"all"}]}`,
		"bad allow":        `{"catalogs":[{"allow":"read-write"}]}`,
		"bad pattern":      `{"tables":[{"user":"(","privileges":[]}]}`,
		"unknown rule key": `{"tables":[{"usr":"alice","privileges":[]}]}`,
		"no new_user":      `{"impersonation":[{"original_user":"a"}]}`,
	} {
		if _, err := ParseRules([]byte(rules)); err == nil {
			t.Errorf("%s: accepted %s", name, rules)
		}
	}
}
