package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/export"
)

// An admin opens the export page from the project page, asks for a split
// snapshot, and downloads it from the link that appears when the job is
// done; the zip holds the files its manifest lists, checksums and all.
func TestBrowserExportJob(t *testing.T) {
	chromium := browserPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	m := MustRunMain(t, "--no-demo")

	const slug = "export-sentiment"
	const config = `title: Export sentiment
blocks:
  - type: text
    field: review
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
    required: true
`
	cfg, err := blocks.ParseConfig([]byte(config))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := m.DB.UserByName(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.DB.CreateProject(ctx, slug, config, cfg, admin)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	var items strings.Builder
	for i := range n {
		fmt.Fprintf(&items, `{"id": "r%04d", "data": {"review": "review %d"}, "annotations": [{"user": "ann", "values": {"sentiment": %q}}]}`+"\n",
			i, i, []string{"positive", "negative", "neutral"}[i%3])
	}
	if res, err := m.DB.ImportItems(ctx, p, annotate.NewItemDecoder(strings.NewReader(items.String())), annotate.ImportOptions{}); err != nil || res.Added != n {
		t.Fatalf("import: %+v, %v", res, err)
	}

	bctx, problems := newBrowser(ctx, t, chromium)
	lt := &labelTab{t: t, m: m, ctx: bctx, project: p, user: admin, shots: filepath.Dir(screenshotPath(t))}
	lt.do("sign in as admin",
		chromedp.Navigate(m.URL()+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="name"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="name"]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), testAdminPassword+kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/projects/`+slug+`"]`)),
	)
	lt.do("open the export page from the project page",
		chromedp.Navigate(m.URL()+"/projects/"+slug),
		chromedp.Click(chromedp.CSS("#export-link")),
		chromedp.WaitVisible(chromedp.CSS("#export-form")),
	)
	lt.do("fill in the form and start the export",
		chromedp.SetValue(chromedp.CSS("#export-format"), "csv"),
		chromedp.SendKeys(chromedp.CSS(`input[name="split"]`), "train=0.8,test=0.2"),
		chromedp.SendKeys(chromedp.CSS(`input[name="seed"]`), "7"),
		chromedp.SendKeys(chromedp.CSS(`input[name="snapshot"]`), "browser-v1"),
		chromedp.Click(chromedp.CSS("#start-export")),
		chromedp.WaitVisible(chromedp.CSS("#export-jobs")),
	)
	// The job may still run when the page shows it: then the page asks
	// for its status until the link appears.
	t.Logf("the job was %s when the page loaded", evalJS[string](lt, "read the job's status", `document.querySelector('#export-jobs tbody tr').dataset.status`))
	lt.waitVisible("the download link appears", "#export-jobs a.job-download")
	if got := lt.text("#export-jobs .job-counts"); !strings.Contains(got, fmt.Sprintf("%d items, %d rows", n, n)) || !strings.Contains(got, "train") {
		t.Errorf("job counts %q, want %d items and rows by split", got, n)
	}

	dir := t.TempDir()
	progress := chromedp.Events(bctx, browser.DownloadProgress)
	lt.do("click the download link",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: ptr(true)})
			return err
		}),
		chromedp.Click(chromedp.CSS("#export-jobs a.job-download")),
	)
	var file string
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("download: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatalf("the download was cancelled")
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			file = filepath.Join(dir, ev.GUID)
			break
		}
	}
	zipped, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatalf("the download is not a zip: %v", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	var man export.Manifest
	if err := json.Unmarshal(files["manifest.json"], &man); err != nil {
		t.Fatalf("manifest.json: %v (zip holds %d files)", err, len(files))
	}
	if man.Snapshot != "browser-v1" || man.Items != n || len(man.Files) != 2 || len(files) != 3 {
		t.Errorf("manifest %+v with %d files in the zip, want snapshot browser-v1 of %d items in train.csv and test.csv", man, len(files), n)
	}
	for _, f := range man.Files {
		sum := sha256.Sum256(files[f.Name])
		if hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("%s: SHA-256 differs from the manifest's", f.Name)
		}
	}
	// The snapshot is listed, with a link that gives the same bytes.
	lt.do("reload the export page", chromedp.Navigate(m.URL()+"/projects/"+slug+"/export"))
	lt.waitVisible("the snapshot is listed", `#snapshot-list tr[data-snapshot="browser-v1"] a.snapshot-download`)
	lt.screenshot("export-page", true) // label-export-page.png beside the other pages' screenshots
	if p := problems(); len(p) > 0 {
		t.Errorf("page problems: %q", p)
	}
}

func ptr[T any](v T) *T { return &v }
