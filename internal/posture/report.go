package posture

import (
	"fmt"
	"io"
	"strings"
)

// Statuses of a check in a [Report].
const (
	StatusPass        = "pass"
	StatusFail        = "fail"
	StatusChanged     = "changed" // the value differs from the baseline's
	StatusUnavailable = "unavailable"
)

// Recommendation is how to reach the expected value.
type Recommendation struct {
	Sysctl string `json:"sysctl,omitempty"` // a line for /etc/sysctl.d
	NixOS  string `json:"nixos,omitempty"`  // a NixOS option
	Unit   string `json:"unit,omitempty"`   // a unit override
	Text   string `json:"text,omitempty"`
}

// Result is one check of one key.
type Result struct {
	ID       string `json:"id"`
	Key      string `json:"key"`
	Title    string `json:"title"`
	Status   string `json:"status"`
	Severity string `json:"severity"`
	Expected string `json:"expected"`
	Current  string `json:"current"`
	// Compliant says the current value meets the expectation (also when
	// Status is changed).
	Compliant bool `json:"compliant"`
	// Baseline is the recorded value, when it differs from the current.
	Baseline       string         `json:"baseline,omitempty"`
	Why            string         `json:"why"`
	Recommendation Recommendation `json:"recommendation"`
}

// Report is the compliance report of one state against one profile.
type Report struct {
	Profile string   `json:"profile"`
	Checks  []Result `json:"checks"`
	// Drift are the changes since the baseline to keys no check covers (a
	// new listening socket, a module loaded), when a baseline was given.
	Drift []Change `json:"drift,omitempty"`
	// Counts by status.
	Pass        int `json:"pass"`
	Fail        int `json:"fail"`
	Changed     int `json:"changed"`
	Unavailable int `json:"unavailable"`
}

// Evaluate checks items against the profile's checks (from
// [Profiles.For]); with a baseline (nil: none) a value that differs from
// the recorded one is [StatusChanged], and the changes to keys no check
// covers are the report's Drift.
func Evaluate(profile string, checks []Check, items, baseline []Item) Report {
	r := Report{Profile: profile}
	cur := map[string]string{}
	for _, it := range items {
		cur[it.Key] = it.Value
	}
	unavail := Unavailable(items)
	var changes map[string]Change
	if baseline != nil {
		changes = map[string]Change{}
		for _, c := range Compare(baseline, items, checks) {
			changes[c.Key] = c
		}
	}
	covered := map[string]bool{}
	for _, c := range checks {
		n := 0
		for _, it := range items {
			if !c.matches(it.Key) {
				continue
			}
			n++
			covered[it.Key] = true
			r.add(result(c, profile, it, changes))
		}
		if n == 0 {
			why, ok := unavail[CollectorOf(c.Key)]
			if !ok {
				why = "nothing recorded"
			}
			r.add(Result{ID: c.ID, Key: c.Key, Title: c.Title, Status: StatusUnavailable, Severity: c.Severity,
				Expected: c.Expect[profile], Current: "(" + why + ")", Why: c.Why, Recommendation: recommend(c, c.Key)})
		}
	}
	for _, k := range sortedKeys(changes) {
		if !covered[k] {
			r.Drift = append(r.Drift, changes[k])
		}
	}
	return r
}

func result(c Check, profile string, it Item, changes map[string]Change) Result {
	e := c.Expect[profile]
	res := Result{ID: c.ID, Key: it.Key, Title: c.Title, Severity: c.Severity, Expected: e, Current: it.Value,
		Compliant: Satisfies(it.Value, e), Why: c.Why, Recommendation: recommend(c, it.Key)}
	res.Status = StatusFail
	if res.Compliant {
		res.Status = StatusPass
	}
	if ch, ok := changes[it.Key]; ok {
		res.Status, res.Baseline = StatusChanged, ch.Old
		if ch.Action == Added {
			res.Baseline = "(not recorded)"
		}
	}
	return res
}

func (r *Report) add(res Result) {
	switch res.Status {
	case StatusPass:
		r.Pass++
	case StatusFail:
		r.Fail++
	case StatusChanged:
		r.Changed++
	default:
		r.Unavailable++
	}
	r.Checks = append(r.Checks, res)
}

// recommend fills c's recommendation for key: {name} is the key after its
// collector, {unit} the unit of a systemd key, {service} that unit without
// ".service".
func recommend(c Check, key string) Recommendation {
	_, name, _ := strings.Cut(key, ":")
	unit, _, _ := strings.Cut(name, ":")
	rep := strings.NewReplacer("{name}", name, "{unit}", unit, "{service}", strings.TrimSuffix(unit, ".service"))
	return Recommendation{Sysctl: rep.Replace(c.Sysctl), NixOS: rep.Replace(c.NixOS), Unit: rep.Replace(c.Unit), Text: rep.Replace(c.Fix)}
}

func sortedKeys(m map[string]Change) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	SortStrings(out)
	return out
}

// SortStrings sorts keys in the order of [Sort].
func SortStrings(keys []string) {
	items := make([]Item, len(keys))
	for i, k := range keys {
		items[i].Key = k
	}
	Sort(items)
	for i := range items {
		keys[i] = items[i].Key
	}
}

// ExitCode is the report's exit code, a bitmask as check's: 1 keys added
// since the baseline, 2 keys removed, 4 a check failed or a value changed.
func (r *Report) ExitCode() int {
	code := 0
	if r.Fail > 0 || r.Changed > 0 {
		code |= 4
	}
	for _, d := range r.Drift {
		switch d.Action {
		case Added:
			code |= 1
		case Removed:
			code |= 2
		default:
			code |= 4
		}
	}
	return code
}

// WriteText writes the report for people: one block per check that is not
// passing, one line per passing one, then the drift and the counts.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "posture report, profile %s\n\n", r.Profile)
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-11s %-8s %s  %s\n", strings.ToUpper(c.Status), c.Severity, c.Key, c.Title)
		if c.Status == StatusPass {
			continue
		}
		fmt.Fprintf(&b, "    current:  %s\n", c.Current)
		if c.Baseline != "" {
			fmt.Fprintf(&b, "    baseline: %s\n", c.Baseline)
		}
		fmt.Fprintf(&b, "    expected: %s\n", c.Expected)
		if c.Status == StatusChanged {
			fmt.Fprintf(&b, "    meets it: %s\n", map[bool]string{true: "yes", false: "no"}[c.Compliant])
		}
		if c.Status == StatusUnavailable {
			continue
		}
		fmt.Fprintf(&b, "    why:      %s\n", c.Why)
		rec := c.Recommendation
		for _, l := range [][2]string{{"sysctl", rec.Sysctl}, {"nixos", rec.NixOS}, {"unit", rec.Unit}, {"fix", rec.Text}} {
			if l[1] != "" {
				fmt.Fprintf(&b, "    %-9s %s\n", l[0]+":", l[1])
			}
		}
	}
	if len(r.Drift) > 0 {
		b.WriteString("\nchanged since the baseline (no check covers them):\n")
		for _, d := range r.Drift {
			fmt.Fprintf(&b, "%-8s %-8s %s  %s\n", d.Action, d.Severity, d.Key, ChangeText(d))
		}
	}
	fmt.Fprintf(&b, "\n%d pass, %d fail, %d changed, %d unavailable\n", r.Pass, r.Fail, r.Changed, r.Unavailable)
	_, err := io.WriteString(w, b.String())
	return err
}

// ChangeText is "old -> new" of a change.
func ChangeText(c Change) string {
	switch c.Action {
	case Added:
		return "-> " + c.New
	case Removed:
		return c.Old + " ->"
	}
	return c.Old + " -> " + c.New
}
