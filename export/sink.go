package export

import (
	"archive/zip"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// File is one file of an export, as the manifest lists it.
type File struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// checkName refuses file names that could leave the export's folder.
func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, `\`) || path.Clean(name) != name ||
		name == "." || name == ".." || strings.HasPrefix(name, "../") {
		return fmt.Errorf("export file name %q is not a plain relative path", name)
	}
	return nil
}

// DirSink writes an export's files into a new folder beside the target
// and moves it into place on Commit, so that a crash or a full disk never
// leaves a half-written export under the target's name. Each file's size
// and SHA-256 are computed as it is written.
type DirSink struct {
	target string
	tmp    string
	files  map[string]*dirFile
	order  []string
}

type dirFile struct {
	f    *os.File
	w    *bufio.Writer
	h    hash.Hash
	n    int64
	done bool
}

func (d *dirFile) Write(b []byte) (int, error) {
	n, err := d.w.Write(b)
	d.h.Write(b[:n])
	d.n += int64(n)
	return n, err
}

// Close flushes the file to disk.
func (d *dirFile) Close() error {
	if d.done {
		return nil
	}
	d.done = true
	err := d.w.Flush()
	if err == nil {
		err = d.f.Sync()
	}
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// NewDirSink prepares to write into target, a folder that must not exist
// or be empty.
func NewDirSink(target string) (*DirSink, error) {
	if entries, err := os.ReadDir(target); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty: give a new folder", target)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	parent := filepath.Dir(filepath.Clean(target))
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(target)+".partial-")
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return &DirSink{target: target, tmp: tmp, files: map[string]*dirFile{}}, nil
}

// Create opens a new file of the export.
func (s *DirSink) Create(name string) (io.WriteCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if _, dup := s.files[name]; dup {
		return nil, fmt.Errorf("export file %s written twice", name)
	}
	p := filepath.Join(s.tmp, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	df := &dirFile{f: f, w: bufio.NewWriterSize(f, 64<<10), h: sha256.New()}
	s.files[name] = df
	s.order = append(s.order, name)
	return df, nil
}

// Files returns the files written so far, by name.
func (s *DirSink) Files() []File {
	out := make([]File, 0, len(s.files))
	for _, name := range s.order {
		df := s.files[name]
		out = append(out, File{Name: name, Bytes: df.n, SHA256: hex.EncodeToString(df.h.Sum(nil))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Commit closes every file and moves the folder to its target.
func (s *DirSink) Commit() error {
	for _, name := range s.order {
		if err := s.files[name].Close(); err != nil {
			s.Abort()
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	os.Remove(s.target) // an empty folder may stand there
	if err := os.Rename(s.tmp, s.target); err != nil {
		s.Abort()
		return fmt.Errorf("export: %w", err)
	}
	if d, err := os.Open(filepath.Dir(filepath.Clean(s.target))); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Abort removes what was written.
func (s *DirSink) Abort() {
	for _, df := range s.files {
		if !df.done {
			df.done = true
			df.f.Close()
		}
	}
	os.RemoveAll(s.tmp)
}

// StreamSink passes the one file of a single-file export to w, buffered,
// for a download or standard output. A second file is an error.
type StreamSink struct {
	w    *bufio.Writer
	name string
	h    hash.Hash
	n    int64
}

// NewStreamSink returns a sink writing its one file to w.
func NewStreamSink(w io.Writer) *StreamSink { return &StreamSink{w: bufio.NewWriterSize(w, 64<<10)} }

// Create returns the writer of the one file.
func (s *StreamSink) Create(name string) (io.WriteCloser, error) {
	if s.name != "" {
		return nil, fmt.Errorf("this export writes more than one file (%s, %s): write it to a folder", s.name, name)
	}
	s.name, s.h = name, sha256.New()
	return s, nil
}

func (s *StreamSink) Write(b []byte) (int, error) {
	n, err := s.w.Write(b)
	s.h.Write(b[:n])
	s.n += int64(n)
	return n, err
}

// Close flushes what is buffered; the stream itself belongs to the
// caller.
func (s *StreamSink) Close() error { return s.w.Flush() }

// Flush writes what is buffered, so that a download shows progress.
func (s *StreamSink) Flush() error { return s.w.Flush() }

// Written returns the bytes written so far.
func (s *StreamSink) Written() int64 { return s.n }

// Files returns the file written, with its size and checksum.
func (s *StreamSink) Files() []File {
	if s.name == "" {
		return nil
	}
	return []File{{Name: s.name, Bytes: s.n, SHA256: hex.EncodeToString(s.h.Sum(nil))}}
}

// WriteZip writes the files of an export folder as a zip archive, in name
// order, each stamped with modTime, so that the same folder always makes
// the same bytes.
func WriteZip(w io.Writer, dir string, files []File, modTime time.Time) error {
	zw := zip.NewWriter(w)
	for _, f := range files {
		hdr := &zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: modTime.UTC()}
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		src, err := os.Open(filepath.Join(dir, filepath.FromSlash(f.Name)))
		if err != nil {
			return err
		}
		_, err = io.Copy(fw, src)
		src.Close()
		if err != nil {
			return err
		}
	}
	return zw.Close()
}
