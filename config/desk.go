package config

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// MinSessionKey is the least number of bytes of a session-signing key.
const MinSessionKey = 32

// DecodeSessionKey reads the value of desk.session_key_env: base64
// (standard or URL alphabet, padded or not) of at least MinSessionKey bytes,
// or else the raw value itself if it is that long. The key is never part of
// the error.
func DecodeSessionKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) >= MinSessionKey {
			return k, nil
		}
	}
	if len(s) >= MinSessionKey {
		return []byte(s), nil
	}
	return nil, fmt.Errorf("the session key is %d bytes; it needs at least %d (e.g. `openssl rand -base64 32`)", len(s), MinSessionKey)
}
