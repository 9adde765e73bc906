package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

// browserPath finds a Chromium-family browser for the browser tests. With
// none installed the test is skipped, except under CI=true, where the
// browser is part of the setup and its absence is a failure.
func browserPath(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("CI needs Chromium: apt-get install -y chromium")
	}
	tb.Skip("no Chromium found (chromium, chromium-browser or google-chrome on PATH): skipping the browser test; apt-get install -y chromium to run it")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile and returns a
// chromedp context for one tab. The browser's output and the page's console
// errors are logged if the test fails. Canceling ctx closes the browser.
func newBrowser(ctx context.Context, t *testing.T, execPath string) (context.Context, func() []string) {
	t.Helper()
	out := &syncBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.NoSandbox, // the tests may run as root, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		if t.Failed() {
			t.Logf("browser output:\n%s", out)
		}
	})
	// The first action starts the browser; it lives as long as ctx.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v\n%s", execPath, err, out)
	}
	var mu sync.Mutex
	var problems []string
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
				mu.Unlock()
			}
		}
	}()
	return bctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// TestBrowserLabelWithKeyboard signs a labeler in through the login form,
// labels three items with the keyboard only, goes back to change the last
// answer, and checks the export: three items, the changed one at version 2.
func TestBrowserLabelWithKeyboard(t *testing.T) {
	chromium := browserPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	start := time.Now()

	m := MustRunMain(t)
	const slug, labeler, password = "review-sentiment", "lena", "lena-labels-reviews"
	hash, err := loupe.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.DB.CreateUser(ctx, labeler, loupe.RoleMember, hash); err != nil {
		t.Fatal(err)
	}
	p, err := m.DB.ProjectBySlug(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.DB.SetMember(ctx, p.ID, labeler, annotate.RoleLabeler); err != nil {
		t.Fatal(err)
	}

	bctx, consoleProblems := newBrowser(ctx, t, chromium)
	// do runs browser actions, each wait bounded so that a page that never
	// comes says which step it was stuck on.
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v (page problems: %q)", step, err, consoleProblems())
		}
	}
	text := func(sel string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 15*time.Second)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	attr := func(sel, name string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 15*time.Second)
		defer cancel()
		v, err := chromedp.Run(sctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
		if err != nil {
			t.Fatalf("read %s[%s]: %v", sel, name, err)
		}
		return v.Value
	}
	// item describes the item shown on the labeling page.
	type item struct{ id, ext string }
	// waitItem waits for the labeling page whose #item-meta matches sel and
	// for its scripts to have run (module scripts run before the load
	// event), then reports the item and checks the progress count.
	waitItem := func(step, sel string, wantDone int) item {
		t.Helper()
		do(step,
			chromedp.WaitVisible(chromedp.CSS(sel)),
			chromedp.Poll[chromedp.Void](`document.readyState === "complete"`),
		)
		it := item{id: attr("#item-meta", "data-item"), ext: text("#item-meta strong")}
		if got := text("#my-done"); got != fmt.Sprint(wantDone) {
			t.Errorf("%s: #my-done = %q, want %d", step, got, wantDone)
		}
		return it
	}
	// choose presses an option's key and checks that it picked the option.
	choose := func(step, key string) string {
		t.Helper()
		do(step, chromedp.KeyEvent(key))
		checked := `#label-form input[name="b.sentiment"]:checked`
		do(step, chromedp.WaitVisible(chromedp.CSS(checked+`[data-key="`+key+`"]`)))
		return attr(checked, "value")
	}

	// Sign in by typing into the login form.
	do("open the login page",
		chromedp.Navigate(m.URL()+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="name"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="name"]`), labeler),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password+kb.Enter),
	)
	do("sign in", chromedp.WaitVisible(chromedp.CSS(`a[href="/projects/`+slug+`"]`)))
	if got := text(".top .who"); got != labeler {
		t.Errorf("signed in as %q, want %q", got, labeler)
	}

	// Label three items: a digit picks an option, Enter submits and the
	// next item comes.
	do("open the labeling page", chromedp.Navigate(m.URL()+"/projects/"+slug+"/label"))
	cur := waitItem("first item", "#item-meta[data-item]", 0)
	var items []item
	want := map[string]string{} // external id → value picked
	for i, key := range []string{"1", "2", "3"} {
		wantExt := fmt.Sprintf("review-%03d", i+1)
		if cur.ext != wantExt {
			t.Fatalf("item %d is %q, want %q (the queue gives items in import order)", i+1, cur.ext, wantExt)
		}
		want[cur.ext] = choose(fmt.Sprintf("item %d: press %s", i+1, key), key)
		items = append(items, cur)
		do(fmt.Sprintf("item %d: press Enter", i+1), chromedp.KeyEvent(kb.Enter))
		cur = waitItem(fmt.Sprintf("item %d after submit", i+1), `#item-meta:not([data-item="`+cur.id+`"])`, i+1)
	}
	if want["review-001"] == want["review-002"] || want["review-002"] == want["review-003"] {
		t.Errorf("keys 1, 2, 3 picked %v, want three different options", want)
	}
	fourth := cur

	// Back to the last answer, change it, submit: version 2.
	last := items[2]
	do("press Backspace", chromedp.KeyEvent(kb.Backspace))
	waitItem("back to item 3", `#item-meta[data-item="`+last.id+`"]`, 3)
	if got := text("#item-meta .badge"); !strings.Contains(got, "version 1") {
		t.Errorf("item 3 after going back: badge %q, want it to say version 1", got)
	}
	if got := attr(`#label-form input[name="b.sentiment"]:checked`, "value"); got != want[last.ext] {
		t.Errorf("item 3 after going back: checked %q, want the earlier answer %q", got, want[last.ext])
	}
	want[last.ext] = choose("item 3: press 1", "1")

	shot := screenshotPath(t)
	sctx, cancelShot := context.WithTimeout(bctx, 15*time.Second)
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	cancelShot()
	if err != nil {
		t.Errorf("screenshot: %v", err)
	} else if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Errorf("screenshot: %v", err)
	} else if os.Getenv("LOUPE_SCREENSHOT_DIR") != "" {
		t.Logf("screenshot of the labeling page: %s", shot)
	}

	do("item 3: press Enter after the change", chromedp.KeyEvent(kb.Enter))
	waitItem("after the change", `#item-meta[data-item="`+fourth.id+`"]`, 3)

	if problems := consoleProblems(); len(problems) > 0 {
		t.Errorf("the pages logged errors:\n%s", strings.Join(problems, "\n"))
	}

	// The export holds the labeler's three items, the changed one at version 2.
	token, err := m.DB.CreateToken(ctx, "admin", "browser test")
	if err != nil {
		t.Fatal(err)
	}
	got := exportAnnotations(ctx, t, m.URL(), slug, token, labeler)
	if len(got) != 3 {
		t.Errorf("export has %d items annotated by %s (%v), want 3", len(got), labeler, got)
	}
	for _, it := range items {
		a, ok := got[it.ext]
		if !ok {
			t.Errorf("export: item %s has no annotation by %s", it.ext, labeler)
			continue
		}
		wantVersion := 1
		if it == last {
			wantVersion = 2
		}
		if a.Version != wantVersion || a.Values["sentiment"] != want[it.ext] {
			t.Errorf("export: item %s = version %d %v, want version %d sentiment %q", it.ext, a.Version, a.Values, wantVersion, want[it.ext])
		}
	}
	t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond))
}

// screenshotPath is where the test saves its screenshot of the labeling
// page: $LOUPE_SCREENSHOT_DIR when set, else the test's temporary directory.
func screenshotPath(t *testing.T) string {
	dir := os.Getenv("LOUPE_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "label-page.png")
}

// exportedAnnotation is one annotation of a line of the JSONL export.
type exportedAnnotation struct {
	User    string            `json:"user"`
	Version int               `json:"version"`
	Values  map[string]string `json:"values"`
}

// exportAnnotations fetches the project's JSONL export with an API token
// and returns user's annotations by the item's external id.
func exportAnnotations(ctx context.Context, t *testing.T, base, slug, token, user string) map[string]exportedAnnotation {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/projects/"+slug+"/export?format=jsonl", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("export: status %d, want 200", resp.StatusCode)
	}
	out := map[string]exportedAnnotation{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var line struct {
			ExternalID  string               `json:"external_id"`
			Annotations []exportedAnnotation `json:"annotations"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("export line %d: %v: %s", n, err, sc.Bytes())
		}
		for _, a := range line.Annotations {
			if a.User != user {
				continue
			}
			if _, dup := out[line.ExternalID]; dup {
				t.Errorf("export: item %s has two annotations by %s", line.ExternalID, user)
			}
			out[line.ExternalID] = a
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("export: %v", err)
	}
	return out
}
