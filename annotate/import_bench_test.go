package annotate_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/loupehq/loupe/annotate"
)

// BenchmarkReaders measures how fast each reader turns a file of short
// text items into records, the part of an import before the database.
func BenchmarkReaders(b *testing.B) {
	const n = 10000
	var jsonl, array, csv, text strings.Builder
	array.WriteString("[\n")
	csv.WriteString("id,text\n")
	for i := range n {
		t := fmt.Sprintf("Review %d: the kettle boils fast, and the lid sticks a little.", i)
		fmt.Fprintf(&jsonl, `{"id": "r%d", "data": {"text": %q}}`+"\n", i, t)
		if i > 0 {
			array.WriteString(",\n")
		}
		fmt.Fprintf(&array, `{"id": "r%d", "data": {"text": %q}}`, i, t)
		fmt.Fprintf(&csv, "r%d,\"%s\"\n", i, t)
		fmt.Fprintf(&text, "%s\n", t)
	}
	array.WriteString("\n]\n")
	for _, c := range []struct{ format, in string }{
		{"jsonl", jsonl.String()}, {"json", array.String()}, {"csv", csv.String()}, {"text", text.String()},
	} {
		b.Run(c.format, func(b *testing.B) {
			b.SetBytes(int64(len(c.in)))
			for b.Loop() {
				r, _ := annotate.NewItemReader(c.format, strings.NewReader(c.in), annotate.ReadOptions{})
				got := 0
				for {
					_, err := r.Next()
					if errors.Is(err, io.EOF) {
						break
					} else if err != nil {
						b.Fatal(err)
					}
					got++
				}
				if got != n {
					b.Fatalf("%d items, want %d", got, n)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
