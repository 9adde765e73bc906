package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/feedback"
	"github.com/loupehq/loupe/storage"
)

const verifyUsage = `audit verify [--project SLUG [--expect-last HASH]] [--db FILE]

Checks the hash chain of a project's history, or of every chain (the
server's, for users and tokens, and each project's): that no event was
changed, removed or put out of place since Loupe wrote it. It prints one
line per chain and exits with status 1 if any chain fails.

Removing events from the END of a chain leaves a shorter chain that is
still valid: the chain alone cannot show it. Record the printed last hash
somewhere else (a ticket, a signed note, another machine), and check later
with --expect-last that the chain still holds that event.`

// runAuditVerify verifies one chain (--project) or every chain, printing a
// line per chain, and fails (exit 1) after checking them all if any does
// not verify.
func runAuditVerify(ctx context.Context, args []string, env *Env) error {
	fs := newFlags("audit verify", verifyUsage, env)
	db := dbFlag(fs)
	slug := fs.String("project", "", "verify only the chain of the project with this `slug`")
	expect := fs.String("expect-last", "", "with --project: a last `hash` printed earlier; fail unless the chain still holds that event")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	*expect = strings.ToLower(strings.TrimSpace(*expect))
	if *expect != "" {
		if *slug == "" {
			return fmt.Errorf("%w: --expect-last goes with --project", errUsage)
		}
		if b, err := hex.DecodeString(*expect); err != nil || len(b) != 32 {
			return fmt.Errorf("%w: --expect-last %q is not an event hash: want the 64 hex digits audit verify prints after \"last\"", errUsage, *expect)
		}
	}
	d, err := openDB(*db)
	if err != nil {
		return err
	}
	defer d.Close()

	type chain struct{ id, name string }
	var chains []chain
	if *slug != "" {
		p, err := d.ProjectBySlug(ctx, *slug)
		if err != nil {
			return err
		}
		chains = append(chains, chain{p.ID, p.Slug})
	} else {
		// Every project, with events or not, then chains whose project is
		// gone (history outlives what it describes).
		ids, err := d.Chains(ctx)
		if err != nil {
			return err
		}
		ps, err := d.AllProjects(ctx)
		if err != nil {
			return err
		}
		chains = append(chains, chain{feedback.ServerChain, "(server)"})
		known := map[string]bool{feedback.ServerChain: true}
		for _, p := range ps {
			chains = append(chains, chain{p.ID, p.Slug})
			known[p.ID] = true
		}
		for _, id := range ids {
			if !known[id] {
				chains = append(chains, chain{id, id})
			}
		}
	}

	var total int64
	var failed []string
	for _, c := range chains {
		rep := d.VerifyChain(ctx, c.id)
		if err := ctx.Err(); err != nil {
			return err
		}
		total += rep.Events
		if rep.Err != nil {
			fmt.Fprintf(env.Stdout, "FAILED  %s  after %s: %s\n", c.name, plural(rep.Events, "good event"), rep.Err)
			failed = append(failed, c.name)
			continue
		}
		if *expect != "" && rep.LastHash != *expect {
			at, err := eventWithHash(ctx, d, c.id, *expect)
			if err != nil {
				return err
			}
			if at == 0 {
				fmt.Fprintf(env.Stdout, "FAILED  %s  %s  last %s: the chain does not hold the expected event %s: events were removed from its end (or the hash is from another chain)\n",
					c.name, plural(rep.Events, "event"), orNone(rep.LastHash), *expect)
				failed = append(failed, c.name)
				continue
			}
			fmt.Fprintf(env.Stdout, "ok  %s  %s  last %s  (holds the expected event, number %d; %s since)\n", c.name, plural(rep.Events, "event"), rep.LastHash, at, plural(rep.Events-at, "event"))
			continue
		}
		fmt.Fprintf(env.Stdout, "ok  %s  %s  last %s\n", c.name, plural(rep.Events, "event"), orNone(rep.LastHash))
	}
	if len(failed) > 0 {
		return fmt.Errorf("the history of %s was changed outside Loupe (see FAILED above)", strings.Join(failed, ", "))
	}
	fmt.Fprintf(env.Stdout, "ok: %s in %s\n", plural(total, "event"), plural(int64(len(chains)), "chain"))
	return nil
}

// plural writes a count and a noun, adding an s unless the count is 1.
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func orNone(hash string) string {
	if hash == "" {
		return "(none)"
	}
	return hash
}

// eventWithHash returns the position in the chain of the event with the
// hash, or 0 when the chain holds none.
func eventWithHash(ctx context.Context, d *storage.DB, chain, hash string) (int64, error) {
	var at int64
	found := errors.New("found")
	err := d.ChainEvents(ctx, chain, func(ev *feedback.Event) error {
		if ev.Hash == hash {
			at = ev.ChainSeq
			return found
		}
		return nil
	})
	if err != nil && !errors.Is(err, found) {
		return 0, err
	}
	return at, nil
}

// parseEventTime reads --from or --to: a date (YYYY-MM-DD, UTC) or an RFC
// 3339 time. It returns the start of the range it names: the day's start,
// or the instant; and its end (exclusive): the next day's start, or just
// after the instant (event times are whole microseconds).
func parseEventTime(s string) (start, end time.Time, err error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, t.AddDate(0, 0, 1), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, time.Time{}, errors.New("want a date (2006-01-02, UTC) or an RFC 3339 time (2006-01-02T15:04:05Z)")
	}
	t = t.UTC()
	return t, t.Truncate(time.Microsecond).Add(time.Microsecond), nil
}

func runAuditExport(ctx context.Context, args []string, env *Env) error {
	fs := newFlags("audit export", `audit export --project SLUG [--out FILE] [--user NAME] [--kind KIND] [--block NAME] [--from DATE] [--to DATE] [--db FILE]

Writes the project's history as JSON Lines, one event per line, oldest
first. Each line holds the event's hash and the hash before it, so the
file can be checked on its own. The export is itself recorded in the
history (an export.made event), after the file is written: that event is
not in the file.

DATE is a day (2024-05-31, UTC) or an RFC 3339 time (2024-05-31T14:00:00+02:00).
--from and --to are both inclusive: --to 2024-05-31 takes the whole of that day.`, env)
	db := dbFlag(fs)
	slug := fs.String("project", "", "the project's `slug` (required)")
	out := fs.String("out", "", "write to `file` instead of standard output; written whole or not at all")
	user := fs.String("user", "", "only events by the user with this `name`, or by an actor without an account (cli:NAME, loupe)")
	kind := fs.String("kind", "", "only events of this `kind`: "+strings.Join(feedback.Kinds, ", "))
	block := fs.String("block", "", "only events about the block with this `name`")
	fromFlag := fs.String("from", "", "only events at or after `DATE`")
	toFlag := fs.String("to", "", "only events at or before `DATE` (a day: to its end)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *slug == "" {
		return fmt.Errorf("%w: --project is required", errUsage)
	}
	f := feedback.EventFilter{Actor: *user, Kind: *kind, Block: *block}
	if *kind != "" && !slices.Contains(feedback.Kinds, *kind) {
		return fmt.Errorf("%w: --kind %q is not an event kind; kinds: %s", errUsage, *kind, strings.Join(feedback.Kinds, ", "))
	}
	if *fromFlag != "" {
		start, _, err := parseEventTime(*fromFlag)
		if err != nil {
			return fmt.Errorf("%w: --from %q: %v", errUsage, *fromFlag, err)
		}
		f.From = start
	}
	if *toFlag != "" {
		_, end, err := parseEventTime(*toFlag)
		if err != nil {
			return fmt.Errorf("%w: --to %q: %v", errUsage, *toFlag, err)
		}
		f.To = end
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return fmt.Errorf("%w: --from %s is after --to %s", errUsage, *fromFlag, *toFlag)
	}
	d, p, err := openProject(ctx, *db, *slug)
	if err != nil {
		return err
	}
	defer d.Close()
	f.Chain = p.ID

	write := func(w io.Writer) (int, error) {
		bw := bufio.NewWriter(w)
		enc := json.NewEncoder(bw)
		// Payloads are written byte for byte as stored (and hashed), so
		// that the file can be checked without the database.
		enc.SetEscapeHTML(false)
		n := 0
		err := d.EachEvent(ctx, f, func(ev *feedback.Event) error {
			if err := enc.Encode(ev); err != nil {
				return fmt.Errorf("event %d (%s): %w", ev.ChainSeq, ev.ID, err)
			}
			n++
			return nil
		})
		if err != nil {
			return n, err
		}
		return n, bw.Flush()
	}
	n, err := writeExport(env, *out, "events", write)
	if err != nil {
		return err
	}
	return recordExport(ctx, d, p, map[string]any{"what": "audit", "events": n, "format": "jsonl"})
}

// recordExport records in the project's history an export that was
// written.
func recordExport(ctx context.Context, d *storage.DB, p *annotate.Project, what map[string]any) error {
	if err := d.RecordExport(ctx, p.ID, what); err != nil {
		return fmt.Errorf("the export was written, but recording it in the history of %s failed: %w", p.Slug, err)
	}
	return nil
}

func runAgreement(ctx context.Context, args []string, env *Env) error {
	fs := newFlags("agreement", `agreement --project SLUG [--json] [--span-overlap] [--min-iou X] [--db FILE]

How much the labelers agree, per labeling block, over the items two
labelers or more annotated (each labeler's own last answer; a reviewer's
fix does not count): percent agreement, Fleiss' kappa, Krippendorff's
alpha, Cohen's kappa per pair of labelers and each labeler's agreement
with the others' majority. docs/agreement.md explains the figures and how
spans and boxes are matched.`, env)
	db := dbFlag(fs)
	slug := fs.String("project", "", "the project's `slug` (required)")
	asJSON := fs.Bool("json", false, "print the report as JSON (undefined figures are null)")
	spanOverlap := fs.Bool("span-overlap", false, "match spans of different labelers that overlap by --min-iou, not only identical ranges")
	minIoU := fs.Float64("min-iou", feedback.DefaultMinIoU, "the least intersection over union, `X` in (0, 1], for two boxes (or, with --span-overlap, spans) to be one unit")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *slug == "" {
		return fmt.Errorf("%w: --project is required", errUsage)
	}
	if !(*minIoU > 0 && *minIoU <= 1) {
		return fmt.Errorf("%w: --min-iou must be above 0 and at most 1, got %v", errUsage, *minIoU)
	}
	d, p, err := openProject(ctx, *db, *slug)
	if err != nil {
		return err
	}
	defer d.Close()
	c := feedback.NewAgreementCounter(p.Config.Interface(), feedback.AgreementOptions{SpanOverlap: *spanOverlap, MinIoU: *minIoU})
	err = d.AgreementItems(ctx, p.ID, func(it feedback.ItemAnswers) error {
		c.Add(it)
		return nil
	})
	if err != nil {
		return err
	}
	r := c.Report()
	if *asJSON {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(env.Stdout, "%s\n", b)
		return err
	}
	return printAgreement(env.Stdout, p, r)
}

// printAgreement writes the report as text: a section per labeling block.
func printAgreement(w io.Writer, p *annotate.Project, r *feedback.AgreementReport) error {
	if r.Items == 0 {
		msg := fmt.Sprintf("No item of %s has been annotated by two labelers yet: there is no agreement to measure.", p.Slug)
		if p.Config.Overlap < 2 {
			msg += fmt.Sprintf("\nIts config asks for %d annotation per item: set overlap to 2 or more to have items labeled twice.", p.Config.Overlap)
		}
		_, err := fmt.Fprintln(w, msg)
		return err
	}
	if len(r.Blocks) == 0 {
		_, err := fmt.Fprintf(w, "%s has no labeling blocks: agreement is measured on those only.\n", p.Slug)
		return err
	}
	fmt.Fprintf(w, "Agreement in %s: %d items annotated by two labelers or more; %d labelers (%s).\n",
		p.Slug, r.Items, len(r.Labelers), strings.Join(r.Labelers, ", "))
	for _, b := range r.Blocks {
		fmt.Fprintf(w, "\n%s (%s): a unit is %s\n", b.Block, b.Kind, b.Rule)
		fmt.Fprintf(w, "  %d items, %d units, %d of them answered by two labelers or more (%d answers)\n", b.Items, b.Units, b.PairableUnits, b.Values)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  percent agreement\t%s\n", b.PercentAgreement.Percent())
		fmt.Fprintf(tw, "  Fleiss' kappa\t%s\n", b.FleissKappa)
		fmt.Fprintf(tw, "  Krippendorff's alpha\t%s\n", b.KrippendorffAlpha)
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(b.Pairs) > 0 {
			fmt.Fprintln(w)
			tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  labeler A\tlabeler B\tshared units\tagreement\tCohen's kappa")
			for _, pa := range b.Pairs {
				fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", pa.A, pa.B, pa.Units, pa.Agreement.Percent(), pa.Kappa)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		if len(b.Labelers) > 0 {
			fmt.Fprintln(w)
			tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  labeler\tunits\tcompared\tties\tagreement with the others' majority")
			for _, l := range b.Labelers {
				fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%s\n", l.Labeler, l.Units, l.Compared, l.Ties, l.Consensus.Percent())
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		for _, n := range b.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
	}
	return nil
}
