// Package k9s holds Lakeport's k9s plugins (plugins.yaml) and the script they run
// (lakeport-k9s); its tests validate the plugins against k9s's own plugin schema and run the
// script the way k9s would for a selected Application or namespace.
package k9s
