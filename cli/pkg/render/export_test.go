package render

// ParseObject is parseExact without its exactness, for the external tests, which render the kit
// through the workspace package (an import cycle from an internal test).
func ParseObject(doc []byte) (map[string]any, error) {
	m, _, err := parseExact(doc)
	return m, err
}

// ParseExact exposes parseExact.
var ParseExact = parseExact
