package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "90s", want: 90 * time.Second},
		{in: "72h", want: 72 * time.Hour},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "250ms", want: 250 * time.Millisecond},
		{in: "7d", want: 7 * 24 * time.Hour},
		{in: "90d", want: 90 * 24 * time.Hour},
		{in: "1.5d", want: 36 * time.Hour},
		{in: "1d12h", want: 36 * time.Hour},
		{in: "0", want: 0},
		{in: "0d", want: 0},
		{in: " 2h ", want: 2 * time.Hour},
		{in: "-1h", wantErr: `duration must not be negative (got "-1h")`},
		{in: "-7d", wantErr: `duration must not be negative (got "-7d")`},
		{in: "1d-1h", wantErr: `duration must not be negative (got "1d-1h")`},
		{in: "lots", wantErr: `invalid duration "lots" (use e.g. 90s, 1h30m or 7d)`},
		{in: "3600", wantErr: `invalid duration "3600" (use e.g. 90s, 1h30m or 7d)`},
		{in: "7 d", wantErr: `invalid duration "7 d" (use e.g. 90s, 1h30m or 7d)`},
		{in: "d", wantErr: `invalid duration "d" (use e.g. 90s, 1h30m or 7d)`},
		{in: "1e3d", wantErr: `invalid duration "1e3d" (use e.g. 90s, 1h30m or 7d)`},
		{in: "7dd", wantErr: `invalid duration "7dd" (use e.g. 90s, 1h30m or 7d)`},
		{in: "", wantErr: `empty duration (use e.g. 90s, 1h30m or 7d)`},
		{in: "999999999d", wantErr: `duration "999999999d" is too long`},
		{in: "106751d24h", wantErr: `duration "106751d24h" is too long`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got.D())
		})
	}
}

func TestDurationString(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{90 * time.Second, "1m30s"},
		{time.Minute, "1m"},
		{time.Hour, "1h"},
		{90 * time.Minute, "1h30m"},
		{36 * time.Hour, "36h"},
		{168 * time.Hour, "7d"},
		{2160 * time.Hour, "90d"},
		{1500 * time.Millisecond, "1.5s"},
	} {
		require.Equal(t, tc.want, Duration(tc.in).String())
		back, err := ParseDuration(tc.want)
		require.NoError(t, err)
		require.Equal(t, tc.in, back.D(), "round trip of %s", tc.want)
	}
}

func TestDurationYAML(t *testing.T) {
	type doc struct {
		D Duration `yaml:"d"`
	}
	var v doc
	require.NoError(t, yaml.Unmarshal([]byte("d: 7d"), &v))
	require.Equal(t, 7*24*time.Hour, v.D.D())

	out, err := yaml.Marshal(doc{D: Duration(36 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, "d: 36h\n", string(out))

	require.EqualError(t, yaml.Unmarshal([]byte("d: -5m"), &v), `duration must not be negative (got "-5m")`)
	require.EqualError(t, yaml.Unmarshal([]byte("d: [1h]"), &v), `expected a duration such as 90s, 72h or 7d, got a list`)
}
