// Package noi18n stops kubectl's translations from loading. Import it (blank) from main only.
//
// Argo CD's Application types import kubectl's command packages (through gitops-engine), whose
// package variables call i18n.T: the first call builds a zip of kubectl's message catalogue and
// parses it, ~8 ms of every lakeport start, for help texts lakeport never shows. This package
// replaces the loader with one that loads nothing before any of those variables is initialised
// (Go initialises packages in import-path order among those whose imports are ready: this one
// needs only i18n, and sorts before every k8s.io package), so i18n.T returns its English text.
package noi18n

import "k8s.io/kubectl/pkg/util/i18n"

func init() {
	// An error means the translations were loaded already: nothing left to save.
	_ = i18n.SetLoadTranslationsFunc(func() error { return nil })
}
