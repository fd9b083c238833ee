package daemon

import (
	"vigil/internal/watch"
)

// newIntake returns the source config watch.intake names: fanotify,
// inotify, or (auto, "") fanotify where it can mark the roots' filesystems
// and inotify otherwise.
func newIntake(intake string, wo watch.Options) (watch.Source, error) {
	switch intake {
	case "fanotify":
		return watch.NewFanotify(wo)
	case "inotify":
		return watch.NewInotify(wo)
	}
	return watch.NewAuto(wo)
}

// logIntake says at the start which intake runs, what it covers, and what
// it left to inotify or to periodic scans.
func (p *pipeline) logIntake(cov watch.Coverage) {
	l := p.o.Log.Info()
	if len(cov.Fallback) > 0 {
		l = p.o.Log.Warn().Strs("fallback", cov.Fallback)
	}
	l = l.Str("intake", cov.Intake)
	if cov.IntakeReason != "" {
		l = l.Str("intake_reason", cov.IntakeReason)
	}
	if len(cov.Filesystems) > 0 {
		l = l.Strs("filesystems", cov.Filesystems)
	}
	for _, u := range cov.Inotify {
		p.o.Log.Warn().Str("path", u.Path).Str("reason", u.Reason).Msg("fanotify cannot mark this subtree; watched by inotify")
	}
	l = l.Int("watched", cov.Watched).Int("limit", cov.Limit).Int("excluded", cov.Excluded)
	if cov.Intake == "fanotify" {
		l.Msg("fanotify marks in place (whole filesystems; subtrees it cannot mark are watched by inotify)")
		return
	}
	l.Msg("watches in place (limit: fs.inotify.max_user_watches, shared by the user's processes; fallback subtrees are scanned periodically)")
}
