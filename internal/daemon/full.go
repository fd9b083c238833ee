package daemon

// onFull logs the outbox becoming unwritable (err) and writable again
// (nil); /healthz and the metrics say so meanwhile.
func (p *pipeline) onFull(err error) {
	if err != nil {
		p.st.outboxFull.Add(1)
		p.o.Log.Error().Err(err).Msg("the outbox cannot be written: stdout, file and syslog sinks get events at once, the others' are held in memory")
		return
	}
	p.o.Log.Info().Msg("the outbox is written again")
}
