package keys_test

import (
	"strings"
	"testing"
)

// v3Skips are the subtests that do not run on the v3 backend, each for a
// documented difference from a v2 server (README, "Leaving v2: the v3
// backend"). Keys are the subtest names without the backend, as e.run
// names them.
var v3Skips = map[string]string{
	"TestKeysAPI/Prefix":               "NewKeysAPIWithPrefix moves the v2 URL path; the v3 backend's tree lives under v3keys.Config.Prefix instead",
	"TestKeyNames/LargeValue":          "a v3 request is at most 1.5 MiB (--max-request-bytes), so a 2 MB value is refused",
	"TestErrorCodes/EventIndexCleared": "the v3 store keeps every revision until it is compacted, not the last 1000 events; v3's compaction is tested in v3_test.go",
}

// skipOnV3 skips t on the v3 backend when v3Skips names it.
func (e *env) skipOnV3(t *testing.T) {
	t.Helper()
	if !e.backend.V3 {
		return
	}
	name := strings.Replace(t.Name(), "/"+e.backend.String(), "", 1)
	if reason, ok := v3Skips[name]; ok {
		t.Skip("v3 backend: " + reason)
	}
}
