// Package ui is the recovery desk's page: index.html and its script and
// style sheet under assets/, embedded in the binary (no CDN, no build step).
// Package desk serves FS at / and /assets/; the page talks to the desk's
// JSON API and event stream (see docs/desk.md).
package ui

import "embed"

// FS holds index.html at its root and the static files under assets/
// (app.js, style.css). Nothing in it is customer data.
//
//go:embed index.html assets
var FS embed.FS
