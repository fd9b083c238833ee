package daemon

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseMountinfo(t *testing.T) {
	in := "22 1 0:21 / /proc rw,nosuid - proc proc rw\n" +
		"98 22 0:50 / /srv/my\\040data rw,relatime shared:40 - tmpfs my\\134src rw,size=1024k\n" +
		"garbage\n"
	want := map[int]mount{
		22: {ID: 22, Path: "/proc", FSType: "proc", Source: "proc"},
		98: {ID: 98, Path: "/srv/my data", FSType: "tmpfs", Source: `my\src`},
	}
	if diff := cmp.Diff(want, parseMountinfo([]byte(in))); diff != "" {
		t.Errorf("parseMountinfo (-want +got):\n%s", diff)
	}
}

func TestDiffMountsAndAffected(t *testing.T) {
	was := map[int]mount{1: {ID: 1, Path: "/"}, 2: {ID: 2, Path: "/etc/x", FSType: "tmpfs"}}
	now := map[int]mount{1: {ID: 1, Path: "/"}, 3: {ID: 3, Path: "/srv", FSType: "ext4"}}
	want := []mountChange{{mount{ID: 3, Path: "/srv", FSType: "ext4"}, true}, {mount{ID: 2, Path: "/etc/x", FSType: "tmpfs"}, false}}
	if diff := cmp.Diff(want, diffMounts(was, now), cmp.AllowUnexported(mountChange{})); diff != "" {
		t.Errorf("diffMounts (-want +got):\n%s", diff)
	}
	roots := []string{"/etc", "/usr/bin"}
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/etc/ssh", []string{"/etc/ssh"}},
		{"/etc", []string{"/etc"}},
		{"/usr", []string{"/usr/bin"}},
		{"/", []string{"/etc", "/usr/bin"}},
		{"/srv", nil},
		{"/etcetera", nil},
	} {
		if got := affected(tc.path, roots); !cmp.Equal(got, tc.want) {
			t.Errorf("affected(%q, %v) = %v, want %v", tc.path, roots, got, tc.want)
		}
	}
}
