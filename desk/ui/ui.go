// Package ui holds the recovery desk's page: HTML, script and styles,
// embedded in the binary (no CDN). index.html is served at /, assets/ at
// /assets/.
package ui

import "embed"

// FS holds index.html at its root and the page's static files under assets/.
//
//go:embed index.html assets
var FS embed.FS
