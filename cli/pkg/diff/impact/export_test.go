package impact

// Retention exposes retention to the external tests.
var Retention = retention
