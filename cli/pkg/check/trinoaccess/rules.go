package trinoaccess

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The semantics below follow Trino's file-based system access control as documented in
// docs/src/main/sphinx/security/file-system-access-control.md and implemented in
// lib/trino-plugin-toolkit/src/main/java/io/trino/plugin/base/security/
// FileBasedSystemAccessControl.java and FileBasedSystemAccessControlModule.java (trinodb/trino,
// the releases the chart pins, 482 and 483):
//   - each section is read top to bottom and the first rule whose user, role and group patterns
//     match decides; a pattern must match the whole name (Java Matcher.matches); a group pattern
//     matches when one of the user's groups matches, so it never matches a user without groups;
//   - nothing matching means denied;
//   - an absent section has a default: catalogs, schemas and tables allow everything, queries allow
//     everything, system information denies everything, impersonation is denied unless legacy
//     principal rules exist; an empty section ([]) denies everything;
//   - when a catalogs section exists, Trino appends a rule giving every user "all" on the
//     "system" catalog;
//   - table privileges are checked after catalog access: SELECT needs the catalog at least
//     read-only, every other privilege needs "all"; information_schema is never restricted.

// Access is a catalog rule's allow value.
type Access int

// Catalog access levels, weakest first.
const (
	AccessNone Access = iota
	AccessReadOnly
	AccessAll
)

func (a Access) String() string {
	return [...]string{"none", "read-only", "all"}[a]
}

// pattern is an optional Trino regular expression, matched against a whole name.
type pattern struct {
	src string
	re  *regexp.Regexp
}

func (p *pattern) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	re, err := regexp.Compile(`^(?:` + s + `)$`)
	if err != nil {
		return fmt.Errorf("pattern %q: %w", s, err)
	}
	p.src, p.re = s, re
	return nil
}

// matches is true for an absent pattern (Trino's default ".*").
func (p *pattern) matches(s string) bool { return p == nil || p.re.MatchString(s) }

// matchesAny: a present pattern needs one of names to match.
func (p *pattern) matchesAny(names []string) bool {
	if p == nil {
		return true
	}
	return slices.ContainsFunc(names, p.re.MatchString)
}

// identity are the user, role and group patterns every rule kind shares.
type identity struct {
	User  *pattern `json:"user"`
	Role  *pattern `json:"role"`
	Group *pattern `json:"group"`
}

func (i identity) matches(p Principal) bool {
	return i.User.matches(p.User) && i.Role.matchesAny(p.Roles) && i.Group.matchesAny(p.Groups)
}

// CatalogRule is an entry of "catalogs".
type CatalogRule struct {
	identity
	Catalog *pattern        `json:"catalog"`
	Allow   json.RawMessage `json:"allow"`
	access  Access
}

// SchemaRule is an entry of "schemas".
type SchemaRule struct {
	identity
	Catalog *pattern `json:"catalog"`
	Schema  *pattern `json:"schema"`
	Owner   bool     `json:"owner"`
}

// TableRule is an entry of "tables" (column constraints and filters do not change which
// privileges a rule grants, so they are not modelled).
type TableRule struct {
	identity
	Catalog    *pattern        `json:"catalog"`
	Schema     *pattern        `json:"schema"`
	Table      *pattern        `json:"table"`
	Privileges []string        `json:"privileges"`
	Columns    json.RawMessage `json:"columns"`
	Filter     json.RawMessage `json:"filter"`
	FilterEnv  json.RawMessage `json:"filter_environment"`
}

// QueryRule is an entry of "queries".
type QueryRule struct {
	identity
	QueryOwner *pattern `json:"queryOwner"`
	Allow      []string `json:"allow"`
}

// ImpersonationRule is an entry of "impersonation".
type ImpersonationRule struct {
	OriginalUser *pattern `json:"original_user"`
	OriginalRole *pattern `json:"original_role"`
	NewUser      string   `json:"new_user"`
	Allow        *bool    `json:"allow"`
}

// SystemInformationRule is an entry of "system_information" (user and role only: Trino does not
// match groups here).
type SystemInformationRule struct {
	User  *pattern `json:"user"`
	Role  *pattern `json:"role"`
	Allow []string `json:"allow"`
}

// SessionPropertyRule is an entry of "catalog_session_properties"; it only matters here because
// an allowing rule makes a catalog visible.
type SessionPropertyRule struct {
	identity
	Catalog  *pattern `json:"catalog"`
	Property *pattern `json:"property"`
	Allow    bool     `json:"allow"`
}

// Rules is a parsed rules.json. A nil section is an absent one.
type Rules struct {
	Catalogs          *[]CatalogRule           `json:"catalogs"`
	Schemas           *[]SchemaRule            `json:"schemas"`
	Tables            *[]TableRule             `json:"tables"`
	Queries           *[]QueryRule             `json:"queries"`
	Impersonation     *[]ImpersonationRule     `json:"impersonation"`
	Principals        *[]json.RawMessage       `json:"principals"`
	SystemInformation *[]SystemInformationRule `json:"system_information"`
	CatalogSession    *[]SessionPropertyRule   `json:"catalog_session_properties"`
	SystemSession     *[]json.RawMessage       `json:"system_session_properties"`
	Functions         *[]json.RawMessage       `json:"functions"`
	Procedures        *[]json.RawMessage       `json:"procedures"`
	Authorization     *[]json.RawMessage       `json:"authorization"`
}

// ParseRules reads a rules.json; unknown sections and keys, bad patterns and bad allow values are
// errors.
func ParseRules(data []byte) (*Rules, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Rules
	if err := dec.Decode(&r); err != nil {
		return nil, err
	}
	if r.Catalogs != nil {
		for i := range *r.Catalogs {
			c := &(*r.Catalogs)[i]
			a, err := parseAccess(c.Allow)
			if err != nil {
				return nil, fmt.Errorf("catalogs[%d].allow: %w", i, err)
			}
			c.access = a
		}
	}
	if r.Impersonation != nil {
		for i, ir := range *r.Impersonation {
			if ir.NewUser == "" {
				return nil, fmt.Errorf("impersonation[%d]: new_user is required", i)
			}
		}
	}
	return &r, nil
}

func parseAccess(raw json.RawMessage) (Access, error) {
	if len(raw) == 0 {
		return AccessNone, nil // Trino's default
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		if b {
			return AccessAll, nil
		}
		return AccessNone, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("%s is neither a string nor a boolean", raw)
	}
	switch s {
	case "all":
		return AccessAll, nil
	case "read-only":
		return AccessReadOnly, nil
	case "none":
		return AccessNone, nil
	}
	return 0, fmt.Errorf("%q: use all, read-only or none", s)
}

// Principal is who asks: a user, the groups the group provider gives it, its enabled roles.
type Principal struct {
	User   string
	Groups []string
	Roles  []string
}

// Decision is the outcome of one access check, with the reason in Trino's terms.
type Decision struct {
	Allowed bool
	Reason  string
}

func allow(format string, a ...any) Decision { return Decision{true, fmt.Sprintf(format, a...)} }
func deny(format string, a ...any) Decision  { return Decision{false, fmt.Sprintf(format, a...)} }

// catalogAccess is the access the first matching catalog rule gives, with Trino's implicit
// "system" rule appended.
func (r *Rules) catalogAccess(p Principal, catalog string) (Access, string) {
	if r.Catalogs == nil {
		return AccessAll, "no catalogs section: every catalog is allowed"
	}
	for i, c := range *r.Catalogs {
		if c.identity.matches(p) && c.Catalog.matches(catalog) {
			return c.access, fmt.Sprintf("catalogs[%d] gives %q on catalog %q", i, c.access, catalog)
		}
	}
	if catalog == "system" {
		return AccessAll, "Trino's implicit rule gives every user all on the system catalog"
	}
	return AccessNone, fmt.Sprintf("no catalogs rule matches catalog %q: denied", catalog)
}

// tableRule returns the index of the first matching table rule, -1 for none, and whether the
// section is absent.
func (r *Rules) tableRule(p Principal, catalog, schema, table string) (TableRule, int, bool) {
	if r.Tables == nil {
		return TableRule{Privileges: []string{"SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP", "GRANT_SELECT"}}, -1, true
	}
	for i, t := range *r.Tables {
		if t.identity.matches(p) && t.Catalog.matches(catalog) && t.Schema.matches(schema) && t.Table.matches(table) {
			return t, i, false
		}
	}
	return TableRule{}, -1, false
}

// TablePrivilege decides SELECT, INSERT, DELETE, UPDATE or OWNERSHIP on catalog.schema.table
// (FileBasedSystemAccessControl.checkTablePermission and checkCanSelectFromColumns).
func (r *Rules) TablePrivilege(p Principal, privilege, catalog, schema, table string) Decision {
	need := AccessAll
	if privilege == "SELECT" {
		need = AccessReadOnly
	}
	got, why := r.catalogAccess(p, catalog)
	if got < need {
		return deny("%s, %s needs %q", why, privilege, need)
	}
	if schema == "information_schema" {
		return allow("information_schema is not restricted by table rules")
	}
	rule, i, absent := r.tableRule(p, catalog, schema, table)
	switch {
	case absent:
		return allow("%s and no tables section: every privilege is granted", why)
	case i < 0:
		return deny("%s, but no tables rule matches %s.%s.%s: denied", why, catalog, schema, table)
	}
	granted := slices.Contains(rule.Privileges, privilege) || (privilege == "SELECT" && slices.Contains(rule.Privileges, "GRANT_SELECT"))
	if !granted {
		return deny("%s, and the first matching rule tables[%d] grants %v, not %s", why, i, rule.Privileges, privilege)
	}
	return allow("%s, and tables[%d] grants %s", why, i, privilege)
}

// ShowSchemas decides SHOW SCHEMAS in a catalog: the catalog at least read-only and some rule
// giving the user a permission inside it (checkAnyCatalogAccess).
func (r *Rules) ShowSchemas(p Principal, catalog string) Decision {
	got, why := r.catalogAccess(p, catalog)
	if got < AccessReadOnly {
		return deny("%s", why)
	}
	if r.anyPermission(p, catalog, nil) {
		return allow("%s, and a schemas, tables or session property rule gives a permission in it", why)
	}
	return deny("%s, but no schemas, tables or catalog_session_properties rule gives the user a permission in catalog %q", why, catalog)
}

// ShowTables decides SHOW TABLES in a schema (checkAnySchemaAccess).
func (r *Rules) ShowTables(p Principal, catalog, schema string) Decision {
	got, why := r.catalogAccess(p, catalog)
	if got < AccessReadOnly {
		return deny("%s", why)
	}
	if r.anyPermission(p, catalog, &schema) {
		return allow("%s, and a schemas or tables rule gives a permission in %s.%s", why, catalog, schema)
	}
	return deny("%s, but no schemas or tables rule gives the user a permission in %s.%s", why, catalog, schema)
}

// anyPermission mirrors Trino's AnyCatalogPermissionsRule / AnyCatalogSchemaPermissionsRule sets:
// schema rules that make the user owner, table rules with privileges, and (catalog level only)
// allowing catalog session property rules; absent sections contribute their allow-all default.
func (r *Rules) anyPermission(p Principal, catalog string, schema *string) bool {
	schemaOK := func(pt *pattern) bool { return schema == nil || pt.matches(*schema) }
	if r.Schemas == nil {
		return true
	}
	for _, s := range *r.Schemas {
		if s.Owner && s.identity.matches(p) && s.Catalog.matches(catalog) && schemaOK(s.Schema) {
			return true
		}
	}
	if r.Tables == nil {
		return true
	}
	for _, t := range *r.Tables {
		if len(t.Privileges) > 0 && t.identity.matches(p) && t.Catalog.matches(catalog) && schemaOK(t.Schema) {
			return true
		}
	}
	if schema != nil {
		return false
	}
	if r.CatalogSession == nil {
		return true
	}
	for _, s := range *r.CatalogSession {
		if s.Allow && s.identity.matches(p) && s.Catalog.matches(catalog) {
			return true
		}
	}
	return false
}

// TableProcedure decides ALTER TABLE ... EXECUTE (optimize, expire_snapshots,
// remove_orphan_files). Trino 483's file-based system access control has no rules for table
// procedures: its checkCanExecuteTableProcedure allows (trinodb/trino#22874; rules for them are
// proposed in trinodb/trino#30875). The table must still be reachable, so this requires the
// catalog at least read-only, which is the conservative reading.
func (r *Rules) TableProcedure(p Principal, catalog string) Decision {
	got, why := r.catalogAccess(p, catalog)
	if got < AccessReadOnly {
		return deny("%s", why)
	}
	return allow("%s; file-based access control does not restrict table procedures in this Trino release", why)
}

// KillQuery decides killing a query owned by owner (checkCanKillQueryOwnedBy); users may always
// kill their own queries.
func (r *Rules) KillQuery(p Principal, owner string) Decision {
	if owner == p.User {
		return allow("users may always kill their own queries")
	}
	if r.Queries == nil {
		return allow("no queries section: every user may view and kill every query")
	}
	for i, q := range *r.Queries {
		if q.identity.matches(p) && q.QueryOwner.matches(owner) {
			if slices.Contains(q.Allow, "kill") {
				return allow("queries[%d] allows kill", i)
			}
			return deny("the first matching rule queries[%d] allows %v, not kill", i, q.Allow)
		}
	}
	return deny("no queries rule matches: denied")
}

// SystemInformation decides read or write access to system information; write is what
// triggering graceful shutdown needs.
func (r *Rules) SystemInfo(p Principal, mode string) Decision {
	if r.SystemInformation == nil {
		return deny("no system_information section: all system information access is denied")
	}
	for i, s := range *r.SystemInformation {
		if s.User.matches(p.User) && s.Role.matchesAny(p.Roles) {
			if slices.Contains(s.Allow, mode) {
				return allow("system_information[%d] allows %s", i, mode)
			}
			return deny("the first matching rule system_information[%d] allows %v, not %s", i, s.Allow, mode)
		}
	}
	return deny("no system_information rule matches user %q: denied", p.User)
}

// Impersonate decides whether the principal may run queries as newUser.
func (r *Rules) Impersonate(p Principal, newUser string) Decision {
	if r.Impersonation == nil {
		if r.Principals != nil {
			return allow("no impersonation section but legacy principals rules: impersonation is left to them")
		}
		return deny("no impersonation section: impersonation is denied")
	}
	for i, ir := range *r.Impersonation {
		if !ir.OriginalUser.matches(p.User) || !ir.OriginalRole.matchesAny(p.Roles) {
			continue
		}
		target := ir.NewUser
		if ir.OriginalUser != nil {
			m := ir.OriginalUser.re.FindStringSubmatch(p.User)
			for g := len(m) - 1; g >= 1; g-- {
				target = strings.ReplaceAll(target, fmt.Sprintf("$%d", g), regexp.QuoteMeta(m[g]))
			}
		}
		re, err := regexp.Compile(`^(?:` + target + `)$`)
		if err != nil || !re.MatchString(newUser) {
			continue
		}
		if ir.Allow == nil || *ir.Allow {
			return allow("impersonation[%d] allows it", i)
		}
		return deny("the first matching rule impersonation[%d] denies it", i)
	}
	return deny("no impersonation rule matches: denied")
}

// DefaultDecision is Trino's "default" system access control, in force when a node has no
// access-control.properties: everything is allowed except impersonation and triggering graceful
// shutdown (security/built-in-system-access-control.md).
func DefaultDecision(action string) Decision {
	switch action {
	case ActionImpersonate:
		return deny("no access-control.properties: Trino's default access control denies impersonation")
	case ActionWriteSystemInformation:
		return deny("no access-control.properties: Trino's default access control denies writing system information (graceful shutdown)")
	}
	return allow("no access-control.properties: Trino's default access control allows it")
}
