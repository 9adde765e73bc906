package annotate_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

func TestSlugify(t *testing.T) {
	tests := map[string]string{
		"Product review sentiment":  "product-review-sentiment",
		"  NER: people & places!! ": "ner-people-places",
		"Ünïcode only ☃":            "n-code-only",
		"☃☃":                        "project",
		strings.Repeat("a", 100):    strings.Repeat("a", 64),
	}
	for in, want := range tests {
		if got := annotate.Slugify(in); got != want {
			t.Errorf("Slugify(%q) = %q, want %q", in, got, want)
		}
		if err := annotate.ValidateSlug(annotate.Slugify(in)); err != nil {
			t.Errorf("Slugify(%q) is not a valid slug: %v", in, err)
		}
	}
	for _, bad := range []string{"", "-x", "A", "a b", "a/b", "a_b", strings.Repeat("a", 65)} {
		if err := annotate.ValidateSlug(bad); loupe.ErrorCode(err) != loupe.EINVALID {
			t.Errorf("ValidateSlug(%q) = %v, want EINVALID", bad, err)
		}
	}
}

func TestCheckBase(t *testing.T) {
	cur := &annotate.Annotation{Version: 3}
	tests := []struct {
		cur  *annotate.Annotation
		base int
		want string
	}{
		{nil, 0, ""},
		{nil, 2, loupe.EINVALID},
		{cur, 0, loupe.ECONFLICT},
		{cur, 2, loupe.ECONFLICT},
		{cur, 4, loupe.ECONFLICT},
		{cur, 3, ""},
	}
	for _, tt := range tests {
		if got := loupe.ErrorCode(annotate.CheckBase(tt.cur, tt.base)); got != tt.want {
			t.Errorf("CheckBase(%v, %d) = %q, want %q", tt.cur, tt.base, got, tt.want)
		}
	}
}

func TestAccess(t *testing.T) {
	admin := &loupe.User{Role: loupe.RoleAdmin}
	member := &loupe.User{Role: loupe.RoleMember}
	disabled := &loupe.User{Role: loupe.RoleMember, Disabled: true}
	tests := []struct {
		name                        string
		a                           annotate.Access
		view, label, manage, seeAll bool
	}{
		{"admin, not a member", annotate.Access{User: admin}, true, true, true, true},
		{"stranger", annotate.Access{User: member}, false, false, false, false},
		{"labeler", annotate.Access{User: member, Role: annotate.RoleLabeler}, true, true, false, false},
		{"reviewer", annotate.Access{User: member, Role: annotate.RoleReviewer}, true, false, false, true},
		{"manager", annotate.Access{User: member, Role: annotate.RoleManager}, true, true, true, true},
		{"disabled manager", annotate.Access{User: disabled, Role: annotate.RoleManager}, false, false, false, false},
	}
	for _, tt := range tests {
		a := tt.a
		if a.CanView() != tt.view || a.CanLabel() != tt.label || a.CanManage() != tt.manage || a.CanSeeAllItems() != tt.seeAll || a.CanExport() != tt.manage {
			t.Errorf("%s: view %v label %v manage %v seeAll %v; want %v %v %v %v", tt.name,
				a.CanView(), a.CanLabel(), a.CanManage(), a.CanSeeAllItems(), tt.view, tt.label, tt.manage, tt.seeAll)
		}
	}
}

func decodeAll(t *testing.T, in string) ([]*annotate.ItemRecord, []error) {
	t.Helper()
	dec := annotate.NewItemDecoder(strings.NewReader(in))
	var recs []*annotate.ItemRecord
	var errs []error
	for {
		rec, err := dec.Next()
		if errors.Is(err, io.EOF) {
			return recs, errs
		} else if err != nil {
			errs = append(errs, err)
			continue
		}
		recs = append(recs, rec)
	}
}

func TestItemDecoder(t *testing.T) {
	in := "\xef\xbb\xbf{\"id\": \"a\", \"data\": {\"text\": \"x\"}}\r\n" + // BOM, CRLF
		"\n" + // blank
		"{\"text\": \"flat\", \"data\": {\"nested\": true}, \"n\": 1.50}\n" + // flat: has fields beside data
		"{\"id\": 42, \"data\": {\"text\": \"num id\"}}\n" +
		"{\"id\": 4.2, \"data\": {\"text\": \"bad id\"}}\n" +
		"{\"text\": \"no newline at end\"}"
	recs, errs := decodeAll(t, in)
	if len(recs) != 4 || len(errs) != 1 {
		t.Fatalf("got %d records and %d errors (%v), want 4 and 1", len(recs), len(errs), errs)
	}
	if recs[0].ExternalID != "a" || recs[0].Line != 1 || recs[0].Data["text"] != "x" {
		t.Errorf("record 0 = %+v", recs[0])
	}
	if recs[1].ExternalID != "" || recs[1].Line != 3 || recs[1].Data["data"] == nil {
		t.Errorf("flat record = %+v, want data kept whole", recs[1])
	}
	if got := string(recs[1].DataJSON); got != `{"data":{"nested":true},"n":1.50,"text":"flat"}` {
		t.Errorf("canonical JSON = %s (numbers must keep their digits, keys sorted)", got)
	}
	if recs[2].ExternalID != "42" {
		t.Errorf("numeric id = %q, want \"42\"", recs[2].ExternalID)
	}
	if msg := loupe.ErrorMessage(errs[0]); msg != "line 5: id: a numeric id must be a whole number" {
		t.Errorf("error = %q", msg)
	}
	if recs[3].Line != 6 {
		t.Errorf("last line = %d, want 6", recs[3].Line)
	}
	// The same data gives the same hash whatever its key order and spacing.
	a, _ := decodeAll(t, `{"b": 1, "a": "x"}`)
	b, _ := decodeAll(t, `{ "a" : "x" , "b" : 1 }`)
	if a[0].Hash != b[0].Hash {
		t.Error("hash depends on key order or spacing")
	}
}

func TestItemDecoderErrors(t *testing.T) {
	tests := map[string]string{
		"{":                            "line 1: not a JSON object: the line ends before the JSON value does",
		`"text"`:                       "line 1: not a JSON object: expected an object, got string",
		"null":                         "line 1: expected a JSON object, got null",
		"{}":                           "line 1: data is empty",
		`{"data": {}}`:                 "line 1: data is empty",
		`{"id": "", "data": {"a": 1}}`: "line 1: id: must not be empty",
		"{\"a\": \"\xc3\x28\"}":        "line 1: not valid UTF-8",
		`{"a": 1} x`:                   "line 1: more than one JSON value on the line",
		`{"a": tru}`:                   "line 1: not a JSON object: invalid character '}' in literal true (expecting 'e') (column 10)",
	}
	for in, want := range tests {
		_, errs := decodeAll(t, in)
		if len(errs) != 1 || loupe.ErrorMessage(errs[0]) != want {
			t.Errorf("%q: errors %v, want %q", in, errs, want)
		}
	}
}
