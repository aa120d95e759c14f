package ui_test

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/peakend/peakend/desk/ui"
)

// TestFS: the page and every file it links are embedded, and nothing is
// fetched from another origin (no CDN: the desk works where only peakend is
// reachable).
func TestFS(t *testing.T) {
	page, err := fs.ReadFile(ui.FS, "index.html")
	require.NoError(t, err)
	links := regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(string(page), -1)
	require.NotEmpty(t, links)
	var linked []string
	for _, l := range links {
		require.True(t, strings.HasPrefix(l[1], "/"), "index.html links %q: only paths on the desk itself", l[1])
		if strings.HasPrefix(l[1], "/assets/") {
			linked = append(linked, l[1])
			_, err := fs.Stat(ui.FS, strings.TrimPrefix(l[1], "/"))
			require.NoError(t, err, "index.html links %s, which is not embedded", l[1])
		}
	}
	require.ElementsMatch(t, []string{"/assets/style.css", "/assets/app.js"}, linked)
	for _, name := range []string{"index.html", "assets/app.js", "assets/style.css"} {
		b, err := fs.ReadFile(ui.FS, name)
		require.NoError(t, err)
		require.NotRegexp(t, `(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`, string(b), "%s refers to another origin", name)
	}
}
