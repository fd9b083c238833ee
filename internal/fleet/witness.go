package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	tlogfmt "github.com/transparency-dev/formats/log"
	cosig "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"vigil/alerts"
)

// SilentIntervals is how many heartbeat intervals without an update make a
// host silent.
const SilentIntervals = 3

// Witness is one instance of a witness (vigil fleet serve): it verifies
// every host update, cosigns what extends what it cosigned before, keeps
// its decisions in vigil_witness and raises the fleet's events. Several
// instances with one key agree through revision-checked writes; its memory
// is a cache of what JetStream holds.
type Witness struct {
	conn   *Conn
	signer note.Signer
	name   string
	id     string // the key's hash, in the record keys
	tofu   bool
	// Now returns the current time; nil means time.Now. Silence is
	// measured with it against the server's time of each host's entry.
	Now func() time.Time
	// OnDecision, if set, is told of every decision and event (the
	// service logs them); it must not block.
	OnDecision func(host string, rec Record, events []string)

	mu     sync.Mutex
	seen   map[string]seenHost // host -> its newest entry
	events tracker
	// golden verifies the profiles' golden baselines (SetGoldenKeys); nil
	// compares nothing. drifts counts the comparisons made.
	golden goldenVerifiers
	drifts atomic.Int64
}

// seenHost is what the witness knows of a host's newest entry.
type seenHost struct {
	revision  uint64
	at        time.Time
	heartbeat time.Duration
}

// NewWitness returns a witness signing with skey (a signed-note signer key,
// vigil keygen's vigil.key); tofu enrolls unknown hosts' offered keys.
func NewWitness(c *Conn, skey string, tofu bool) (*Witness, error) {
	s, err := cosig.NewSignerForCosignatureV1(strings.TrimSpace(skey))
	if err != nil {
		return nil, fmt.Errorf("the witness key: %w", err)
	}
	return &Witness{conn: c, signer: s, name: s.Name(), id: fmt.Sprintf("%08x", s.KeyHash()), tofu: tofu, seen: map[string]seenHost{}}, nil
}

// Name returns the witness key's name.
func (w *Witness) Name() string { return w.name }

func (w *Witness) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// Run watches vigil_hosts and decides on every update, and looks for
// silent hosts every check interval (0: every second), until ctx ends.
func (w *Witness) Run(ctx context.Context, check time.Duration) error {
	if check <= 0 {
		check = time.Second
	}
	kv, err := w.conn.kv(ctx, BucketHosts)
	if err != nil {
		return err
	}
	stop, err := w.followEvents(ctx)
	if err != nil {
		return err
	}
	defer stop()
	watch, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer watch.Stop()
	tick := time.NewTicker(check)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-watch.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil // the watch ends with ctx: not a failure
				}
				return errors.New("the watch of " + BucketHosts + " ended")
			}
			if e == nil {
				continue
			}
			if err := w.Decide(ctx, e); err != nil && ctx.Err() == nil {
				// Lost for now: the next update or a restart decides
				// again (the record says what was decided).
				w.tell(e.Key(), Record{State: "error", Problem: err.Error()}, nil)
			}
		case <-tick.C:
			if err := w.CheckSilent(ctx); err != nil && ctx.Err() == nil {
				w.tell("", Record{State: "error", Problem: err.Error()}, nil)
			}
		}
	}
}

func (w *Witness) tell(host string, rec Record, events []string) {
	if w.OnDecision != nil {
		w.OnDecision(host, rec, events)
	}
}

// recordKey is the witness's key of host in vigil_witness.
func (w *Witness) recordKey(host string) string { return host + "." + w.id }

// record reads the witness's record of host: zero and revision 0 when
// there never was one. A record deleted or purged (by anyone but vigil
// fleet forget, which leaves no trace) is reported with deleted set, and
// the last value its history still holds, if any.
func (w *Witness) record(ctx context.Context, kv jetstream.KeyValue, host string) (r Record, rev uint64, deleted bool, err error) {
	e, err := kv.Get(ctx, w.recordKey(host))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		hist, herr := kv.History(ctx, w.recordKey(host))
		if errors.Is(herr, jetstream.ErrKeyNotFound) || (herr == nil && len(hist) == 0) {
			return Record{}, 0, false, nil
		}
		if herr != nil {
			return Record{}, 0, false, herr
		}
		err = nil
		for i := len(hist) - 1; i >= 0; i-- {
			if hist[i].Operation() == jetstream.KeyValuePut {
				err = decode(BucketWitness, hist[i].Key(), hist[i].Value(), &r)
				break
			}
		}
		return r, hist[len(hist)-1].Revision(), true, err
	}
	if err != nil {
		return Record{}, 0, false, err
	}
	return r, e.Revision(), false, decode(BucketWitness, e.Key(), e.Value(), &r)
}

// event is a fleet event to raise.
type event struct {
	action   string
	severity int
	msg      string
}

// Decide decides on one vigil_hosts entry, once: an entry at or below the
// revision the record holds was decided already (by this or another
// instance). Events are published before the record is written, with
// message ids that make a repeat a duplicate.
func (w *Witness) Decide(ctx context.Context, e jetstream.KeyValueEntry) error {
	host := e.Key()
	var st HostState
	if err := decode(BucketHosts, host, e.Value(), &st); err != nil {
		return err
	}
	w.mu.Lock()
	w.seen[host] = seenHost{revision: e.Revision(), at: e.Created(), heartbeat: time.Duration(st.HeartbeatSeconds * float64(time.Second))}
	w.mu.Unlock()
	kv, err := w.conn.kv(ctx, BucketWitness)
	if err != nil {
		return err
	}
	for range 5 {
		rec, rev, deleted, err := w.record(ctx, kv, host)
		if err != nil {
			return err
		}
		if rev != 0 && !deleted && rec.HostRevision >= e.Revision() {
			return nil
		}
		next, evs := w.judge(ctx, host, rec, &st)
		if deleted {
			next, evs = w.deleted(rec, next, evs)
		}
		evs = append(evs, w.drift(ctx, &st, &rec, &next)...)
		next.HostRevision, next.Seen, next.Decided = e.Revision(), e.Created(), w.now().UTC()
		if err := w.raise(ctx, host, e.Revision(), evs); err != nil {
			return err
		}
		err = w.writeRecord(ctx, kv, host, next, rev)
		if conflict(err) {
			continue
		}
		if err == nil {
			w.tell(host, next, actions(evs))
		}
		return err
	}
	return fmt.Errorf("%s/%s: %w", BucketWitness, w.recordKey(host), ErrConflict)
}

// deleted turns the decision on a host whose record was deleted behind the
// witness's back into a critical record_deleted: with the last value the
// history kept the decision stands (it was judged against that value);
// with nothing left (purged) nothing is cosigned until the fleet's operator
// runs vigil fleet forget.
func (w *Witness) deleted(rec, next Record, evs []event) (Record, []event) {
	msg := fmt.Sprintf("the witness's record of the host (%s) was deleted by someone other than the witness", w.recordKey(next.Host))
	if rec.Checkpoint == "" {
		next = Record{Host: next.Host, Witness: w.name, WitnessID: w.id, State: StateRecordDeleted,
			Problem: msg + " and purged: nothing is cosigned until 'vigil fleet forget " + next.Host + "'"}
		evs = nil
	}
	return next, append(evs, event{"record_deleted", alerts.SeverityCritical, msg})
}

func (w *Witness) writeRecord(ctx context.Context, kv jetstream.KeyValue, host string, r Record, rev uint64) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if rev == 0 {
		_, err = kv.Create(ctx, w.recordKey(host), raw)
	} else {
		_, err = kv.Update(ctx, w.recordKey(host), raw, rev)
	}
	return err
}

func actions(evs []event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.action)
	}
	return out
}

// judge verifies st against rec and returns the new record and the events
// to raise.
func (w *Witness) judge(ctx context.Context, host string, rec Record, st *HostState) (Record, []event) {
	next := rec
	next.Host, next.Witness, next.WitnessID, next.Problem = host, w.name, w.id, ""
	var evs []event
	if rec.Silent {
		next.Silent = false
		evs = append(evs, event{"resolved", alerts.SeverityInfo, "the host publishes again (it was host_silent)"})
	}
	fail := func(state, action string, severity int, msg string) (Record, []event) {
		if rec.State != state || rec.Problem != msg {
			evs = append(evs, event{action, severity, msg})
		}
		next.State, next.Problem = state, msg
		return next, evs
	}
	if rec.State == StateRecordDeleted {
		return fail(StateRecordDeleted, "record_deleted", alerts.SeverityCritical, rec.Problem)
	}
	vkey, err := w.hostKey(ctx, host, st)
	if err != nil {
		return fail(StateUnknownHost, "unknown_host", alerts.SeverityCritical, err.Error())
	}
	n, cp, err := verifyState(st, vkey)
	if err != nil {
		return fail(StateBadSignature, "signature_invalid", alerts.SeverityCritical, err.Error())
	}
	if msg, state := consistent(rec, cp, st.Proofs); state != "" {
		return fail(state, state, alerts.SeverityCritical, msg)
	}
	if rec.State == StateRollback || rec.State == StateFork {
		evs = append(evs, event{"resolved", alerts.SeverityInfo, fmt.Sprintf("the host's checkpoint (size %d) extends the witnessed one again (it was %s)", cp.Size, rec.State)})
	}
	if rec.Checkpoint == "" || int64(cp.Size) != rec.Size {
		signed, err := note.Sign(n, w.signer)
		if err != nil {
			return fail("error", "witness_error", alerts.SeverityWarning, err.Error())
		}
		next.Checkpoint, next.Size, next.Hash = string(signed), int64(cp.Size), cp.Hash
	}
	evs = append(evs, w.changes(rec, &next, st)...)
	return next, evs
}

// changes returns the events of what changed on the host since rec and
// sets next's view and state.
func (w *Witness) changes(rec Record, next *Record, st *HostState) []event {
	var evs []event
	if rec.Phase != "" && rec.Phase != st.Phase.Phase {
		how := "by a signed record"
		if !st.Phase.Signed {
			how = "with no signed record"
		}
		evs = append(evs, event{"phase_changed", alerts.SeverityAlert, fmt.Sprintf("phase %s -> %s, %s (audit record %d)", rec.Phase, st.Phase.Phase, how, st.Phase.Record)})
	}
	next.Phase = st.Phase.Phase
	next.Unsealed = st.Phase.Phase == "hardened" && st.Statement == ""
	if next.Unsealed && !rec.Unsealed {
		evs = append(evs, event{"unsealed", alerts.SeverityCritical, fmt.Sprintf("the host is hardened but its baseline %d is not sealed", st.Baseline)})
	}
	next.CheckFailing = st.LastCheck != nil && st.LastCheck.ExitCode != 0
	if next.CheckFailing && !rec.CheckFailing {
		evs = append(evs, event{"check_failing", alerts.SeverityAlert, fmt.Sprintf("the host's last check (%s) exited %d: %d added, %d removed, %d changed, %d moved, %d errors",
			st.LastCheck.Time.Format(time.RFC3339), st.LastCheck.ExitCode, st.LastCheck.Added, st.LastCheck.Removed, st.LastCheck.Changed, st.LastCheck.Moved, st.LastCheck.Errors)})
	}
	evs = append(evs, w.missing(rec, next, st)...)
	switch {
	case next.Unsealed:
		next.State = StateUnsealed
	case next.EventsMissing:
		next.State = StateEventsMissing
	case next.CheckFailing:
		next.State = StateCheckFailing
	default:
		next.State = StateOK
	}
	return evs
}

// missing raises events_missing for a hole in the host's event sequences
// on the stream that is still there at the next decision (a hole at one
// decision may be events on their way), for a host whose every event goes
// to the stream (a filtered nats sink leaves holes by design).
func (w *Witness) missing(rec Record, next *Record, st *HostState) []event {
	from, to, gap := w.events.gap(next.Host)
	if !gap || !st.EventsComplete {
		next.Gap, next.EventsMissing = 0, false
		return nil
	}
	next.Gap = from
	next.EventsMissing = rec.Gap == from
	if !next.EventsMissing || rec.EventsMissing {
		return nil
	}
	return []event{{"events_missing", alerts.SeverityCritical, fmt.Sprintf("the host's events %d to %d never reached the stream though later ones did (it has queued up to %d): deleted from its outbox?", from, to, st.EventSequence)}}
}

// hostKey returns host's enrolled verifier key; with tofu, an unknown
// host's offered key is enrolled first (revision-checked: the first one
// wins).
func (w *Witness) hostKey(ctx context.Context, host string, st *HostState) (string, error) {
	vkey, _, err := w.conn.EnrolledKey(ctx, host)
	if errors.Is(err, ErrNotEnrolled) && w.tofu && st.Pubkey != "" {
		if err := w.conn.Enroll(ctx, host, st.Pubkey, false); err != nil && !errors.Is(err, ErrEnrolled) {
			return "", err
		}
		vkey, _, err = w.conn.EnrolledKey(ctx, host)
	}
	if errors.Is(err, ErrNotEnrolled) {
		return "", fmt.Errorf("host %s is not enrolled: 'vigil fleet enroll %s --pubkey FILE'", host, host)
	}
	return vkey, err
}

// verifyState verifies the statement and, when signed, the checkpoint of
// st against the host's key, and returns the checkpoint as a note to
// cosign.
func verifyState(st *HostState, vkey string) (*note.Note, tlogfmt.Checkpoint, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, tlogfmt.Checkpoint{}, fmt.Errorf("the enrolled key: %w", err)
	}
	vs := note.VerifierList(v)
	if st.Statement != "" {
		if _, err := note.Open([]byte(st.Statement), vs); err != nil {
			return nil, tlogfmt.Checkpoint{}, fmt.Errorf("baseline %d's statement does not verify against the enrolled key %s: %w", st.Baseline, v.Name(), err)
		}
	}
	cp, err := parseCheckpoint(st.Checkpoint)
	if err != nil {
		return nil, cp, err
	}
	n := &note.Note{Text: st.Checkpoint}
	if strings.Contains(st.Checkpoint, "\n\n") {
		if n, err = note.Open([]byte(st.Checkpoint), vs); err != nil {
			return nil, cp, fmt.Errorf("the checkpoint's signature does not verify against the enrolled key %s: %w", v.Name(), err)
		}
	}
	return n, cp, nil
}

// consistent compares the host's checkpoint cp with the one rec cosigned,
// through the proofs: "" when cp extends it, else why and the state
// (rollback or fork).
func consistent(rec Record, cp tlogfmt.Checkpoint, proofs []Proof) (string, string) {
	n := int64(cp.Size)
	switch {
	case rec.Checkpoint == "":
		return "", ""
	case n < rec.Size:
		return fmt.Sprintf("the host's checkpoint has size %d, below the witnessed %d", n, rec.Size), StateRollback
	case n == rec.Size && !bytes.Equal(cp.Hash, rec.Hash):
		return fmt.Sprintf("two checkpoints of size %d with different roots: the host's log forked", n), StateFork
	case n == rec.Size:
		return "", ""
	}
	for _, p := range proofs {
		if p.From != rec.Size {
			continue
		}
		var tp tlog.TreeProof
		for _, h := range p.Hashes {
			var th tlog.Hash
			if len(h) != len(th) {
				break
			}
			copy(th[:], h)
			tp = append(tp, th)
		}
		var hn, ho tlog.Hash
		copy(hn[:], cp.Hash)
		copy(ho[:], rec.Hash)
		if len(tp) == len(p.Hashes) && tlog.CheckTree(tp, n, hn, rec.Size, ho) == nil {
			return "", ""
		}
		return fmt.Sprintf("the host's checkpoint (size %d) is not consistent with the witnessed one (size %d): the log was rewritten", n, rec.Size), StateRollback
	}
	return fmt.Sprintf("the host's checkpoint (size %d) comes with no consistency proof from the witnessed size %d", n, rec.Size), StateRollback
}

// raise publishes evs to vigil.fleet.<host>, each with the message id
// host.revision.action.
func (w *Witness) raise(ctx context.Context, host string, revision uint64, evs []event) error {
	for _, e := range evs {
		id := fmt.Sprintf("%s.%d.%s", host, revision, e.action)
		ev := alerts.TrustFinding(e.action, errors.New(e.msg), true, host, w.now().UTC())
		ev.Event.Severity, ev.Event.Dataset, ev.Event.ID = e.severity, "vigil.fleet", id
		if e.severity < alerts.SeverityAlert {
			ev.Event.Kind, ev.Event.Outcome = "event", ""
		}
		raw, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		m := nats.NewMsg(SubjectFleet + host)
		m.Data = raw
		m.Header.Set(jetstream.MsgIDHeader, id)
		if _, err := w.conn.js.PublishMsg(ctx, m); err != nil {
			return fmt.Errorf("publish %s: %w", id, err)
		}
	}
	return nil
}

// CheckSilent raises host_silent for every host whose newest entry is
// older than SilentIntervals of its heartbeat interval, once per entry.
func (w *Witness) CheckSilent(ctx context.Context) error {
	w.mu.Lock()
	var silent []string
	revs := map[string]uint64{}
	for h, s := range w.seen {
		if s.heartbeat > 0 && w.now().Sub(s.at) > SilentIntervals*s.heartbeat {
			silent = append(silent, h)
			revs[h] = s.revision
		}
	}
	w.mu.Unlock()
	kv, err := w.conn.kv(ctx, BucketWitness)
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range silent {
		errs = append(errs, w.markSilent(ctx, kv, h, revs[h]))
	}
	return errors.Join(errs...)
}

// markSilent records host as silent since its entry at revision, unless
// the record is newer or says so already.
func (w *Witness) markSilent(ctx context.Context, kv jetstream.KeyValue, host string, revision uint64) error {
	for range 5 {
		rec, rev, deleted, err := w.record(ctx, kv, host)
		if err != nil || rev == 0 || deleted || rec.Silent || rec.HostRevision != revision {
			return err
		}
		msg := fmt.Sprintf("no update from the host since %s (more than %d heartbeat intervals)", rec.Seen.Format(time.RFC3339), SilentIntervals)
		if err := w.raise(ctx, host, revision, []event{{"host_silent", alerts.SeverityAlert, msg}}); err != nil {
			return err
		}
		rec.Silent, rec.Decided = true, w.now().UTC()
		err = w.writeRecord(ctx, kv, host, rec, rev)
		if !conflict(err) {
			if err == nil {
				w.tell(host, rec, []string{"host_silent"})
			}
			return err
		}
	}
	return fmt.Errorf("%s/%s: %w", BucketWitness, w.recordKey(host), ErrConflict)
}
