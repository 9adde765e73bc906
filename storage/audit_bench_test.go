package storage_test

import (
	"context"
	"database/sql"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/loupehq/loupe/feedback"
	"github.com/loupehq/loupe/storage"
)

var auditEvents = flag.Int("audit-events", 1_000_000, "events in the audit log benchmark's project")

// auditFixture is a project whose history holds n events: a realistic mix
// of kinds (mostly annotations, some feedback, reviews, skips), ten
// actors, three blocks, one event a second. The rows are written straight
// into the table (their hashes are not a chain): the benchmark measures
// reading the log, not writing it.
func auditFixture(b *testing.B, n int) (*storage.DB, string, time.Time) {
	b.Helper()
	f := newFixture(b, sentimentConfig, 0, 10)
	ctx := context.Background()
	start := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC) // after the fixture's own events: times never go backwards in a chain
	var ids []string
	for _, u := range f.labelers {
		ids = append(ids, `"`+u.ID+`"`)
	}
	err := f.db.ExecForTest(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO events (id, chain, chain_seq, at, actor_id, actor_name, kind, item_id, annotation_id, annotation_version,
			prediction_id, block, payload, prev_hash, hash)
		SELECT 'ev-' || i, ?, 100 + i, strftime('%Y-%m-%dT%H:%M:%S.000000Z', ?, '+' || i || ' seconds'),
			json_extract(?, '$[' || (i % 10) || ']'), 'labeler' || (i % 10),
			CASE WHEN i % 50 = 0 THEN 'review.approved' WHEN i % 10 = 0 THEN 'feedback' WHEN i % 7 = 0 THEN 'item.skipped' ELSE 'annotation.created' END,
			'item-' || (i / 3), '', 0, '',
			CASE WHEN i % 10 = 0 THEN 'helpful' WHEN i % 3 = 0 THEN 'sentiment' ELSE '' END,
			'{"values":{"sentiment":"positive"}}', '', printf('%064d', i)
		FROM n`, n, f.project.ID, start.Format(time.RFC3339), "["+strings.Join(ids, ",")+"]")
	if err != nil {
		b.Fatal(err)
	}
	if err := f.db.ExecForTest(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	return f.db, f.project.ID, start
}

// BenchmarkAuditPage reads one page (100 events) of a project's audit log
// at 1M events: the newest page, a page deep in the log (keyset), and
// pages filtered by kind, user, block and date range, each deep in the
// log. The baseline is the bare keyset query on the table's primary key,
// run on the same file.
func BenchmarkAuditPage(b *testing.B) {
	db, chain, start := auditFixture(b, *auditEvents)
	ctx := context.Background()
	mid := int64(*auditEvents / 2)
	// at is the time of the event at a share of the log.
	at := func(share float64) time.Time {
		return start.Add(time.Duration(share*float64(*auditEvents)) * time.Second)
	}
	cases := []struct {
		name string
		f    feedback.EventFilter
	}{
		{"newest", feedback.EventFilter{}},
		{"deep", feedback.EventFilter{Before: mid}},
		{"kind-deep", feedback.EventFilter{Kind: feedback.KindReviewApproved, Before: mid}},
		{"user-deep", feedback.EventFilter{Actor: "labeler3", Before: mid}},
		{"block-deep", feedback.EventFilter{Block: "sentiment", Before: mid}},
		{"date-range", feedback.EventFilter{From: at(0.2), To: at(0.2).Add(time.Hour)}},
		{"date-kind", feedback.EventFilter{Kind: feedback.KindFeedback, From: at(0.3), To: at(0.3).Add(24 * time.Hour)}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			c.f.Chain, c.f.Limit = chain, 100
			for b.Loop() {
				evs, _, err := db.Events(ctx, c.f)
				if err != nil || len(evs) != 100 {
					b.Fatalf("%d events, %v", len(evs), err)
				}
			}
		})
	}
	b.Run("raw-baseline", func(b *testing.B) {
		raw, err := sql.Open("sqlite", "file:"+db.Path()+"?_pragma=query_only(1)")
		if err != nil {
			b.Fatal(err)
		}
		defer raw.Close()
		st, err := raw.Prepare(`SELECT seq, id, chain, chain_seq, at, actor_id, actor_name, kind, item_id, annotation_id,
			annotation_version, prediction_id, block, payload, prev_hash, hash FROM events WHERE seq < ? ORDER BY seq DESC LIMIT 100`)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		for b.Loop() {
			rows, err := st.Query(mid)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var seq, cs, av int64
				var id, ch, at, aid, an, k, it, ann, pid, bl, p, ph, h string
				if err := rows.Scan(&seq, &id, &ch, &cs, &at, &aid, &an, &k, &it, &ann, &av, &pid, &bl, &p, &ph, &h); err != nil {
					b.Fatal(err)
				}
				n++
			}
			rows.Close()
			if n != 100 {
				b.Fatalf("%d rows", n)
			}
		}
	})
}
