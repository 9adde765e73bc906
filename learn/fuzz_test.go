package learn

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// withChecksum rewrites b's trailing checksum, so that the fuzzer reaches
// the parser instead of stopping at the checksum.
func withChecksum(b []byte) []byte {
	if len(b) < 4 {
		return b
	}
	body := b[:len(b)-4]
	return binary.LittleEndian.AppendUint32(body[:len(body):len(body)], crc32.ChecksumIEEE(body))
}

// FuzzClassifierSnapshot checks that no snapshot, however damaged, makes
// UnmarshalBinary or a later Predict, Learn or Unlearn panic.
func FuzzClassifierSnapshot(f *testing.F) {
	for _, multi := range []bool{false, true} {
		c := NewClassifier([]string{"a", "b", "c"}, multi)
		c.Learn("a good film", []string{"a"})
		c.Learn("a bad film", []string{"b", "c"})
		b, _ := c.MarshalBinary()
		f.Add(b, multi)
	}
	f.Fuzz(func(t *testing.T, b []byte, multi bool) {
		c := NewClassifier([]string{"b", "a", "d"}, multi)
		if c.UnmarshalBinary(withChecksum(b)) != nil {
			return
		}
		c.Predict("a good film")
		c.Learn("a fine film", []string{"a"})
		c.Unlearn("a bad film", []string{"b"})
		c.Margin("bad")
		if _, err := c.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzSpanSnapshot does the same for the span suggester.
func FuzzSpanSnapshot(f *testing.F) {
	s := NewSpanSuggester([]string{"PER", "LOC"})
	text := "Anna Berg lives in Tromsø, Tromsø"
	s.Learn(text, spansOf(text, "Anna Berg", "PER", "Tromsø", "LOC"))
	b, _ := s.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewSpanSuggester([]string{"LOC", "ORG"})
		if s.UnmarshalBinary(withChecksum(b)) != nil {
			return
		}
		checkSpans(t, text+" and tromsø", s.Suggest(text+" and tromsø"))
		s.Learn(text, spansOf(text, "Tromsø", "LOC"))
		s.Unlearn(text, spansOf(text, "Anna Berg", "PER"))
	})
}

// FuzzSuggest checks the invariants of suggestions on any text.
func FuzzSuggest(f *testing.F) {
	f.Add("Anna Berg lives in Tromsø 🚀, near Annapolis; Anna's cat")
	f.Add("東京タワー e\u0301 O'Neil's")
	f.Add("000\xac00") // invalid UTF-8: a bad byte is one code point
	f.Fuzz(func(t *testing.T, text string) {
		s := NewSpanSuggester([]string{"PER", "LOC"})
		s.Learn("Anna Berg, Tromsø, e\u0301, 東京, O'Neil", spansOf("Anna Berg, Tromsø, e\u0301, 東京, O'Neil", "Anna Berg", "PER", "Tromsø", "LOC", "e\u0301", "PER", "東京", "LOC", "O'Neil", "PER"))
		// Learning the text itself, with a span over all of it, must
		// not panic either, and Unlearn must take it back.
		n := len([]rune(text))
		spans := []Span{{Start: 0, End: n, Label: "LOC"}, {Start: n / 2, End: n, Label: "PER"}}
		before, _ := s.MarshalBinary()
		s.Learn(text, spans)
		checkSpans(t, text, s.Suggest(text))
		if err := s.Unlearn(text, spans); err != nil {
			t.Fatal(err)
		}
		if after, _ := s.MarshalBinary(); string(after) != string(before) {
			t.Fatal("Unlearn did not restore the state")
		}
		var sc scratch
		sc.features(text)
	})
}
