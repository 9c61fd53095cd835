package render

// ParseObject exposes parseObject to the external tests, which render the kit through the
// workspace package (an import cycle from an internal test).
var ParseObject = parseObject

// ParseExact exposes parseExact.
var ParseExact = parseExact
