package annotate_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

const imageConfig = `title: Photos
blocks:
  - {type: text, field: caption}
  - {type: image, field: photo}
  - {type: boxes, name: objs, field: photo, labels: [car]}
`

func TestFolderReader(t *testing.T) {
	in := mustInterface(t, imageConfig)
	fsys := fstest.MapFS{
		"b.png":                   {Data: []byte("png")},
		"a/2.JPG":                 {Data: []byte("jpg")},
		"a/1.webp":                {Data: []byte("webp")},
		"a/deep/x.flac":           {Data: []byte("flac")},
		"notes.txt":               {Data: []byte("not media")},
		"weird\\name.txt":         {Data: []byte("skipped: not media, whatever its name")},
		".hidden.png":             {Data: []byte("hidden")},
		".cache/c.png":            {Data: []byte("in a hidden folder")},
		"link.png":                {Data: []byte("/etc/passwd"), Mode: fs.ModeSymlink},
		"linkdir":                 {Data: []byte("/etc"), Mode: fs.ModeSymlink | fs.ModeDir},
		"a/back\\slash.png":       {Data: []byte("x")},
		"a/%2e%2e.png":            {Data: []byte("x")},
		"a/dots..png":             {Data: []byte("x")},
		"a/ctl\x01.png":           {Data: []byte("x")},
		"a/col:on.png":            {Data: []byte("x")},
		"bad%2Fdir/in.png":        {Data: []byte("x")},
		"pipe.png":                {Mode: fs.ModeNamedPipe},
		"c/" + long(260) + ".png": {Data: []byte("x")},
	}
	r := annotate.NewFolderReader(fsys, annotate.ReadOptions{Interface: in})
	recs, msgs := drain(t, r, 100)
	wantMessages(t, "folder", msgs, []string{
		`file "a/%2e%2e.png": holds a percent-encoded dot, slash, backslash or percent sign`,
		`file "a/back\\slash.png": holds a backslash`,
		`file "a/col:on.png": holds a colon`,
		`file "a/ctl\x01.png": holds a control character`,
		`file "a/dots..png": holds ".."`,
		`folder "bad%2Fdir": holds a percent-encoded dot, slash, backslash or percent sign`,
		`file "c/` + long(260) + `.png": the path is longer than 256 bytes, the most an item id holds`,
		`file "link.png": a symbolic link; links are not followed`,
		`file "linkdir": a symbolic link; links are not followed`,
	})
	var got []string
	for _, rec := range recs {
		got = append(got, rec.ExternalID+"="+string(rec.DataJSON))
	}
	want := []string{
		`a/1.webp={"photo":"a/1.webp"}`,
		`a/2.JPG={"photo":"a/2.JPG"}`,
		`a/deep/x.flac={"photo":"a/deep/x.flac"}`,
		`b.png={"photo":"b.png"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("items\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	jl, _ := readItems(t, "jsonl", `{"photo": "b.png"}`, annotate.ReadOptions{})
	if recs[3].Hash != jl[0].Hash {
		t.Error("a folder item's hash is not that of its data")
	}
	if c := r.Counts(); c != (annotate.FolderCounts{Items: 4, Skipped: 3, Hidden: 2, Refused: 9}) {
		t.Errorf("counts = %+v", c)
	}

	// No block to show the files.
	r = annotate.NewFolderReader(fsys, annotate.ReadOptions{Interface: mustInterface(t, importConfig)})
	_, msgs = drain(t, r, 10)
	wantMessages(t, "no media block", msgs, []string{"the interface has no image, boxes or audio block to show the files of a folder; add one"})
}

func long(n int) string { return strings.Repeat("n", n) }

// On a real disk, a symbolic link that points out of the folder (to a file
// or to a folder) is refused and never followed.
func TestFolderReaderSymlinkOut(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.png"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "shots"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "shots", "ok.png"), []byte("png"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.png"), filepath.Join(root, "shots", "escape.png")); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "outside")); err != nil {
		t.Fatal(err)
	}
	r := annotate.NewFolderReader(os.DirFS(root), annotate.ReadOptions{Interface: mustInterface(t, imageConfig)})
	recs, msgs := drain(t, r, 20)
	wantMessages(t, "symlinks", msgs, []string{
		`file "outside": a symbolic link; links are not followed`,
		`file "shots/escape.png": a symbolic link; links are not followed`,
	})
	if len(recs) != 1 || recs[0].ExternalID != "shots/ok.png" {
		t.Errorf("items %+v", recs)
	}
}

func TestCheckMediaPath(t *testing.T) {
	for _, ok := range []string{"a.png", "photos/2024/cat.jpeg", "ü/ñ.wav", "100%.png", "a.b.c.png"} {
		if err := annotate.CheckMediaPath(ok); err != nil {
			t.Errorf("CheckMediaPath(%q) = %v, want nil", ok, err)
		}
	}
	for p, why := range map[string]string{
		"":                       "the media path is empty",
		"../../../../etc/passwd": `media path "../../../../etc/passwd" holds ".."`,
		"a/../b.png":             `media path "a/../b.png" holds ".."`,
		"..%2f..%2fetc":          `media path "..%2f..%2fetc" holds ".."`,
		"%2e%2e/x.png":           `media path "%2e%2e/x.png" holds a percent-encoded dot, slash, backslash or percent sign`,
		"%2E%2E/x.png":           `media path "%2E%2E/x.png" holds a percent-encoded dot, slash, backslash or percent sign`,
		"%252e%252e/x.png":       `media path "%252e%252e/x.png" holds a percent-encoded dot, slash, backslash or percent sign`,
		"/etc/passwd":            `media path "/etc/passwd" is absolute; media paths are relative to the media folder`,
		`C:\Windows\win.ini`:     `media path "C:\\Windows\\win.ini" holds a backslash`,
		"C:/Windows/win.ini":     `media path "C:/Windows/win.ini" holds a colon`,
		"a//b.png":               `media path "a//b.png" has an empty segment (//, or / at the end)`,
		"a/":                     `media path "a/" has an empty segment (//, or / at the end)`,
		"./a.png":                `media path "./a.png" names a hidden file or folder (starting with .)`,
		"a/.git/config":          `media path "a/.git/config" names a hidden file or folder (starting with .)`,
		"a\x00.png":              `media path "a\x00.png" holds a control character`,
		"a\x7f.png":              `media path "a\x7f.png" holds a control character`,
		"bad\xff.png":            `media path "bad\xff.png" is not valid UTF-8`,
		long(1025):               "the media path is longer than 1024 bytes",
	} {
		err := annotate.CheckMediaPath(p)
		if loupe.ErrorCode(err) != loupe.EINVALID || loupe.ErrorMessage(err) != why {
			t.Errorf("CheckMediaPath(%q) = %v, want EINVALID %q", p, err, why)
		}
	}
}
