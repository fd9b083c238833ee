package config

import (
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/google/go-cmp/cmp"
)

func TestLocate(t *testing.T) {
	text := "\ufeff" + `# comment with key = "value" and [table]
a = 1 # trailing [x] = 2
"quoted.key" = 'x'
b.c = """
d = 1
[e]"""
f = [ # comment
  "g,]",
  ['h', "i"],

  {j = 1, k = [2]},
]
[t]
u.v = '''
'''''
w = "\"[\""
[[r]]
x = 1
[r.s]
y = 2
[[r]]
z = 3
[[r.q]]
m = 4
[[r.q]]
n = 5
dt = 1979-05-27 07:32:00Z
o = 6
`
	var raw map[string]any
	if _, err := toml.Decode(text, &raw); err != nil {
		t.Fatalf("test input is not valid TOML: %v", err)
	}
	got := map[string]int{}
	for k, at := range locate(text) {
		got[k] = at.line
	}
	want := map[string]int{
		"a": 2, `"quoted.key"`: 3, "b": 4, "b.c": 4,
		"f": 7, "f[0]": 8, "f[1]": 9, "f[1][0]": 9, "f[1][1]": 9,
		"f[2]": 11, "f[2].j": 11, "f[2].k": 11, "f[2].k[0]": 11,
		"t": 13, "t.u": 14, "t.u.v": 14, "t.w": 16,
		"r": 17, "r[0]": 17, "r[0].x": 18, "r[0].s": 19, "r[0].s.y": 20,
		"r[1]": 21, "r[1].z": 22,
		"r[1].q": 23, "r[1].q[0]": 23, "r[1].q[0].m": 24,
		"r[1].q[1]": 25, "r[1].q[1].n": 26, "r[1].q[1].dt": 27, "r[1].q[1].o": 28,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("locate lines mismatch (-want +got):\n%s", diff)
	}
}

func TestLocateFallsBackToParent(t *testing.T) {
	pos := locate("a = [\n  1,\n  { b = { c = 1 } },\n]\n")
	for _, row := range []struct {
		key  keyPath
		want int
	}{
		{keyPath{"a"}, 1},
		{keyPath{"a"}.index(0), 2},
		{keyPath{"a"}.index(1).key("b").key("c").key("d"), 3},
		{keyPath{"nope"}.key("x"), 0},
	} {
		if got := pos.of(row.key).line; got != row.want {
			t.Errorf("line of %s = %d, want %d", row.key, got, row.want)
		}
	}
}

func TestKeyPath(t *testing.T) {
	k := keyPath{}.key("rule").index(2).key("a b").index(0).key("")
	if got, want := k.String(), `rule[2]."a b"[0].""`; got != want {
		t.Errorf("keyPath.String() = %s, want %s", got, want)
	}
	parent := k[:2]
	if !k.within(parent) || parent.within(k) {
		t.Errorf("%s within %s = %v, reverse = %v; want true, false", k, parent, k.within(parent), parent.within(k))
	}
}
