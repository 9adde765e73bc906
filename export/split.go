package export

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/loupehq/loupe"
)

// Split divides an export into named parts by ratio, deterministically by
// item: an item's part depends on its id and the seed alone, so adding
// items to a project never moves the ones already exported. With Stratify
// set, the items of each value of that block are divided by the ratios on
// their own (see Run).
type Split struct {
	Parts    []SplitPart `json:"parts"`
	Seed     int64       `json:"seed"`
	Stratify string      `json:"stratify,omitempty"` // a block name, "" for none
}

// SplitPart is one named part and its share.
type SplitPart struct {
	Name  string  `json:"name"`
	Ratio float64 `json:"ratio"`
}

// ParseSplit reads "train=0.8,validation=0.1,test=0.1". Ratios must be
// positive and add up to 1 (within 0.001); names are letters, digits, _
// and -, each once.
func ParseSplit(s string) ([]SplitPart, error) {
	var parts []SplitPart
	seen := map[string]bool{}
	sum := 0.0
	for _, p := range strings.Split(s, ",") {
		name, ratio, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return nil, loupe.FieldErrorf("split", "split part %q is not NAME=RATIO (e.g. train=0.8,test=0.2)", p)
		}
		if !splitName(name) {
			return nil, loupe.FieldErrorf("split", "split name %q: use letters, digits, _ and -", name)
		}
		if seen[name] {
			return nil, loupe.FieldErrorf("split", "split %q is named twice", name)
		}
		seen[name] = true
		r, err := strconv.ParseFloat(ratio, 64)
		if err != nil || !(r > 0) || r > 1 || math.IsInf(r, 0) {
			return nil, loupe.FieldErrorf("split", "split %q: ratio %q is not a number above 0 and at most 1", name, ratio)
		}
		sum += r
		parts = append(parts, SplitPart{Name: name, Ratio: r})
	}
	if math.Abs(sum-1) > 0.001 {
		return nil, loupe.FieldErrorf("split", "split ratios add up to %g, not 1", sum)
	}
	return parts, nil
}

func splitName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// String writes the parts back as ParseSplit reads them.
func (s *Split) String() string {
	var b strings.Builder
	for i, p := range s.Parts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p.Name + "=" + strconv.FormatFloat(p.Ratio, 'g', -1, 64))
	}
	return b.String()
}

// Names returns the part names in order; nil for no split.
func (s *Split) Names() []string {
	if s == nil {
		return nil
	}
	out := make([]string, len(s.Parts))
	for i, p := range s.Parts {
		out[i] = p.Name
	}
	return out
}

// Position maps an item to a number in [0, 1): the first 8 bytes of
// SHA-256("SEED:ITEM_ID") over 2^64.
func (s *Split) Position(itemID string) float64 {
	h := sha256.Sum256([]byte(strconv.FormatInt(s.Seed, 10) + ":" + itemID))
	return float64(binary.BigEndian.Uint64(h[:8])>>11) / (1 << 53)
}

// Part returns the part whose share of [0, 1) holds position x.
func (s *Split) Part(x float64) string {
	acc := 0.0
	for _, p := range s.Parts {
		acc += p.Ratio
		if x < acc {
			return p.Name
		}
	}
	return s.Parts[len(s.Parts)-1].Name
}

// stratified assigns the items of one stratum: sorted by position, the
// first share goes to the first part and so on, with the sizes rounded
// by largest remainder so that every part gets its share of the stratum.
type stratum struct {
	items []stratumItem
}

type stratumItem struct {
	id  string
	pos float64
}

func (s *Split) assignStratum(st *stratum, into map[string]string) {
	sort.Slice(st.items, func(i, j int) bool {
		if st.items[i].pos != st.items[j].pos {
			return st.items[i].pos < st.items[j].pos
		}
		return st.items[i].id < st.items[j].id
	})
	n := len(st.items)
	sizes := make([]int, len(s.Parts))
	type rem struct {
		i int
		r float64
	}
	rems := make([]rem, len(s.Parts))
	total := 0
	for i, p := range s.Parts {
		exact := p.Ratio * float64(n)
		sizes[i] = int(math.Floor(exact))
		total += sizes[i]
		rems[i] = rem{i, exact - float64(sizes[i])}
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r > rems[b].r })
	for k := 0; total < n; k++ {
		sizes[rems[k%len(rems)].i]++
		total++
	}
	at := 0
	for i, size := range sizes {
		for _, it := range st.items[at : at+size] {
			into[it.id] = s.Parts[i].Name
		}
		at += size
	}
}

// MaxSnapshotName is the longest snapshot name.
const MaxSnapshotName = 100

// CheckSnapshotName refuses names that would not make a folder or a URL
// segment: letters, digits, '.', '_' and '-', not starting with '.'.
func CheckSnapshotName(name string) error {
	if name == "" || len(name) > MaxSnapshotName || strings.HasPrefix(name, ".") {
		return loupe.FieldErrorf("snapshot", "snapshot name %q: give 1 to %d letters, digits, '.', '_' or '-', not starting with '.'", name, MaxSnapshotName)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return loupe.FieldErrorf("snapshot", "snapshot name %q: use letters, digits, '.', '_' and '-'", name)
		}
	}
	return nil
}
