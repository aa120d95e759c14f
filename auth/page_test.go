package auth

import (
	"math"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLoginPageContrast: every text colour of the sign-in page against its
// background meets WCAG AA (4.5:1 for text). The colours are read from
// the page's own style sheet.
func TestLoginPageContrast(t *testing.T) {
	rule := func(selector, prop string) string {
		re := regexp.MustCompile(regexp.QuoteMeta(selector) + `\s*\{[^}]*?[^-]` + regexp.QuoteMeta(prop) + `\s*(#[0-9a-fA-F]{6})`)
		m := re.FindStringSubmatch(loginHTML)
		require.NotNil(t, m, "%s { %s } not found", selector, prop)
		return m[1]
	}
	page := rule("main", "background:")
	for _, pair := range []struct{ what, fg, bg string }{
		{"body text", rule("body", "color:"), page},
		{"lead", rule("p.lead", "color:"), page},
		{"note", rule(".note", "color:"), page},
		{"input", rule("input[type=text], input[type=password]", "color:"), rule("input[type=text], input[type=password]", "background:")},
		{"button", rule("button", "color:"), rule("button", "background:")},
		{"button hover", rule("button", "color:"), rule("button:hover", "background:")},
		{"error", rule(".error", "color:"), rule(".error", "background:")},
	} {
		c := contrast(pair.fg, pair.bg)
		require.GreaterOrEqual(t, c, 4.5, "%s: %s on %s is %.2f:1", pair.what, pair.fg, pair.bg, c)
	}
	// Borders and the focus ring (non-text: 3:1).
	require.GreaterOrEqual(t, contrast(rule("input[type=text], input[type=password]", "border: 1px solid"), page), 3.0)
	require.GreaterOrEqual(t, contrast(rule("input:focus, button:focus", "outline: 3px solid"), page), 3.0)
}

func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

func luminance(hex string) float64 {
	var l float64
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		c := float64(v) / 255
		if c <= 0.03928 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		l += w * c
	}
	return l
}
