package learn

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
)

// Snapshot formats. A snapshot starts with a four-byte magic naming the
// learner and a format version (uvarint), and ends with a CRC-32 (IEEE,
// little-endian) of everything before it; numbers in between are uvarints
// and strings are a uvarint length and bytes. A change to the layout, the
// tokenisation or the hashing must bump the version: an older build then
// refuses the snapshot with ErrSnapshotVersion instead of misreading it.
const (
	ClassifierSnapshotVersion = 1
	SpansSnapshotVersion      = 1

	classifierMagic = "LPNB"
	spansMagic      = "LPSP"
)

// maxSnapshotLabels bounds the label count a snapshot may claim, so that a
// corrupt header cannot make the reader allocate without limit.
const maxSnapshotLabels = 1 << 16

// writer builds a snapshot.
type writer struct{ b []byte }

func newWriter(magic string, version uint64) *writer {
	w := &writer{b: []byte(magic)}
	w.uint(version)
	return w
}

func (w *writer) uint(v uint64)   { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) string(s string) { w.uint(uint64(len(s))); w.b = append(w.b, s...) }

// finish appends the checksum and returns the snapshot.
func (w *writer) finish() []byte {
	return binary.LittleEndian.AppendUint32(w.b, crc32.ChecksumIEEE(w.b))
}

// reader reads a snapshot; the first error sticks, and later reads return
// zero values.
type reader struct {
	b   []byte
	err error
}

// newReader checks the magic, the checksum and the version, and returns a
// reader positioned after the version.
func newReader(b []byte, magic, what string, version uint64) (*reader, error) {
	if len(b) < len(magic)+1+4 || string(b[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: not a %s snapshot", ErrSnapshot, what)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	r := &reader{b: body[len(magic):]}
	v := r.uint()
	if r.err != nil {
		return nil, fmt.Errorf("%w: %s snapshot header is damaged", ErrSnapshot, what)
	}
	// The version is checked before the checksum: a future format may
	// place or compute its checksum differently, and the right message
	// then is "unsupported version", not "corrupt".
	if v != version {
		return nil, fmt.Errorf("%w: %s snapshot is format version %d; this build reads version %d only, so the model must be retrained from the annotations", ErrSnapshotVersion, what, v, version)
	}
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: %s snapshot fails its checksum (truncated or damaged)", ErrSnapshot, what)
	}
	return r, nil
}

func (r *reader) uint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("%w: truncated", ErrSnapshot)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a number that must fit in max.
func (r *reader) count(max uint64) uint64 {
	v := r.uint()
	if v > max && r.err == nil {
		r.err = fmt.Errorf("%w: a count of %d is out of range", ErrSnapshot, v)
		return 0
	}
	return v
}

func (r *reader) string() string {
	n := r.uint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("%w: truncated", ErrSnapshot)
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// end reports the first error, or an error if bytes are left over.
func (r *reader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d unexpected bytes at the end", ErrSnapshot, len(r.b))
	}
	return r.err
}

// MarshalBinary returns a snapshot of the classifier: its labels and its
// non-zero counts. It never fails; the error is there for
// encoding.BinaryMarshaler.
//
// Layout (version 1): magic "LPNB", version, flags (1 = multi-label),
// bucket bits, label count L, then per label its name and example count,
// the count of all examples, the number of non-zero buckets, and per
// bucket in increasing order the gap from the previous bucket and its L+1
// counts (per label, then over all examples); then the checksum.
func (c *Classifier) MarshalBinary() ([]byte, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	w := newWriter(classifierMagic, ClassifierSnapshotVersion)
	flags := uint64(0)
	if c.multi {
		flags = 1
	}
	w.uint(flags)
	w.uint(BucketBits)
	w.uint(uint64(len(c.labels)))
	for j, l := range c.labels {
		w.string(l)
		w.uint(uint64(c.docs[j]))
	}
	all := len(c.labels)
	w.uint(uint64(c.docs[all]))
	buckets := make([]uint32, 0, c.vocab)
	for f, r := range c.row {
		if c.rows[int(r)*c.width+all] > 0 {
			buckets = append(buckets, f)
		}
	}
	slices.Sort(buckets)
	w.uint(uint64(len(buckets)))
	prev := uint32(0)
	for _, f := range buckets {
		w.uint(uint64(f - prev))
		prev = f
		base := int(c.row[f]) * c.width
		for _, n := range c.rows[base : base+c.width] {
			w.uint(uint64(n))
		}
	}
	return w.finish(), nil
}

// UnmarshalBinary replaces the classifier's counts with those of a
// snapshot made by MarshalBinary. The classifier keeps its own labels: a
// label of the snapshot it does not have is dropped (for a single-label
// classifier, with the examples that carried it), and a label the
// snapshot lacks starts with no examples. It returns ErrSnapshot for bytes
// that are not a sound snapshot, ErrSnapshotVersion for another format
// version, and ErrSnapshotMismatch for a multi-label snapshot given to a
// single-label classifier (or the reverse) or another bucket count; on
// error the classifier is unchanged.
func (c *Classifier) UnmarshalBinary(b []byte) error {
	r, err := newReader(b, classifierMagic, "classifier", ClassifierSnapshotVersion)
	if err != nil {
		return err
	}
	flags := r.uint()
	bits := r.uint()
	if r.err == nil && (flags > 1 || (flags == 1) != c.multi) {
		kind := map[bool]string{false: "single-label", true: "multi-label"}
		return fmt.Errorf("%w: the snapshot is of a %s classifier, this one is %s", ErrSnapshotMismatch, kind[flags == 1], kind[c.multi])
	}
	if r.err == nil && bits != BucketBits {
		return fmt.Errorf("%w: the snapshot hashes into 2^%d buckets, this build into 2^%d", ErrSnapshotMismatch, bits, BucketBits)
	}
	nl := int(r.count(maxSnapshotLabels))
	// to[k] is the column of snapshot label k here, or -1 when dropped.
	to := make([]int, nl)
	docs := make([]int, c.width)
	dropped := 0
	for k := range nl {
		l, n := r.string(), int(r.count(math.MaxUint32))
		j, ok := c.col[l]
		if !ok || slices.Contains(to[:k], j) {
			to[k] = -1
			dropped += n
			continue
		}
		to[k] = j
		docs[j] = n
	}
	all := len(c.labels)
	docs[all] = int(r.count(math.MaxUint32))
	if !c.multi {
		// Every example of a single-label classifier has one label, so
		// the examples of a dropped label go with it.
		docs[all] -= dropped
	}
	nb := r.count(1 << BucketBits)
	rowOf := make(map[uint32]int32)
	var rows []uint32 // not sized from the header: a damaged one could claim gigabytes
	tokens := make([]int64, c.width)
	vocab := 0
	f := uint64(0)
	for i := range nb {
		gap := r.uint()
		if i > 0 && gap == 0 {
			r.err = fmt.Errorf("%w: buckets out of order", ErrSnapshot)
		}
		f += gap
		if f >= 1<<BucketBits && r.err == nil {
			r.err = fmt.Errorf("%w: bucket %d out of range", ErrSnapshot, f)
		}
		row := make([]uint32, c.width)
		for k := range nl {
			n := uint32(r.count(math.MaxUint32))
			if to[k] >= 0 {
				row[to[k]] = n
				if !c.multi {
					row[all] += n
				}
			}
		}
		if n := uint32(r.count(math.MaxUint32)); c.multi {
			row[all] = n
		}
		if r.err != nil {
			break
		}
		if c.multi && slices.Max(row[:all+1]) > row[all] {
			r.err = fmt.Errorf("%w: a label counts more examples than the classifier", ErrSnapshot)
			break
		}
		if row[all] == 0 {
			continue // only dropped labels held it
		}
		rowOf[uint32(f)] = int32(len(rows) / c.width)
		rows = append(rows, row...)
		for j, n := range row {
			tokens[j] += int64(n)
		}
		vocab++
	}
	if err := r.end(); err != nil {
		return err
	}
	sum := 0
	for j := range all {
		if docs[j] > docs[all] {
			return fmt.Errorf("%w: classifier: label %q has more examples than the classifier", ErrSnapshot, c.labels[j])
		}
		sum += docs[j]
	}
	if !c.multi && sum != docs[all] {
		return fmt.Errorf("%w: classifier: example counts disagree", ErrSnapshot)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rows, c.row, c.docs, c.tokens, c.vocab = rows, rowOf, docs, tokens, vocab
	return nil
}

// MarshalBinary returns a snapshot of the span suggester: its labels and
// its dictionaries. It never fails; the error is there for
// encoding.BinaryMarshaler.
//
// Layout (version 1): magic "LPSP", version, label count L and the
// labels, the count of texts learned, then the phrases as written and the
// lower-cased phrases, each as a count and, sorted, every phrase with its
// L+1 counts (per label, then unlabeled); then the checksum.
func (s *SpanSuggester) MarshalBinary() ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	w := newWriter(spansMagic, SpansSnapshotVersion)
	w.uint(uint64(len(s.labels)))
	for _, l := range s.labels {
		w.string(l)
	}
	w.uint(uint64(s.examples))
	for _, m := range []map[string][]uint32{s.exact, s.lower} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		w.uint(uint64(len(keys)))
		for _, k := range keys {
			w.string(k)
			for _, n := range m[k] {
				w.uint(uint64(n))
			}
		}
	}
	return w.finish(), nil
}

// UnmarshalBinary replaces the suggester's dictionaries with those of a
// snapshot made by MarshalBinary. The suggester keeps its own labels: a
// label of the snapshot it does not have is dropped (with the phrases that
// carried only it), and a label the snapshot lacks starts with no phrases.
// It returns ErrSnapshot for bytes that are not a sound snapshot and
// ErrSnapshotVersion for another format version; on error the suggester is
// unchanged.
func (s *SpanSuggester) UnmarshalBinary(b []byte) error {
	r, err := newReader(b, spansMagic, "span suggester", SpansSnapshotVersion)
	if err != nil {
		return err
	}
	nl := int(r.count(maxSnapshotLabels))
	to := make([]int, nl) // column here of snapshot label k, or -1
	for k := range nl {
		j, ok := s.col[r.string()]
		if !ok || slices.Contains(to[:k], j) {
			j = -1
		}
		to[k] = j
	}
	examples := int(r.count(math.MaxInt32))
	L := len(s.labels)
	var dicts [2]map[string][]uint32
	for d := range dicts {
		dicts[d] = map[string][]uint32{}
		n := r.count(uint64(len(r.b))) // every phrase takes bytes
		for range n {
			k := r.string()
			counts := make([]uint32, L+1)
			labeled := false
			for q := range nl {
				c := uint32(r.count(math.MaxUint32))
				if to[q] >= 0 && c > 0 {
					counts[to[q]] = c
					labeled = true
				}
			}
			counts[L] = uint32(r.count(math.MaxUint32))
			if r.err != nil {
				break
			}
			if k == "" || dicts[d][k] != nil {
				r.err = fmt.Errorf("%w: empty or repeated phrase", ErrSnapshot)
				break
			}
			if labeled {
				dicts[d][k] = counts
			}
		}
	}
	if err := r.end(); err != nil {
		return err
	}
	prefixes := map[string]uint32{}
	for k := range dicts[1] {
		for _, t := range tokenize(k, nil, true) {
			prefixes[k[:t.b1]]++
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exact, s.lower, s.prefixes, s.examples = dicts[0], dicts[1], prefixes, examples
	return nil
}
