package export_test

import (
	"io"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/export"
	"go.yaml.in/yaml/v3"
)

// yoloData is a data.yaml as Ultralytics reads it.
type yoloData struct {
	Path  string         `yaml:"path"`
	Train string         `yaml:"train"`
	Val   string         `yaml:"validation"`
	Test  string         `yaml:"test"`
	NC    int            `yaml:"nc"`
	Names map[int]string `yaml:"names"`
}

// readYOLOLabels parses a label file: "CLASS CX CY W H" lines with the box
// inside the image.
func readYOLOLabels(t *testing.T, name string, b []byte, classes int) [][5]float64 {
	t.Helper()
	var out [][5]float64
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 5 {
			t.Fatalf("%s: %q is not CLASS CX CY W H", name, line)
		}
		var v [5]float64
		for i, s := range f {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", name, line, err)
			}
			v[i] = x
		}
		if c := int(v[0]); float64(c) != v[0] || c < 0 || c >= classes {
			t.Errorf("%s: class %v", name, v[0])
		}
		if v[3] <= 0 || v[4] <= 0 || v[1]-v[3]/2 < -1e-6 || v[1]+v[3]/2 > 1+1e-6 || v[2]-v[4]/2 < -1e-6 || v[2]+v[4]/2 > 1+1e-6 {
			t.Errorf("%s: box %q outside the image", name, line)
		}
		out = append(out, v)
	}
	return out
}

func TestYOLOGolden(t *testing.T) {
	meta, recs := everyKind(t)
	files, m := exportFiles(t, meta, recs, export.Spec{Format: "yolo", Aggregate: export.AggregateMajority})
	matchGolden(t, "yolo.golden", goldenFiles(files))
	var d yoloData
	if err := yaml.Unmarshal(files["data.yaml"], &d); err != nil {
		t.Fatalf("data.yaml: %v", err)
	}
	if d.Path != "." || d.Train != "images.txt" || d.NC != 2 || d.Names[0] != "car" || d.Names[1] != "person" {
		t.Errorf("data.yaml %+v", d)
	}
	images := strings.Split(strings.TrimSuffix(string(files["images.txt"]), "\n"), "\n")
	wantImages := []string{"photos/street.jpg", "https://img.example/a b/cat.png", "photos/park.png", "photos/street.jpg"}
	if strings.Join(images, "|") != strings.Join(wantImages, "|") {
		t.Errorf("images.txt %q", images)
	}
	// item-4 shows the same image as item-1: its labels get the item's id.
	wantLabels := map[string]int{"labels/street.txt": 2, "labels/cat.txt": 1, "labels/park.txt": 1, "labels/street_rev-004.txt": 1}
	for name, n := range wantLabels {
		b, ok := files[name]
		if !ok {
			t.Errorf("no %s; files %v", name, m.Files)
			continue
		}
		if got := len(readYOLOLabels(t, name, b, 2)); got != n {
			t.Errorf("%s: %d boxes, want %d", name, got, n)
		}
	}
	if len(files) != len(wantLabels)+2 {
		t.Errorf("files %v", mapKeys(files))
	}
	// item-2: a car at x 0.125, y 0.25, 0.5 × 0.5: centre 0.375, 0.5.
	box := readYOLOLabels(t, "cat", files["labels/cat.txt"], 2)[0]
	if box != [5]float64{0, 0.375, 0.5, 0.5, 0.5} {
		t.Errorf("item-2's box %v", box)
	}
	for _, v := range box[1:] {
		if math.IsNaN(v) {
			t.Error("NaN")
		}
	}
}

func TestYOLOSplitsAndCheck(t *testing.T) {
	meta, recs := everyKind(t)
	files, _ := exportFiles(t, meta, recs, splitSpec("yolo", export.AggregateFinal))
	matchGolden(t, "yolo_split.golden", goldenFiles(files))
	var d yoloData
	if err := yaml.Unmarshal(files["data.yaml"], &d); err != nil {
		t.Fatalf("data.yaml: %v", err)
	}
	if d.Train != "train.txt" || d.Val != "validation.txt" || d.Test != "test.txt" {
		t.Errorf("data.yaml %+v", d)
	}
	// final: item-4 is adjudicated; item-1 is approved but its labelers
	// tie on topics, and item-2 and item-3 are not reviewed: no final
	// answer, skipped.
	if got := string(files["train.txt"]); got != "photos/street.jpg\n" {
		t.Errorf("train.txt %q", got)
	}
	for _, name := range []string{"validation.txt", "test.txt"} {
		if b, ok := files[name]; !ok || len(b) != 0 {
			t.Errorf("%s: %q (present %v), want an empty list", name, b, ok)
		}
	}
	if b, ok := files["labels/train/street.txt"]; !ok || len(readYOLOLabels(t, "street", b, 2)) != 1 || len(files) != 5 {
		t.Errorf("files %v, want data.yaml, three lists and labels/train/street.txt", mapKeys(files))
	}
	checkRefused(t, "yolo", choiceOnlyConfig, "yolo", "needs a boxes block", "sentiment")
	_, err := export.Run(t.Context(), recs, export.Spec{Format: "yolo", Aggregate: export.AggregateEvery}, meta, nopSink{}, export.Options{})
	if loupe.ErrorField(err) != "aggregate" {
		t.Errorf("yolo with every: %v", err)
	}
}

// nopSink refuses every file: for runs that must fail before writing.
type nopSink struct{}

func (nopSink) Create(name string) (io.WriteCloser, error) { panic("nopSink: " + name) }
