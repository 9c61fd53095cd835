# Secrets only by reference.
# Passwords, keys and tokens live in Secrets that exist in the cluster; manifests only name them.
# A literal value under a password-, secret-, key- or token-like name in a ConfigMap, in a
# container's env, or in a properties/conf file (Trino catalogs, spark-defaults.conf) is secret
# material in git, and so is a rendered Secret that carries data.
package main

import data.lib.kubernetes as k8s

# METADATA
# title: No plaintext secret material
# custom:
#   severity: failure
deny_plaintext_secret contains msg if {
	some c in k8s.input_containers
	some e in object.get(c.container, "env", [])
	secret_like(e.name)
	literal(object.get(e, "value", ""))
	msg := sprintf("%s: %s sets env %s to a literal value: use valueFrom.secretKeyRef with an existing Secret", [k8s.name(input), k8s.container_name(c), e.name])
}

deny_plaintext_secret contains msg if {
	input.kind == "ConfigMap"
	some key, value in object.get(input, "data", {})
	not contains(value, "\n") # a file: its lines are checked below
	secret_like(key)
	literal(value)
	msg := sprintf("%s: data key %q holds a literal secret: move it to a Secret and reference it", [k8s.name(input), key])
}

deny_plaintext_secret contains msg if {
	input.kind == "ConfigMap"
	some file, content in object.get(input, "data", {})
	# A file, or a line, none of whose text is secret-like cannot hold a secret-like key (lower
	# maps rune by rune, so a lowered line is the line's key lowered and more). Matching the whole
	# file, then the line, spares the two regular expressions of setting on most lines: a
	# dashboard's JSON has hundreds and none is a setting.
	lowered := lower(content)
	has_secret_word(lowered)
	lowered_lines := split(lowered, "\n")
	some i, line in split(content, "\n")
	regex.match(secret_words_pattern, lowered_lines[i])
	[key, value] := setting(line)
	secret_like(key)
	literal(value)
	msg := sprintf("%s: %s sets %s to a literal value: use a placeholder such as ${ENV:NAME} fed from a Secret", [k8s.name(input), file, key])
}

deny_plaintext_secret contains msg if {
	input.kind == "Secret"
	some field in ["data", "stringData"]
	count(object.get(input, field, {})) > 0
	msg := sprintf("%s: the manifest carries secret %s: create the Secret outside git (e.g. an external secret store) and reference it by name", [k8s.name(input), field])
}

# A setting line: `key=value`, `key: value` (properties, YAML, JSON) or `key value` (Spark conf).
setting(line) := [key, trim_value(value)] if {
	not regex.match(`^\s*([#!]|//)`, line)
	m := regex.find_all_string_submatch_n(`^\s*"?([A-Za-z0-9_.\-]+)"?\s*(?:[=:]|\s)\s*(.*?)\s*,?\s*$`, line, 1)
	[_, key, value] := m[0]
}

trim_value(v) := trim(v, "\"'")

# Names that hold secret material. The last segment rules out names that only refer to one
# (password-authenticator.name, security.config-file, secretName).
secret_like(name) if {
	n := lower(name)
	regex.match(secret_words_pattern, n)
	not reference_name(n)
}

# has_secret_word: the text contains one of secret_words (a whole file: contains scans a long
# text much faster than a regular expression does).
has_secret_word(text) if {
	some word in secret_words
	contains(text, word)
}

# secret_words_pattern matches a text that contains one of secret_words: one regular expression
# instead of a contains per word on short texts (names, lines). A test holds it equal to the set.
secret_words_pattern := `password|passwd|secret|token|credential|apikey|api-key|api_key|api\.key|accesskey|access-key|access_key|access\.key|privatekey|private-key|private_key|private\.key|keystore\.key`

secret_words := {
	"password", "passwd", "secret", "token", "credential", "apikey", "api-key", "api_key", "api.key",
	"accesskey", "access-key", "access_key", "access.key", "privatekey", "private-key", "private_key",
	"private.key", "keystore.key",
}

reference_name(n) if {
	some suffix in {"name", "file", "path", "dir", "ref", "type", "enabled", "provider", "class", "mode", "uri", "url", "secretname", "header", "ttl", "refresh-period"}
	endswith(n, suffix)
}

# A literal is a non-empty value that is not a placeholder resolved at run time.
literal(v) if {
	is_string(v)
	trim_space(v) != ""
	not placeholder(v)
}

placeholder(v) if regex.match(`^\s*(\$\{[^}]+\}|\$\([^)]+\)|\{\{.*\}\}|[\[{|>].*)\s*$`, v)
