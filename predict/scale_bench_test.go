package predict_test

import (
	"context"
	"database/sql"
	"flag"
	"testing"

	"github.com/loupehq/loupe/predict"
	"github.com/loupehq/loupe/storage"
)

var (
	scaleDB      = flag.String("scale-db", "", "a database made by loupe generate, for BenchmarkCatchUp")
	scaleProject = flag.String("scale-project", "text-classification", "the project of -scale-db")
)

// BenchmarkCatchUp measures a builtin learner's first catch-up with every
// annotation of a large project: each op removes the learners' saved
// snapshots from the database (it is a throwaway one) and starts a fresh
// service, so the learner reads every annotation version. Make the
// database first:
//
//	loupe project create --template text-classification --db /tmp/scale.db
//	loupe generate --project text-classification --items 1000000 --db /tmp/scale.db
//	go test ./predict/ -run '^$' -bench CatchUp -benchtime 1x -args -scale-db /tmp/scale.db
func BenchmarkCatchUp(b *testing.B) {
	if *scaleDB == "" {
		b.Skip("give -scale-db, a database made by loupe generate")
	}
	ctx := context.Background()
	db, err := storage.Open(*scaleDB, storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	p, err := db.ProjectBySlug(ctx, *scaleProject)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+*scaleDB+"?_pragma=busy_timeout(5000)")
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if _, err := raw.Exec(`DELETE FROM learner_state`); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		st, err := predict.New(db, nil, predict.Options{}).Status(ctx, p)
		if err != nil || len(st) == 0 {
			b.Fatalf("status %v, %v", st, err)
		}
		b.ReportMetric(float64(st[0].Examples), "examples")
	}
}
