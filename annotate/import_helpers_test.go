package annotate_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
)

// importConfig is a project with a block of every kind the import formats
// map to.
const importConfig = `title: Import
blocks:
  - {type: text, field: text}
  - {type: choice, name: sentiment, options: [positive, negative]}
  - {type: multichoice, name: topics, options: [food, travel, sport]}
  - {type: spans, name: ents, field: text, labels: [PER, LOC]}
  - {type: rating, name: quality}
`

func mustInterface(t testing.TB, config string) *blocks.Interface {
	t.Helper()
	cfg, err := blocks.ParseConfig([]byte(config))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Interface()
}

// readItems reads every item of in, in the format, and the message of
// every error; it fails the test on an error that is not EINVALID or does
// not name a line.
func readItems(t testing.TB, format, in string, opt annotate.ReadOptions) ([]*annotate.ItemRecord, []string) {
	t.Helper()
	r, err := annotate.NewItemReader(format, strings.NewReader(in), opt)
	if err != nil {
		t.Fatalf("NewItemReader(%s): %v", format, err)
	}
	return drain(t, r, len(in)+10)
}

func drain(t testing.TB, r annotate.ItemReader, maxCalls int) ([]*annotate.ItemRecord, []string) {
	t.Helper()
	var recs []*annotate.ItemRecord
	var msgs []string
	for range maxCalls {
		rec, err := r.Next()
		switch {
		case errors.Is(err, io.EOF):
			return recs, msgs
		case err != nil:
			if loupe.ErrorCode(err) != loupe.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			msgs = append(msgs, loupe.ErrorMessage(err))
		case rec == nil:
			t.Fatal("Next returned neither an item nor an error")
		default:
			recs = append(recs, rec)
		}
	}
	t.Fatalf("the reader did not end after %d calls", maxCalls)
	return nil, nil
}

// wantMessages compares error messages with the wanted ones.
func wantMessages(t testing.TB, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: errors\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func errMessage(err error) string {
	if err == nil {
		return ""
	}
	return loupe.ErrorMessage(err)
}
