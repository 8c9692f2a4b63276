package config

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/quota"
)

func TestQuotasSetting(t *testing.T) {
	t.Setenv("CYBERIMAGE_DEV", "true") // no credentials needed to read settings
	c, err := Load([]string{"--quotas", "*=100/60 alice=1000/"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, quota.Limits{MaxQueued: 1000}, c.Quotas.For("alice"))
	require.Equal(t, quota.Limits{MaxQueued: 100, PerMinute: 60}, c.Quotas.For("bob"))

	c, err = Load(nil, io.Discard)
	require.NoError(t, err)
	require.False(t, c.Quotas.Enabled(), "no setting limits nothing")

	t.Setenv("CYBERIMAGE_QUOTAS", "alice=lots/1")
	_, err = Load(nil, io.Discard)
	require.ErrorContains(t, err, "CYBERIMAGE_QUOTAS")
}
