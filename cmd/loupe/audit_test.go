package main

// Tests of audit verify, audit export and agreement, on a project two
// labelers annotated.

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/feedback"
)

// auditAnswers are each labeler's sentiment per review: they agree on two
// items of three.
var auditAnswers = map[string]map[string]string{
	"ann": {"one": "positive", "two": "negative", "three": "neutral"},
	"bob": {"one": "positive", "two": "negative", "three": "positive"},
}

// auditDB returns a database holding the sentiment project with overlap 2,
// three items, and ann's and bob's answers (auditAnswers), submitted
// through storage.
func auditDB(t *testing.T) string {
	t.Helper()
	db := cliDB(t)
	mustCLI(t, "", "project", "create", "--config", writeTemp(t, "p.yaml", strings.Replace(cliConfig, "overlap: 1", "overlap: 2", 1)), "--db", db)
	mustCLI(t, "", "import", "--project", cliSlug, writeTemp(t, "i.jsonl", `{"review": "one"}`+"\n"+`{"review": "two"}`+"\n"+`{"review": "three"}`+"\n"), "--db", db)
	for _, name := range []string{"ann", "bob"} {
		mustCLI(t, "", "user", "add", name, "--role", "member", "--db", db)
		mustCLI(t, "", "project", "add-member", cliSlug, name, "--role", "labeler", "--db", db)
	}
	store := openStore(t, db)
	defer store.Close()
	ctx := context.Background()
	p, err := store.ProjectBySlug(ctx, cliSlug)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ann", "bob"} {
		u, err := store.UserByName(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			task, err := store.Next(ctx, p, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			v := auditAnswers[name][task.Item.Data["review"].(string)]
			sub := &annotate.Submission{ItemID: task.Item.ID, Values: map[string]json.RawMessage{"sentiment": json.RawMessage(`"` + v + `"`)}}
			if _, _, err := store.Submit(ctx, p, annotate.Access{User: u, Role: "labeler"}, sub); err != nil {
				t.Fatal(err)
			}
		}
	}
	return db
}

// chainFacts returns the project's id and, per chain, its event count and
// last hash, read through storage.
func chainFacts(t *testing.T, db string) (string, map[string]int, map[string]string) {
	t.Helper()
	store := openStore(t, db)
	defer store.Close()
	ctx := context.Background()
	p, err := store.ProjectBySlug(ctx, cliSlug)
	if err != nil {
		t.Fatal(err)
	}
	counts, last := map[string]int{}, map[string]string{}
	for _, chain := range []string{feedback.ServerChain, p.ID} {
		err := store.ChainEvents(ctx, chain, func(ev *feedback.Event) error {
			counts[chain]++
			last[chain] = ev.Hash
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return p.ID, counts, last
}

// tamper runs SQL on the database file behind Loupe's back, with the
// append-only triggers dropped.
func tamper(t *testing.T, db string, stmts ...string) {
	t.Helper()
	conn, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, s := range append([]string{"DROP TRIGGER IF EXISTS events_no_update", "DROP TRIGGER IF EXISTS events_no_delete"}, stmts...) {
		if _, err := conn.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestCLIAuditVerify(t *testing.T) {
	db := auditDB(t)
	projectID, counts, last := chainFacts(t, db)
	out := mustCLI(t, "", "audit", "verify", "--db", db)
	want := fmt.Sprintf("ok  (server)  %d events  last %s\nok  %s  %d events  last %s\nok: %d events in 2 chains\n",
		counts[""], last[""], cliSlug, counts[projectID], last[projectID], counts[""]+counts[projectID])
	if out != want {
		t.Errorf("audit verify printed\n%s\nwant\n%s", out, want)
	}
	// Two users and their memberships, a project, an import, six answers.
	if counts[""] != 2 || counts[projectID] < 10 {
		t.Errorf("chains hold %d server and %d project events, want 2 and at least 10", counts[""], counts[projectID])
	}
	out = mustCLI(t, "", "audit", "verify", "--project", cliSlug, "--db", db)
	if want := fmt.Sprintf("ok  %s  %d events  last %s\nok: %d events in 1 chain\n", cliSlug, counts[projectID], last[projectID], counts[projectID]); out != want {
		t.Errorf("audit verify --project printed %q, want %q", out, want)
	}
	// Every project is checked, by slug.
	mustCLI(t, "", "project", "create", "--config", writeTemp(t, "p.yaml", cliConfig), "--slug", "a-second", "--db", db)
	if out := mustCLI(t, "", "audit", "verify", "--db", db); !strings.Contains(out, "ok  a-second  1 event  last ") || !strings.Contains(out, "in 3 chains") {
		t.Errorf("audit verify with a second project printed:\n%s", out)
	}

	// Change one answer's event behind Loupe's back.
	var id string
	var seq int64
	func() {
		conn, err := sql.Open("sqlite", db)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.QueryRow(`SELECT id, chain_seq FROM events WHERE chain = ? AND kind = ? ORDER BY chain_seq LIMIT 1 OFFSET 1`,
			projectID, feedback.KindAnnotationCreated).Scan(&id, &seq); err != nil {
			t.Fatal(err)
		}
	}()
	tamper(t, db, fmt.Sprintf(`UPDATE events SET payload = '{"values":{"sentiment":"negative"}}' WHERE id = '%s'`, id))

	for _, args := range [][]string{{"audit", "verify", "--project", cliSlug}, {"audit", "verify"}} {
		code, out, errOut := runCLI(t, "", append(args, "--db", db)...)
		if code != 1 {
			t.Errorf("loupe %s after tampering = exit %d, want 1\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		failed := fmt.Sprintf("FAILED  %s  after %d good events: event %d (%s, %s): its content does not match its hash", cliSlug, seq-1, seq, id, feedback.KindAnnotationCreated)
		if !strings.Contains(out, failed) {
			t.Errorf("loupe %s after tampering printed\n%s\nwant a line %q", strings.Join(args, " "), out, failed)
		}
		if !strings.Contains(errOut, "changed outside Loupe") || strings.Contains(out, "ok: ") {
			t.Errorf("loupe %s after tampering: stdout %q, stderr %q: want no final ok, and a warning on stderr", strings.Join(args, " "), out, errOut)
		}
		if len(args) == 2 && (!strings.Contains(out, "ok  (server)  2 events") || !strings.Contains(out, "ok  a-second  1 event")) {
			t.Errorf("audit verify checks every chain after a failed one; printed\n%s", out)
		}
	}

	wantCLI(t, 1, []string{`project "nope" not found`}, "", "audit", "verify", "--project", "nope", "--db", db)
	wantCLI(t, 2, []string{"takes 0 argument"}, "", "audit", "verify", "extra", "--db", db)
	code, out, _ := runCLI(t, "", "audit", "verify", "--help")
	if code != 0 || !strings.Contains(out, "Usage: loupe audit verify") || !strings.Contains(out, "END of a chain") || !strings.Contains(out, "--expect-last") {
		t.Errorf("audit verify --help = %d %q: want the usage, saying that removing the end of a chain goes unseen", code, out)
	}
}

func TestCLIAuditVerifyExpectLast(t *testing.T) {
	db := auditDB(t)
	projectID, counts, last := chainFacts(t, db)
	hash := last[projectID]
	if out := mustCLI(t, "", "audit", "verify", "--project", cliSlug, "--expect-last", hash, "--db", db); !strings.Contains(out, "ok  "+cliSlug) {
		t.Errorf("--expect-last with the last hash printed %q", out)
	}
	// The chain grows (an export is recorded): the recorded event is still
	// in it.
	mustCLI(t, "", "export", "--project", cliSlug, "--db", db)
	out := mustCLI(t, "", "audit", "verify", "--project", cliSlug, "--expect-last", strings.ToUpper(hash), "--db", db)
	if want := fmt.Sprintf("(holds the expected event, number %d; 1 event since)", counts[projectID]); !strings.Contains(out, want) {
		t.Errorf("--expect-last after one more event printed %q, want %q", out, want)
	}
	// Removing the last events leaves a valid chain; only the recorded
	// hash shows it.
	tamper(t, db, fmt.Sprintf(`DELETE FROM events WHERE chain = '%s' AND chain_seq >= %d`, projectID, counts[projectID]-1))
	mustCLI(t, "", "audit", "verify", "--db", db)
	code, out, errOut := runCLI(t, "", "audit", "verify", "--project", cliSlug, "--expect-last", hash, "--db", db)
	if code != 1 || !strings.Contains(out, "FAILED  "+cliSlug) || !strings.Contains(out, "does not hold the expected event "+hash) ||
		!strings.Contains(errOut, "changed outside Loupe") {
		t.Errorf("--expect-last after the end of the chain was cut = exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	wantCLI(t, 2, []string{"--expect-last goes with --project"}, "", "audit", "verify", "--expect-last", hash, "--db", db)
	wantCLI(t, 2, []string{"--expect-last", "64 hex digits"}, "", "audit", "verify", "--project", cliSlug, "--expect-last", hash[:12], "--db", db)
}

// exportLines parses JSON Lines of events.
func exportLines(t *testing.T, data string) []*feedback.Event {
	t.Helper()
	var out []*feedback.Event
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		ev := &feedback.Event{}
		if err := json.Unmarshal(sc.Bytes(), ev); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		out = append(out, ev)
	}
	return out
}

// exportEvents returns the project's export.made events, newest first.
func exportEvents(t *testing.T, db string) []*feedback.Event {
	t.Helper()
	store := openStore(t, db)
	defer store.Close()
	ctx := context.Background()
	p, err := store.ProjectBySlug(ctx, cliSlug)
	if err != nil {
		t.Fatal(err)
	}
	evs, _, err := store.Events(ctx, feedback.EventFilter{Chain: p.ID, Kind: feedback.KindExportMade})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestCLIAuditExport(t *testing.T) {
	db := auditDB(t)
	projectID, counts, _ := chainFacts(t, db)
	file := filepath.Join(t.TempDir(), "audit.jsonl")

	// Run with a USER, to see who the export.made event names.
	var stdout, stderr syncBuffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string {
		if k == "USER" {
			return "auditor"
		}
		return ""
	}}
	if code := Run(context.Background(), []string{"audit", "export", "--project", cliSlug, "--out", file, "--db", db}, env); code != 0 {
		t.Fatalf("audit export --out = exit %d\n%s%s", code, &stdout, &stderr)
	}
	if want := fmt.Sprintf("Exported %d events to %s.\n", counts[projectID], file); stderr.String() != want || stdout.String() != "" {
		t.Errorf("audit export --out: stdout %q, stderr %q; want nothing and %q", &stdout, &stderr, want)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	all := exportLines(t, string(b))
	if len(all) != counts[projectID] {
		t.Fatalf("audit export wrote %d events, want %d", len(all), counts[projectID])
	}
	// Oldest first, the whole chain, and each line checks out on its own.
	var v feedback.Verifier
	for i, ev := range all {
		if ev.Chain != projectID || ev.ChainSeq != int64(i+1) {
			t.Errorf("line %d: chain %q event %d, want %q event %d", i+1, ev.Chain, ev.ChainSeq, projectID, i+1)
		}
		if err := v.Check(ev); err != nil {
			t.Errorf("line %d does not verify from the file alone: %v", i+1, err)
		}
	}

	made := exportEvents(t, db)
	if len(made) != 1 {
		t.Fatalf("after audit export, %d export.made events, want 1", len(made))
	}
	var payload map[string]any
	json.Unmarshal(made[0].Payload, &payload)
	if made[0].ActorName != "cli:auditor" || payload["what"] != "audit" || payload["format"] != "jsonl" || payload["events"] != float64(len(all)) {
		t.Errorf("export.made by %q with %s; want cli:auditor with what audit, format jsonl, events %d", made[0].ActorName, made[0].Payload, len(all))
	}
	if made[0].ChainSeq != int64(len(all))+1 {
		t.Errorf("export.made is event %d, want %d: right after the events exported", made[0].ChainSeq, len(all)+1)
	}

	// Filters, to standard output.
	for _, c := range []struct {
		name string
		args []string
		keep func(*feedback.Event) bool
	}{
		{"kind", []string{"--kind", feedback.KindAnnotationCreated}, func(ev *feedback.Event) bool { return ev.Kind == feedback.KindAnnotationCreated }},
		{"user", []string{"--user", "ann"}, func(ev *feedback.Event) bool { return ev.ActorName == "ann" }},
		{"actor without account", []string{"--user", "cli:unknown"}, func(ev *feedback.Event) bool { return ev.ActorName == "cli:unknown" }},
		{"user and kind", []string{"--user", "bob", "--kind", feedback.KindMemberAdded}, func(*feedback.Event) bool { return false }},
		{"block", []string{"--block", "sentiment"}, func(ev *feedback.Event) bool { return ev.Block == "sentiment" }},
		{"day of the first event", []string{"--from", all[0].At.Format(time.DateOnly), "--to", all[0].At.Format(time.DateOnly)},
			func(ev *feedback.Event) bool { return ev.At.Format(time.DateOnly) == all[0].At.Format(time.DateOnly) }},
		{"to the day before", []string{"--to", all[0].At.AddDate(0, 0, -1).Format(time.DateOnly)}, func(*feedback.Event) bool { return false }},
		{"from the day after", []string{"--from", all[len(all)-1].At.AddDate(0, 0, 1).Format(time.DateOnly)}, func(*feedback.Event) bool { return false }},
		{"from an instant", []string{"--from", all[4].At.Format(time.RFC3339Nano)}, func(ev *feedback.Event) bool { return !ev.At.Before(all[4].At) }},
		{"to an instant", []string{"--to", all[4].At.Format(time.RFC3339Nano)}, func(ev *feedback.Event) bool { return !ev.At.After(all[4].At) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := mustCLI(t, "", append([]string{"audit", "export", "--project", cliSlug, "--db", db}, c.args...)...)
			var want []int64
			for _, ev := range all {
				if c.keep(ev) {
					want = append(want, ev.ChainSeq)
				}
			}
			var got []int64
			for _, ev := range exportLines(t, out) {
				// Each export run here appends an export.made event:
				// compare the events of the first export only.
				if ev.ChainSeq <= int64(len(all)) {
					got = append(got, ev.ChainSeq)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("audit export %s wrote events %v, want %v", strings.Join(c.args, " "), got, want)
			}
		})
	}
	if n := len(exportLines(t, mustCLI(t, "", "audit", "export", "--project", cliSlug, "--kind", feedback.KindAnnotationCreated, "--db", db))); n != 6 {
		t.Errorf("audit export --kind %s wrote %d events, want the 6 answers", feedback.KindAnnotationCreated, n)
	}
	if n := len(exportLines(t, mustCLI(t, "", "audit", "export", "--project", cliSlug, "--user", "ann", "--db", db))); n != 3 {
		t.Errorf("audit export --user ann wrote %d events, want ann's 3 answers", n)
	}

	before := len(exportEvents(t, db))
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--kind", "annotation.made"}, []string{`--kind "annotation.made"`, feedback.KindAnnotationCreated, feedback.KindExportMade}},
		{[]string{"--from", "2024-02-30"}, []string{"--from", "2024-02-30"}},
		{[]string{"--from", "yesterday"}, []string{"--from", "RFC 3339"}},
		{[]string{"--to", "2024-01-01T10:00"}, []string{"--to"}},
		{[]string{"--from", "2024-02-02", "--to", "2024-02-01"}, []string{"--from 2024-02-02 is after --to 2024-02-01"}},
	} {
		wantCLI(t, 2, c.want, "", append([]string{"audit", "export", "--project", cliSlug, "--db", db}, c.args...)...)
	}
	wantCLI(t, 2, []string{"--project is required"}, "", "audit", "export", "--db", db)
	wantCLI(t, 1, []string{`project "nope" not found`}, "", "audit", "export", "--project", "nope", "--db", db)
	if after := len(exportEvents(t, db)); after != before {
		t.Errorf("refused audit exports recorded %d export.made events", after-before)
	}
}

func TestCLIExportRecorded(t *testing.T) {
	db := auditDB(t)
	mustCLI(t, "", "export", "--project", cliSlug, "--db", db)
	mustCLI(t, "", "export", "--project", cliSlug, "--out", filepath.Join(t.TempDir(), "a.jsonl"), "--db", db)
	made := exportEvents(t, db)
	if len(made) != 2 {
		t.Fatalf("after two exports, %d export.made events, want 2", len(made))
	}
	for _, ev := range made {
		var payload map[string]any
		json.Unmarshal(ev.Payload, &payload)
		if payload["what"] != "annotations" || payload["format"] != "jsonl" || payload["records"] != float64(3) || ev.ActorName != "cli:unknown" {
			t.Errorf("export.made by %s with %s, want what annotations, format jsonl, records 3, by cli:unknown", ev.ActorName, ev.Payload)
		}
	}
	// A failed export records nothing.
	wantCLI(t, 1, []string{"no-such-dir"}, "", "export", "--project", cliSlug, "--out", filepath.Join(t.TempDir(), "no-such-dir", "x.jsonl"), "--db", db)
	if n := len(exportEvents(t, db)); n != 2 {
		t.Errorf("a failed export recorded an export.made event (%d in all)", n)
	}
}

func TestCLIAgreement(t *testing.T) {
	db := auditDB(t)
	out := mustCLI(t, "", "agreement", "--project", cliSlug, "--db", db)
	// ann and bob agree on two items of three. Cohen's kappa: p_o = 2/3,
	// p_e = 1/3·2/3 + 1/3·1/3 = 1/3, κ = 0.5. Fleiss: P_e = (3/6)² + (2/6)²
	// + (1/6)² = 14/36, κ = (2/3 − 14/36)/(1 − 14/36) = 0.455. Alpha:
	// 1 − 5·2/(36 − 14) = 0.545.
	for _, re := range []string{
		`2 labelers \(ann, bob\)`,
		`(?m)^sentiment \(choice\): a unit is the chosen option$`,
		`3 items, 3 units`,
		`percent agreement +66\.7%`,
		`Fleiss' kappa +0\.455`,
		`Krippendorff's alpha +0\.545`,
		`(?m)^  ann +bob +3 +66\.7% +0\.500$`,
		`(?m)^  ann +3 +3 +0 +66\.7%$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("agreement printed\n%s\nwant it to match %s", out, re)
		}
	}

	out = mustCLI(t, "", "agreement", "--project", cliSlug, "--json", "--db", db)
	var r feedback.AgreementReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("agreement --json: %v\n%s", err, out)
	}
	b, ok := r.Block("sentiment")
	if !ok || r.Items != 3 || b.PercentAgreement.Percent() != "66.7%" || b.KrippendorffAlpha.String() != "0.545" || len(b.Pairs) != 1 || b.Pairs[0].Kappa.String() != "0.500" {
		t.Errorf("agreement --json = %s: want 3 items, sentiment at 66.7%%, alpha 0.545, one pair at kappa 0.500", out)
	}

	// A project nobody annotated twice.
	mustCLI(t, "", "project", "create", "--config", writeTemp(t, "p.yaml", cliConfig), "--slug", "fresh", "--db", db)
	out = mustCLI(t, "", "agreement", "--project", "fresh", "--db", db)
	if !strings.Contains(out, "No item of fresh has been annotated by two labelers yet") || !strings.Contains(out, "overlap") {
		t.Errorf("agreement without data printed %q", out)
	}
	out = mustCLI(t, "", "agreement", "--project", "fresh", "--json", "--db", db)
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Items != 0 {
		t.Errorf("agreement --json without data = %s (%v), want a report of 0 items", out, err)
	}

	wantCLI(t, 2, []string{"--project is required"}, "", "agreement", "--db", db)
	wantCLI(t, 2, []string{"--min-iou"}, "", "agreement", "--project", cliSlug, "--min-iou", "0", "--db", db)
	wantCLI(t, 2, []string{"--min-iou"}, "", "agreement", "--project", cliSlug, "--min-iou", "1.5", "--db", db)
	wantCLI(t, 1, []string{`project "nope" not found`}, "", "agreement", "--project", "nope", "--db", db)
}

func TestCLIAuditHelp(t *testing.T) {
	db := cliDB(t)
	for _, cmd := range [][]string{{"audit", "verify"}, {"audit", "export"}, {"agreement"}} {
		code, out, errOut := runCLI(t, "", append(cmd, "--help", "--db", db)...)
		usage := "Usage: loupe " + strings.Join(cmd, " ")
		if code != 0 || errOut != "" || strings.Count(out, usage) != 1 || !strings.Contains(out, "the SQLite database") {
			t.Errorf("loupe %s --help = exit %d, stdout %q, stderr %q; want exit 0, the usage once and the flags", strings.Join(cmd, " "), code, out, errOut)
		}
	}
	for _, args := range [][]string{{"audit", "--help"}, {"help"}} {
		if code, out, _ := runCLI(t, "", args...); code != 0 || !strings.Contains(out, "loupe audit verify") || !strings.Contains(out, "loupe agreement --project") {
			t.Errorf("loupe %s = %d %q, want the usage naming audit verify and agreement", strings.Join(args, " "), code, out)
		}
	}
	wantCLI(t, 2, []string{"audit needs a subcommand"}, "", "audit")
	wantCLI(t, 2, []string{`unknown command "audit frob"`}, "", "audit", "frob")
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("--help created the database file (%v)", err)
	}
}
