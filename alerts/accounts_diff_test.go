package alerts

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAddDiffAccounts(t *testing.T) {
	for _, tc := range []struct {
		name, kind, diff string
		want             Accounts
	}{
		{"new account and uid 0", "passwd", "--- a\n+++ b\n@@ -1,2 +1,3 @@\n root:x:0:0::/root:/bin/sh\n-alice:x:1000:100::/home/alice:/bin/sh\n+alice:x:0:100::/home/alice:/bin/sh\n+toor:x:0:0::/root:/bin/sh\n+bob:x:1001:100::/home/bob:/bin/sh\n",
			Accounts{Added: []string{"toor", "bob"}, UID0Added: []string{"alice", "toor"}}},
		{"uid 0 already", "passwd", "-toor:x:0:0::/root:/bin/sh\n+toor:x:0:0::/root:/bin/zsh\n", Accounts{}},
		{"wheel member", "group", "--- a\n+++ b\n@@ -1 +1 @@\n-wheel:x:10:alice\n+wheel:x:10:alice,mallory\n+sudo:x:27:eve\n+staff:x:50:zed\n",
			Accounts{Added: []string{"sudo", "staff"}, PrivilegedAdded: map[string][]string{"wheel": {"mallory"}, "sudo": {"eve"}}}},
		{"comment", "passwd", "+# toor:x:0:0\n", Accounts{}},
	} {
		var got Accounts
		addDiffAccounts(&got, tc.kind, tc.diff)
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s: addDiffAccounts (-want +got):\n%s", tc.name, d)
		}
	}
}
