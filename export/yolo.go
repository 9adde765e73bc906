package export

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/loupehq/loupe/blocks"
)

func init() {
	Register(&Format{Name: "yolo", Doc: "YOLO detection folder: data.yaml, a label file per image (class cx cy w h, normalised) and an image list per split",
		ContentType: "text/plain; charset=utf-8", Ext: "txt",
		Check: func(in *blocks.Interface) error { _, err := boxesBlock(in, "yolo"); return err },
		New: func(s Sink, m *Meta) (Writer, error) {
			bx, err := boxesBlock(m.Interface, "yolo")
			if err != nil {
				return nil, err
			}
			if err := onePerImage(m, "yolo"); err != nil {
				return nil, err
			}
			w := &yoloWriter{boxes: bx, sink: s, lists: map[string]io.WriteCloser{}, used: map[string]map[string]bool{}}
			if err := w.writeDataYAML(m); err != nil {
				return nil, err
			}
			splits := m.Splits
			if len(splits) == 0 {
				splits = []string{""}
			}
			for _, sp := range splits {
				if _, err := w.list(sp); err != nil {
					return nil, err
				}
			}
			return w, nil
		}})
}

// yoloWriter writes an Ultralytics-style YOLO detection dataset of the
// first boxes block:
//
//	data.yaml              names (the block's labels, class 0 first), nc, and per split SPLIT: SPLIT.txt
//	SPLIT.txt              the images of the split, one reference a line, as the items hold them
//	labels/SPLIT/NAME.txt  one line per box: "CLASS CX CY W H"
//
// Without a split the list is images.txt, the label files are
// labels/NAME.txt, and data.yaml names it as train. Split names are
// written as they are: Ultralytics reads "validation" as val.
//
// CLASS is the label's place among the block's labels, from 0; CX CY W H
// are the box's centre and size as fractions of the image (Loupe keeps
// boxes that way, so no image size is needed), with 6 decimals.
//
// NAME is the image's file name without its extension (the last segment
// of the media path or URL path), so that a label file sits beside its
// image the way YOLO trainers look for it; characters other than
// letters, digits, '.', '-' and '_' become '_'. When two images of a
// split have the same NAME, the later one is NAME_ITEM, ITEM being the
// item's external id or id made safe the same way (and then its trainer
// will not find it by the image's name: give images distinct names).
//
// A row whose block has no value gets an empty label file (a background
// image). A row whose majority vote tied on the block is left out of the
// list and gets no file. The "every" aggregation is refused.
type yoloWriter struct {
	boxes *blocks.Boxes
	sink  Sink
	lists map[string]io.WriteCloser // split → its image list
	order []string
	used  map[string]map[string]bool // split → label names taken
	buf   []byte
}

// listName is the image list of a split.
func listName(split string) string {
	if split == "" {
		return "images.txt"
	}
	return split + ".txt"
}

// list returns the image list of a split, opening it on first use.
func (e *yoloWriter) list(split string) (io.Writer, error) {
	if w, ok := e.lists[split]; ok {
		return w, nil
	}
	w, err := e.sink.Create(listName(split))
	if err != nil {
		return nil, err
	}
	e.lists[split] = w
	e.order = append(e.order, split)
	e.used[split] = map[string]bool{}
	return w, nil
}

func (e *yoloWriter) writeDataYAML(m *Meta) error {
	f, err := e.sink.Create("data.yaml")
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# YOLO detection dataset exported by Loupe from project %s (config version %d), boxes block %q.\n",
		yoloYAML(m.Project), m.ConfigVersion, e.boxes.Common().Name)
	b.WriteString("path: .\n")
	if len(m.Splits) == 0 {
		b.WriteString("train: " + listName("") + "\n")
	}
	for _, sp := range m.Splits {
		b.WriteString(yoloYAML(sp) + ": " + yoloYAML(listName(sp)) + "\n")
	}
	fmt.Fprintf(&b, "nc: %d\nnames:\n", len(e.boxes.Labels))
	for i, o := range e.boxes.Labels {
		fmt.Fprintf(&b, "  %d: %s\n", i, yoloYAML(o.Value))
	}
	_, err = io.WriteString(f, b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// yoloYAML writes s as a YAML double-quoted scalar (JSON's escapes are
// YAML's), or bare when it is a plain word.
func yoloYAML(s string) string {
	plain := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' || r == '/') {
			plain = false
			break
		}
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~":
		plain = false
	}
	if plain && (s[0] < '0' || s[0] > '9') && s[0] != '-' && s[0] != '.' {
		return s
	}
	return string(appendString(nil, s))
}

func (e *yoloWriter) Write(row *Row) error {
	name := e.boxes.Common().Name
	if slices.Contains(row.Ties, name) {
		return nil
	}
	ref, _, _, err := imageOf(row.Record, e.boxes.Field, false)
	if err != nil {
		return err
	}
	boxes, err := rowBoxes(row, name)
	if err != nil {
		return err
	}
	list, err := e.list(row.Split)
	if err != nil {
		return err
	}
	stem := safeName(imageStem(ref))
	if stem == "" {
		stem = safeName(itemRef(row.Record))
	}
	used := e.used[row.Split]
	if used[stem] {
		base := stem + "_" + safeName(itemRef(row.Record))
		stem = base
		for n := 2; used[stem]; n++ {
			stem = base + "_" + strconv.Itoa(n)
		}
	}
	used[stem] = true
	dir := "labels/"
	if row.Split != "" {
		dir += row.Split + "/"
	}
	f, err := e.sink.Create(dir + stem + ".txt")
	if err != nil {
		return err
	}
	b := e.buf[:0]
	for _, bx := range boxes {
		b = strconv.AppendInt(b, int64(labelIndex(e.boxes, bx.Label)), 10)
		for _, x := range []float64{bx.X + bx.Width/2, bx.Y + bx.Height/2, bx.Width, bx.Height} {
			b = append(b, ' ')
			b = strconv.AppendFloat(b, x, 'f', 6, 64)
		}
		b = append(b, '\n')
	}
	e.buf = b
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write yolo labels: %w", err)
	}
	if _, err := io.WriteString(list, ref+"\n"); err != nil {
		return fmt.Errorf("write yolo image list: %w", err)
	}
	return nil
}

func (e *yoloWriter) Close() error {
	var first error
	for _, sp := range e.order {
		if err := e.lists[sp].Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// imageStem is the file name of an image reference without its extension:
// the last path segment of a media path or a URL's path.
func imageStem(ref string) string {
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.Index(ref, "://"); i >= 0 {
		ref = ref[i+3:]
		if j := strings.IndexByte(ref, '/'); j >= 0 {
			ref = ref[j:]
		} else {
			ref = ""
		}
	}
	base := path.Base(strings.ReplaceAll(ref, `\`, "/"))
	if base == "." || base == "/" {
		return ""
	}
	return strings.TrimSuffix(base, path.Ext(base))
}

// safeName keeps letters, digits, '.', '-' and '_' of s and turns other
// characters into '_'; a name of dots only becomes "".
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
	if strings.Trim(s, ".") == "" {
		return ""
	}
	// File systems take names of 255 bytes; keep room for a suffix.
	for len(s) > 120 {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
