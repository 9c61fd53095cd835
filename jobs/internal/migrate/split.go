package migrate

import (
	"fmt"
	"regexp"
	"strings"
)

// plsqlStartRE matches the start of a statement that is a PL/SQL unit: an anonymous block or a
// stored unit. Its semicolons belong to it; it ends at a line holding only "/" (as in SQL*Plus
// and SQLcl) or at the end of the script.
var plsqlStartRE = regexp.MustCompile(`(?is)^(DECLARE|BEGIN|CREATE\s+(OR\s+REPLACE\s+)?((NON)?EDITIONABLE\s+)?(PROCEDURE|FUNCTION|PACKAGE|TRIGGER|TYPE|LIBRARY)\b)`)

// dollarTagRE matches a PostgreSQL dollar-quote opening tag ($$ or $name$).
var dollarTagRE = regexp.MustCompile(`^\$([A-Za-z_][A-Za-z0-9_]*)?\$`)

// Split splits a migration script into the statements to execute one by one:
//   - SQL statements end at a ";" (dropped) or at a line holding only "/";
//   - (oracle) a PL/SQL unit (DECLARE/BEGIN block, CREATE [OR REPLACE] PROCEDURE, FUNCTION, PACKAGE
//     [BODY], TRIGGER, TYPE [BODY]) keeps its semicolons, the final "END;" included, and ends
//     at a line holding only "/" (or at the end of the script);
//   - semicolons inside '...' strings (with ” escapes), Oracle q'[...]' strings, "..."
//     identifiers, -- and /* */ comments, and (postgres) $tag$...$tag$ bodies do not end anything;
//   - comments before a statement are dropped, and so are statements made only of comments.
//
// It reports an unterminated string, identifier, comment or dollar-quoted body with its line.
func Split(script, dialect string) ([]string, error) {
	var out []string
	var cur strings.Builder
	line := 1
	plsql, decided := false, false
	atLineStart := true
	emit := func() {
		s := trimLeadingComments(cur.String())
		if !plsql {
			s = strings.TrimSpace(strings.TrimSuffix(s, ";"))
		}
		if strings.TrimSpace(stripComments(s)) != "" {
			out = append(out, s)
		}
		cur.Reset()
		plsql, decided = false, false
	}
	// decide classifies the statement at its first ";", when its leading words are all there.
	decide := func() {
		if decided {
			return
		}
		decided = true
		plsql = dialect == Oracle && plsqlStartRE.MatchString(strings.TrimSpace(stripComments(cur.String())))
	}
	for i := 0; i < len(script); {
		c := script[i]
		// A line holding only "/" ends the current statement (SQL or PL/SQL).
		if atLineStart {
			j := i
			for j < len(script) && (script[j] == ' ' || script[j] == '\t') {
				j++
			}
			if j < len(script) && script[j] == '/' {
				k := j + 1
				for k < len(script) && (script[k] == ' ' || script[k] == '\t' || script[k] == '\r') {
					k++
				}
				if k == len(script) || script[k] == '\n' {
					emit()
					if k < len(script) {
						k++
						line++
					}
					i = k
					continue
				}
			}
			atLineStart = false
		}
		switch {
		case c == '\n':
			cur.WriteByte(c)
			line++
			i++
			atLineStart = true
			continue
		case c == '-' && i+1 < len(script) && script[i+1] == '-':
			end := strings.IndexByte(script[i:], '\n')
			if end < 0 {
				end = len(script) - i
			}
			cur.WriteString(script[i : i+end])
			i += end
			continue
		case c == '/' && i+1 < len(script) && script[i+1] == '*':
			end := strings.Index(script[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated /* comment", line)
			}
			text := script[i : i+2+end+2]
			cur.WriteString(text)
			line += strings.Count(text, "\n")
			i += len(text)
			continue
		case (c == 'q' || c == 'Q') && dialect == Oracle && i+2 < len(script) && script[i+1] == '\'' && (i == 0 || !isWordByte(script[i-1])):
			// Oracle alternative quoting: q'<delim>...<close>'
			open := script[i+2]
			closeDelim := map[byte]byte{'[': ']', '{': '}', '(': ')', '<': '>'}[open]
			if closeDelim == 0 {
				closeDelim = open
			}
			end := strings.Index(script[i+3:], string([]byte{closeDelim, '\''}))
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated q'%c string", line, open)
			}
			text := script[i : i+3+end+2]
			cur.WriteString(text)
			line += strings.Count(text, "\n")
			i += len(text)
			continue
		case c == '\'' || c == '"':
			j := i + 1
			for {
				k := strings.IndexByte(script[j:], c)
				if k < 0 {
					what := "string"
					if c == '"' {
						what = "quoted identifier"
					}
					return nil, fmt.Errorf("line %d: unterminated %s", line, what)
				}
				j += k + 1
				if j < len(script) && script[j] == c { // '' or "" escape
					j++
					continue
				}
				break
			}
			text := script[i:j]
			cur.WriteString(text)
			line += strings.Count(text, "\n")
			i = j
			continue
		case c == '$' && dialect == Postgres:
			if m := dollarTagRE.FindString(script[i:]); m != "" && (i == 0 || !isWordByte(script[i-1])) {
				end := strings.Index(script[i+len(m):], m)
				if end < 0 {
					return nil, fmt.Errorf("line %d: unterminated %s body", line, m)
				}
				text := script[i : i+len(m)+end+len(m)]
				cur.WriteString(text)
				line += strings.Count(text, "\n")
				i += len(text)
				continue
			}
		case c == ';':
			decide()
			cur.WriteByte(c)
			i++
			if !plsql {
				emit()
			}
			continue
		}
		cur.WriteByte(c)
		i++
	}
	decide()
	if strings.TrimSpace(stripComments(cur.String())) != "" {
		emit()
	}
	return out, nil
}

func isWordByte(b byte) bool {
	return b == '_' || b == '$' || b == '#' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// stripComments removes -- and /* */ comments outside quotes (for deciding what a statement is
// and whether it is empty).
func stripComments(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\'' || s[i] == '"':
			j := strings.IndexByte(s[i+1:], s[i])
			if j < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			b.WriteString(s[i : i+1+j+1])
			i += j + 1
		case s[i] == '-' && i+1 < len(s) && s[i+1] == '-':
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return b.String()
			}
			i += j - 1
		case s[i] == '/' && i+1 < len(s) && s[i+1] == '*':
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return b.String()
			}
			i += j + 3
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// trimLeadingComments drops the blanks and comments before a statement's first word.
func trimLeadingComments(s string) string {
	for {
		s = strings.TrimSpace(s)
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s, "*/")
			if i < 0 {
				return s
			}
			s = s[i+2:]
		default:
			return s
		}
	}
}
