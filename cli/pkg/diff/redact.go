package diff

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"strings"
)

// Hasher replaces secret values by a short salted hash (HMAC-SHA256 keyed by the salt, 10 hex
// digits), so that a reviewer sees that a value changed, and which key, never the value. Equal
// values hash equal within one run; with a per-run random salt, hashes cannot be compared across
// runs nor brute-forced from a published comment.
type Hasher struct {
	salt   []byte
	Source string // "random" (per run) or "flag" (--salt)
}

// NewHasher returns a hasher with the given salt, or a random per-run salt when salt is empty.
func NewHasher(salt string) (*Hasher, error) {
	if salt != "" {
		return &Hasher{salt: []byte(salt), Source: "flag"}, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generate a salt for secret hashes: %w", err)
	}
	return &Hasher{salt: b, Source: "random"}, nil
}

// Hash returns the redacted form of one value.
func (h *Hasher) Hash(value []byte) string {
	m := hmac.New(sha256.New, h.salt)
	m.Write(value)
	return "<redacted hmac:" + hex.EncodeToString(m.Sum(nil))[:10] + ">"
}

// secretKey matches keys whose values are credentials; secretKeyException spares the keys that
// merely name or point at one (secretName, password-file, tokenPath...).
var (
	secretKey          = regexp.MustCompile(`(?i)(passw(or)?d|passphrase|secret|token|api[-_.]?key|private[-_.]?key|access[-_.]?key|credential|auth[-_.]?key|session[-_.]?key|signing[-_.]?key|encryption[-_.]?key|(^|[^a-z])pwd($|[^a-z])|jwt)`)
	secretKeyException = regexp.MustCompile(`(?i)(name|names|ref|file|path|dir|mount|volume|provider|type|enabled|ttl|expir[a-z]*|length|secretkeyref|keyref)$`)
	// secretLine is "key = value" or "key: value" inside a configuration file held in a ConfigMap.
	secretLine = regexp.MustCompile(`^(\s*-?\s*"?([A-Za-z0-9_.\-/]+)"?\s*[=:]\s*)(.*?)(\s*)$`)
)

// SecretLikeKey says whether a key names a credential.
func SecretLikeKey(k string) bool {
	return secretKey.MatchString(k) && !secretKeyException.MatchString(k)
}

// redact returns a copy of an object's content with every secret value replaced by its hash: all
// of a Secret's data and stringData, ConfigMap keys that look like credentials (and such lines in
// the configuration files it holds), and env var values with credential-like names in any kind.
// The input is not modified.
func redact(group, kind string, content map[string]any, h *Hasher) map[string]any {
	out := deepCopy(content).(map[string]any)
	switch {
	case group == "" && kind == "Secret":
		for _, field := range []string{"data", "stringData"} {
			m, ok := out[field].(map[string]any)
			if !ok {
				continue
			}
			for k, v := range m {
				m[k] = h.Hash(secretBytes(field, v))
			}
		}
		// A last-applied or similar annotation could carry the whole Secret.
		if meta, ok := out["metadata"].(map[string]any); ok {
			if ann, ok := meta["annotations"].(map[string]any); ok {
				for k, v := range ann {
					if s, ok := v.(string); ok && strings.Contains(k, "last-applied-configuration") {
						ann[k] = h.Hash([]byte(s))
					}
				}
			}
		}
	case group == "" && kind == "ConfigMap":
		for _, field := range []string{"data", "binaryData"} {
			m, ok := out[field].(map[string]any)
			if !ok {
				continue
			}
			for k, v := range m {
				s, isString := v.(string)
				switch {
				case SecretLikeKey(k):
					m[k] = h.Hash(secretBytes(field, v))
				case isString && field == "data" && strings.Contains(s, "\n"):
					m[k] = redactLines(s, h)
				}
			}
		}
	}
	redactEnv(out, h)
	return out
}

func secretBytes(field string, v any) []byte {
	s, ok := v.(string)
	if !ok {
		return []byte(fmt.Sprint(v))
	}
	if field == "data" || field == "binaryData" {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			return b
		}
	}
	return []byte(s)
}

// redactLines hashes the values of credential-like keys in a properties or YAML file.
func redactLines(s string, h *Hasher) string {
	lines := strings.Split(s, "\n")
	changed := false
	for i, l := range lines {
		m := secretLine.FindStringSubmatch(l)
		if m == nil || m[3] == "" || !SecretLikeKey(m[2]) {
			continue
		}
		lines[i] = m[1] + h.Hash([]byte(m[3])) + m[4]
		changed = true
	}
	if !changed {
		return s
	}
	return strings.Join(lines, "\n")
}

// redactEnv hashes {name: <credential-like>, value: <literal>} pairs anywhere in the object (the
// shape of a container's env).
func redactEnv(v any, h *Hasher) {
	switch v := v.(type) {
	case map[string]any:
		if name, ok := v["name"].(string); ok {
			if val, ok := v["value"].(string); ok && val != "" && SecretLikeKey(name) {
				v["value"] = h.Hash([]byte(val))
			}
		}
		for _, c := range v {
			redactEnv(c, h)
		}
	case []any:
		for _, c := range v {
			redactEnv(c, h)
		}
	}
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, c := range v {
			out[k] = deepCopy(c)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, c := range v {
			out[i] = deepCopy(c)
		}
		return out
	case float64:
		// JSON decoding made every number a float64; whole ones print as integers.
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v)
		}
	}
	return v
}
