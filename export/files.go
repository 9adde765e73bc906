package export

import (
	"io"
)

// SplitFiles opens one file per split on first use: "data.EXT" when the
// export is not split, else "SPLIT.EXT". Header, when set, is written at
// the top of each file as it opens.
type SplitFiles struct {
	Sink   Sink
	Ext    string
	Header func(w io.Writer, split string) error
	files  map[string]io.WriteCloser
	order  []string
}

// Get returns the file of a split, opening it on first use.
func (s *SplitFiles) Get(split string) (io.Writer, error) {
	if w, ok := s.files[split]; ok {
		return w, nil
	}
	w, err := s.Sink.Create(FileName(split, s.Ext))
	if err != nil {
		return nil, err
	}
	if s.files == nil {
		s.files = map[string]io.WriteCloser{}
	}
	s.files[split] = w
	s.order = append(s.order, split)
	if s.Header != nil {
		if err := s.Header(w, split); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Ensure opens the files of the given splits that are not open yet, so
// that an empty split still gets its (empty or header-only) file.
func (s *SplitFiles) Ensure(splits []string) error {
	if len(splits) == 0 {
		splits = []string{""}
	}
	for _, sp := range splits {
		if _, err := s.Get(sp); err != nil {
			return err
		}
	}
	return nil
}

// Each calls fn for each open file, in the order they were opened.
func (s *SplitFiles) Each(fn func(split string, w io.Writer) error) error {
	for _, sp := range s.order {
		if err := fn(sp, s.files[sp]); err != nil {
			return err
		}
	}
	return nil
}

// Close closes every file.
func (s *SplitFiles) Close() error {
	var first error
	for _, sp := range s.order {
		if err := s.files[sp].Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
