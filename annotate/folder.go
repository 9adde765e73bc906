package annotate

import (
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

// MediaExts are the file extensions a folder import takes, lower-case:
// images, then audio.
var mediaExts = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true,
	".mp3": true, ".ogg": true, ".oga": true, ".opus": true, ".wav": true, ".webm": true, ".flac": true, ".m4a": true,
}

// CheckMediaPath returns an EINVALID error saying why p cannot name a file
// of a project's media folder, or nil. A media path is relative, separated
// by "/", at most blocks.MaxMediaPath bytes of UTF-8, and holds no empty
// segment, no "..", no hidden (dot) file or folder, no backslash, colon or
// control character, and no percent-encoded dot, slash, backslash or
// percent sign (%2e, %2f, %5c, %25, in any case), which a server could
// decode into one of the others. These rules are at least as strict as
// blocks.IsMediaPath, so a path that passes is served.
func CheckMediaPath(p string) error {
	why := mediaPathProblem(p)
	switch {
	case why == "":
		return nil
	case p == "" || len(p) > blocks.MaxMediaPath:
		return loupe.Errorf(loupe.EINVALID, "the media path %s", why)
	}
	return loupe.Errorf(loupe.EINVALID, "media path %q %s", p, why)
}

// mediaPathProblem says what is wrong with a media path, or "".
func mediaPathProblem(p string) string {
	lower := strings.ToLower(p)
	switch {
	case p == "":
		return "is empty"
	case len(p) > blocks.MaxMediaPath:
		return fmt.Sprintf("is longer than %d bytes", blocks.MaxMediaPath)
	case !utf8.ValidString(p):
		return "is not valid UTF-8"
	case strings.ContainsFunc(p, unicode.IsControl):
		return "holds a control character"
	case strings.ContainsRune(p, '\\'):
		return "holds a backslash"
	case strings.HasPrefix(p, "/"):
		return "is absolute; media paths are relative to the media folder"
	case strings.ContainsRune(p, ':'):
		return "holds a colon"
	case strings.Contains(p, ".."):
		return `holds ".."`
	case strings.Contains(lower, "%2e"), strings.Contains(lower, "%2f"), strings.Contains(lower, "%5c"), strings.Contains(lower, "%25"):
		return "holds a percent-encoded dot, slash, backslash or percent sign"
	}
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == "":
			return "has an empty segment (//, or / at the end)"
		case seg[0] == '.':
			return "names a hidden file or folder (starting with .)"
		}
	}
	if !blocks.IsMediaPath(p) {
		return "is not a media path" // a rule of blocks.IsMediaPath this list missed
	}
	return ""
}

// FolderCounts counts what a folder import found.
type FolderCounts struct {
	Items   int // media files read as items
	Skipped int // files that are not images or audio (and other entries that are not regular files)
	Hidden  int // hidden files and folders (starting with "."), skipped with what they hold
	Refused int // entries reported as errors: symbolic links, unsafe names, folders that cannot be read
}

// FolderReader reads a folder of images or audio: each media file (by its
// extension: .png .jpg .jpeg .gif .webp, .mp3 .ogg .oga .opus .wav .webm
// .flac .m4a, in any case) is an item {FIELD: "relative/path.png"}, where
// FIELD is the field of the interface's first image, boxes or audio block
// (or ReadOptions.Field), with the relative path as its external id.
// Files are taken in fs.WalkDir's order (lexical by name within each
// folder). Hidden files and folders are skipped; so are other files, and
// both are counted. Symbolic links are never followed, and they, and names
// CheckMediaPath refuses, are reported as EINVALID errors starting with
// the path ("file \"a/b.png\": …"), and reading goes on.
type FolderReader struct {
	fsys   fs.FS
	field  string
	setup  error // reported by the first Next
	stack  []folderDir
	start  bool
	done   bool
	counts FolderCounts
}

type folderDir struct {
	path    string
	entries []fs.DirEntry
	i       int
}

// NewFolderReader returns a reader of the media files under fsys's root.
// When the interface has no image, boxes or audio block (and opt.Field
// forces no field), the first Next returns an EINVALID error saying so.
func NewFolderReader(fsys fs.FS, opt ReadOptions) *FolderReader {
	r := &FolderReader{fsys: fsys, field: opt.Field}
	if r.field == "" && opt.Interface != nil {
		opt.Interface.Walk(func(b blocks.Block) {
			if r.field != "" {
				return
			}
			switch b := b.(type) {
			case *blocks.Image:
				r.field = b.Field
			case *blocks.Boxes:
				r.field = b.Field
			case *blocks.Audio:
				r.field = b.Field
			}
		})
	}
	if r.field == "" {
		r.setup = loupe.Errorf(loupe.EINVALID, "the interface has no image, boxes or audio block to show the files of a folder; add one")
	}
	return r
}

// Counts returns what the reader has found so far.
func (r *FolderReader) Counts() FolderCounts { return r.counts }

// Next implements ItemReader.
func (r *FolderReader) Next() (*ItemRecord, error) {
	if r.done {
		return nil, io.EOF
	}
	if !r.start {
		r.start = true
		if r.setup != nil {
			r.done = true
			return nil, r.setup
		}
		entries, err := fs.ReadDir(r.fsys, ".")
		if err != nil {
			r.done = true
			return nil, fmt.Errorf("read folder: %w", err)
		}
		r.stack = []folderDir{{path: "", entries: entries}}
	}
	for len(r.stack) > 0 {
		d := &r.stack[len(r.stack)-1]
		if d.i == len(d.entries) {
			r.stack = r.stack[:len(r.stack)-1]
			continue
		}
		e := d.entries[d.i]
		d.i++
		name := e.Name()
		rel := name
		if d.path != "" {
			rel = d.path + "/" + name
		}
		kind := "file"
		if e.IsDir() && e.Type()&fs.ModeSymlink == 0 {
			kind = "folder"
		}
		refuse := func(format string, args ...any) (*ItemRecord, error) {
			r.counts.Refused++
			return nil, loupe.Errorf(loupe.EINVALID, "%s %q: %s", kind, rel, fmt.Sprintf(format, args...))
		}
		switch {
		case strings.HasPrefix(name, "."):
			r.counts.Hidden++
			continue
		case e.Type()&fs.ModeSymlink != 0:
			return refuse("a symbolic link; links are not followed")
		case e.IsDir():
			if why := mediaPathProblem(rel); why != "" {
				return refuse("%s", why)
			}
			entries, err := fs.ReadDir(r.fsys, rel)
			if err != nil {
				return refuse("cannot be read")
			}
			r.stack = append(r.stack, folderDir{path: rel, entries: entries})
			continue
		case !e.Type().IsRegular() || !mediaExts[strings.ToLower(path.Ext(name))]:
			// Files that would not be items are skipped whatever their
			// names: only what is imported must be safe to serve.
			r.counts.Skipped++
			continue
		}
		if why := mediaPathProblem(rel); why != "" {
			return refuse("%s", why)
		}
		if len(rel) > MaxExternalIDLen {
			return refuse("the path is longer than %d bytes, the most an item id holds", MaxExternalIDLen)
		}
		r.counts.Items++
		return sealed(&ItemRecord{Line: r.counts.Items, ExternalID: rel, Data: map[string]any{r.field: rel}})
	}
	r.done = true
	return nil, io.EOF
}
