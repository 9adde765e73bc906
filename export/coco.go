package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

func init() {
	Register(&Format{Name: "coco", Doc: "COCO object detection JSON: images, boxes in pixels and categories from the boxes block",
		ContentType: "application/json; charset=utf-8", Ext: "json", Single: true,
		Check: func(in *blocks.Interface) error { _, err := boxesBlock(in, "coco"); return err },
		New: func(s Sink, m *Meta) (Writer, error) {
			bx, err := boxesBlock(m.Interface, "coco")
			if err != nil {
				return nil, err
			}
			if err := onePerImage(m, "coco"); err != nil {
				return nil, err
			}
			w := &cocoWriter{boxes: bx, meta: m, files: SplitFiles{Sink: s, Ext: "json"}, parts: map[string]*cocoPart{}}
			w.files.Header = w.header
			return w, w.files.Ensure(m.Splits)
		}})
}

// boxesBlock returns the interface's first boxes block, or EINVALID
// naming the format.
func boxesBlock(in *blocks.Interface, format string) (*blocks.Boxes, error) {
	for _, v := range in.Valuers() {
		if b, ok := v.(*blocks.Boxes); ok {
			return b, nil
		}
	}
	return nil, loupe.FieldErrorf("format", "%s writes object detection labels and needs a boxes block (rectangles over an image field); this project has none (blocks with values: %s)", format, valuerList(in))
}

// onePerImage refuses the "every" aggregation: a detection dataset holds
// one answer per image.
func onePerImage(m *Meta, format string) error {
	if m.Aggregate == AggregateEvery {
		return loupe.FieldErrorf("aggregate", "%s holds one answer per image: export it with the majority, final or latest aggregation, not every", format)
	}
	return nil
}

// cocoWriter writes one COCO detection file per split ("data.json" or
// "SPLIT.json"):
//
//	{"info": {"description": TITLE, "version": "CONFIG_VERSION", "date_created": TIME},
//	 "images": [{"id": 1, "file_name": "photos/a.jpg", "width": 640, "height": 480}],
//	 "annotations": [{"id": 1, "image_id": 1, "category_id": 2, "bbox": [64, 96, 160, 240],
//	   "area": 38400, "iscrowd": 0}],
//	 "categories": [{"id": 1, "name": "car", "supercategory": "objects"}]}
//
// It writes the first boxes block of the interface; categories are its
// labels in config order, ids from 1, supercategory the block's name.
// Images are the rows in export order, ids from 1 in each file;
// file_name is the block's image field as the item holds it (a media
// path or a URL). Annotation ids count from 1 in each file.
//
// Loupe stores boxes as fractions of the image (0 to 1) and does not know
// the image's size in pixels, which COCO needs: it is read from the item's
// data, from FIELD_width and FIELD_height (FIELD being the image field),
// else width and height: whole positive numbers, or strings holding them.
// An item without them fails the export with a message saying so (yolo
// needs no size). bbox is [x, y, width, height] from the top left corner,
// in pixels, rounded to 2 decimals; area is width × height.
//
// A row whose block has no value is an image with no annotations (a
// negative example). A row whose majority vote tied on the block is left
// out. The "every" aggregation is refused.
//
// Images are streamed into the file as rows come; the annotations are
// kept in memory up to 1 MiB, then in an unlinked temporary file, and
// copied in after the images when the file is finished.
type cocoWriter struct {
	boxes *blocks.Boxes
	meta  *Meta
	files SplitFiles
	parts map[string]*cocoPart
	buf   []byte
}

// cocoPart is the state of one file.
type cocoPart struct {
	images, anns int
	spill        spill
}

func (e *cocoWriter) header(w io.Writer, split string) error {
	e.parts[split] = &cocoPart{}
	b := append(e.buf[:0], `{"info":{"description":`...)
	b = appendString(b, e.meta.Title)
	b = append(b, `,"version":`...)
	b = appendString(b, strconv.Itoa(e.meta.ConfigVersion))
	b = append(b, `,"date_created":`...)
	b = appendTime(b, e.meta.CreatedAt)
	b = append(b, `},"images":[`...)
	e.buf = b
	_, err := w.Write(b)
	return err
}

func (e *cocoWriter) Write(row *Row) error {
	name := e.boxes.Common().Name
	if slices.Contains(row.Ties, name) {
		return nil
	}
	w, err := e.files.Get(row.Split)
	if err != nil {
		return err
	}
	part := e.parts[row.Split]
	ref, width, height, err := imageOf(row.Record, e.boxes.Field, true)
	if err != nil {
		return err
	}
	boxes, err := rowBoxes(row, name)
	if err != nil {
		return err
	}
	part.images++
	b := e.buf[:0]
	if part.images > 1 {
		b = append(b, ',')
	}
	b = append(b, "\n{\"id\":"...)
	b = strconv.AppendInt(b, int64(part.images), 10)
	b = append(b, `,"file_name":`...)
	b = appendString(b, ref)
	b = append(b, `,"width":`...)
	b = strconv.AppendInt(b, int64(width), 10)
	b = append(b, `,"height":`...)
	b = strconv.AppendInt(b, int64(height), 10)
	b = append(b, '}')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write coco: %w", err)
	}
	b = b[:0]
	for _, bx := range boxes {
		part.anns++
		if part.anns > 1 {
			b = append(b, ',')
		}
		x, y := px(bx.X*float64(width)), px(bx.Y*float64(height))
		bw, bh := px(bx.Width*float64(width)), px(bx.Height*float64(height))
		b = append(b, "\n{\"id\":"...)
		b = strconv.AppendInt(b, int64(part.anns), 10)
		b = append(b, `,"image_id":`...)
		b = strconv.AppendInt(b, int64(part.images), 10)
		b = append(b, `,"category_id":`...)
		b = strconv.AppendInt(b, int64(labelIndex(e.boxes, bx.Label)+1), 10)
		b = append(b, `,"bbox":[`...)
		b = appendNum(b, x)
		b = append(b, ',')
		b = appendNum(b, y)
		b = append(b, ',')
		b = appendNum(b, bw)
		b = append(b, ',')
		b = appendNum(b, bh)
		b = append(b, `],"area":`...)
		b = appendNum(b, px(bw*bh))
		b = append(b, `,"iscrowd":0}`...)
	}
	e.buf = b
	if len(b) > 0 {
		if _, err := part.spill.Write(b); err != nil {
			return fmt.Errorf("coco: keep annotations: %w", err)
		}
	}
	return nil
}

func (e *cocoWriter) Close() error {
	err := e.files.Each(func(split string, w io.Writer) error {
		part := e.parts[split]
		defer part.spill.Close()
		if _, err := io.WriteString(w, "],\n\"annotations\":["); err != nil {
			return err
		}
		if err := part.spill.CopyTo(w); err != nil {
			return fmt.Errorf("coco: copy annotations: %w", err)
		}
		b := append(e.buf[:0], "],\n\"categories\":["...)
		for i, o := range e.boxes.Labels {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n{\"id\":"...)
			b = strconv.AppendInt(b, int64(i+1), 10)
			b = append(b, `,"name":`...)
			b = appendString(b, o.Value)
			b = append(b, `,"supercategory":`...)
			b = appendString(b, e.boxes.Common().Name)
			b = append(b, '}')
		}
		b = append(b, "]}\n"...)
		e.buf = b
		_, err := w.Write(b)
		return err
	})
	if cerr := e.files.Close(); err == nil {
		err = cerr
	}
	return err
}

// labelIndex is a label's place among the block's labels, from 0.
func labelIndex(b *blocks.Boxes, label string) int {
	for i, o := range b.Labels {
		if o.Value == label {
			return i
		}
	}
	return -1
}

// px rounds a pixel measure to 2 decimals.
func px(x float64) float64 { return math.Round(x*100) / 100 }

func appendNum(b []byte, x float64) []byte {
	if x == 0 {
		x = 0 // not -0
	}
	return strconv.AppendFloat(b, x, 'f', -1, 64)
}

// rowBoxes returns the boxes of a row's value for a boxes block; none
// when the block has no value.
func rowBoxes(row *Row, block string) ([]blocks.Box, error) {
	raw, ok := row.Values[block]
	if !ok || isEmptyValue(raw) {
		return nil, nil
	}
	var boxes []blocks.Box
	if err := json.Unmarshal(raw, &boxes); err != nil {
		return nil, fmt.Errorf("block %q: not a list of boxes: %w", block, err)
	}
	return boxes, nil
}

// imageOf returns an item's image reference (its field as a string) and,
// when size is set, the image's size in pixels from FIELD_width and
// FIELD_height, else width and height.
func imageOf(rec *Record, field string, size bool) (ref string, width, height int, err error) {
	var data map[string]json.RawMessage
	if err := json.Unmarshal(rec.Data, &data); err != nil {
		return "", 0, 0, fmt.Errorf("item data: %w", err)
	}
	if json.Unmarshal(data[field], &ref) != nil || ref == "" {
		return "", 0, 0, loupe.FieldErrorf("data."+field, "item %s has no image in field %q", itemRef(rec), field)
	}
	if strings.ContainsAny(ref, "\r\n") {
		return "", 0, 0, loupe.FieldErrorf("data."+field, "item %s: the image reference %q holds a line break", itemRef(rec), ref)
	}
	if !size {
		return ref, 0, 0, nil
	}
	for _, names := range [][2]string{{field + "_width", field + "_height"}, {"width", "height"}} {
		wr, okw := data[names[0]]
		hr, okh := data[names[1]]
		if !okw && !okh {
			continue
		}
		w, okw := pixels(wr)
		h, okh := pixels(hr)
		if !okw || !okh {
			return "", 0, 0, loupe.FieldErrorf("data."+names[0], "item %s: the image size %s × %s (fields %s and %s) is not two whole numbers of pixels above 0",
				itemRef(rec), orNone(wr), orNone(hr), names[0], names[1])
		}
		return ref, w, h, nil
	}
	return "", 0, 0, loupe.FieldErrorf("data."+field+"_width", "item %s: COCO boxes are in pixels, and the size of image %q is not known: give the item the fields %s_width and %s_height, or width and height (Loupe keeps boxes as fractions of the image; the yolo format needs no size)",
		itemRef(rec), ref, field, field)
}

// pixels reads a whole positive number of pixels: a JSON number, or a
// string holding one (as a CSV import gives it).
func pixels(raw json.RawMessage) (int, bool) {
	raw = bytes.TrimSpace(raw)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(strings.TrimSpace(s))
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != math.Trunc(f) || f < 1 || f > 1<<20 {
		return 0, false
	}
	return int(f), true
}

func orNone(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "(none)"
	}
	return string(raw)
}

// spill keeps bytes in memory up to spillLimit, then in an unlinked
// temporary file, so that a writer that must put something at the end of
// a file stays within flat memory.
type spill struct {
	mem  bytes.Buffer
	file *os.File
}

const spillLimit = 1 << 20

func (s *spill) Write(b []byte) (int, error) {
	if s.file == nil && s.mem.Len()+len(b) <= spillLimit {
		return s.mem.Write(b)
	}
	if s.file == nil {
		f, err := os.CreateTemp("", "loupe-export-*")
		if err != nil {
			return 0, err
		}
		// Unlinked at once: the file goes when it is closed, or when the
		// process ends, whatever happens to the export.
		os.Remove(f.Name())
		s.file = f
		if _, err := s.mem.WriteTo(f); err != nil {
			return 0, err
		}
	}
	return s.file.Write(b)
}

// CopyTo writes everything kept to w.
func (s *spill) CopyTo(w io.Writer) error {
	if s.file == nil {
		_, err := s.mem.WriteTo(w)
		return err
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err := io.Copy(w, s.file)
	return err
}

// Close lets go of what is kept.
func (s *spill) Close() error {
	s.mem.Reset()
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	return err
}
