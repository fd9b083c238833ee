package scanner

import (
	"encoding/binary"

	"github.com/zeebo/blake3"

	"vigil/merkle"
)

// Sample makes a scan read again a rotating share of the files its stat
// cache would trust, chosen by a keyed hash, so that nobody without the key
// can tell which files a check will read, and every file is read again at
// least once in any Within consecutive checks.
//
// Checks are grouped in epochs of L = (Within+1)/2 consecutive check
// numbers; in each epoch every file is due at exactly one check, at a
// position given by BLAKE3 keyed with Key over the epoch, device, inode and
// path. Two reads of a file are thus at most 2L-1 <= Within checks apart,
// and each check reads about 1/L of the files it would otherwise trust.
//
// A check that stands for checks that did not run (Back of them, before
// Check) reads the files due at any of Check-Back..Check: what those would
// have read, so that a check number skipped breaks no guarantee. From
// 2L-1 numbers on, that range holds a whole epoch: every file is due.
type Sample struct {
	// Key is the secret that makes the choice unpredictable. Keep it where
	// the baseline is kept, out of reach of whoever it guards against.
	Key [32]byte
	// Check is the number of this check; successive checks must count up
	// by one for the guarantee to hold (or say, in Back, what they skip).
	Check uint64
	// Back is the number of check numbers before Check that no check
	// used: their files are read too. 0 reads Check's alone.
	Back uint64
	// Within is the number of consecutive checks in which every file is
	// read at least once; 1 reads every file every time, 0 or less
	// disables the sample.
	Within int
}

// epochLen returns L, the number of checks in which each file is due once.
func (s *Sample) epochLen() uint64 { return uint64(max(s.Within, 1)+1) / 2 }

// Due reports whether the check s.Check reads e again although the stat
// cache trusts it.
func (s *Sample) Due(e *merkle.Entry) bool {
	return newSampler(s).due(e)
}

// sampler decides Sample membership, reusing its keyed hasher; each
// goroutine has its own.
type sampler struct {
	s   *Sample
	h   *blake3.Hasher
	buf []byte
}

// newSampler returns nil for a nil or disabled sample.
func newSampler(s *Sample) *sampler {
	if s == nil || s.Within <= 0 {
		return nil
	}
	h, err := blake3.NewKeyed(s.Key[:])
	if err != nil {
		panic("scanner: blake3.NewKeyed with a 32-byte key: " + err.Error())
	}
	return &sampler{s: s, h: h}
}

func (p *sampler) due(e *merkle.Entry) bool {
	if p == nil {
		return false
	}
	l := p.s.epochLen()
	if l == 1 {
		return true
	}
	if p.s.Back == 0 {
		return p.position(e, p.s.Check/l, l) == p.s.Check%l
	}
	return p.dueIn(e, l)
}

// dueIn reports whether e is due at any check of Check-Back..Check (as
// many as there are, from 0).
func (p *sampler) dueIn(e *merkle.Entry, l uint64) bool {
	hi := p.s.Check
	lo := hi - min(p.s.Back, hi)
	if hi-lo+1 >= 2*l-1 {
		return true // a whole epoch lies within
	}
	for ep := lo / l; ep <= hi/l; ep++ {
		if at := ep*l + p.position(e, ep, l); lo <= at && at <= hi {
			return true
		}
	}
	return false
}

// position returns e's place, 0 to l-1, in the checks of epoch ep.
func (p *sampler) position(e *merkle.Entry, ep, l uint64) uint64 {
	b := binary.LittleEndian.AppendUint64(p.buf[:0], ep)
	b = binary.LittleEndian.AppendUint64(b, e.Dev)
	b = binary.LittleEndian.AppendUint64(b, e.Inode)
	b = append(b, e.Path...)
	p.buf = b
	p.h.Reset()
	p.h.Write(b)
	var sum [32]byte
	p.h.Sum(sum[:0])
	return binary.LittleEndian.Uint64(sum[:]) % l
}
