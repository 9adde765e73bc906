package export_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/export"
)

// cocoFile is a COCO detection file.
type cocoFile struct {
	Info struct {
		Description string `json:"description"`
		Version     string `json:"version"`
		DateCreated string `json:"date_created"`
	} `json:"info"`
	Images []struct {
		ID       int    `json:"id"`
		FileName string `json:"file_name"`
		Width    int    `json:"width"`
		Height   int    `json:"height"`
	} `json:"images"`
	Annotations []struct {
		ID         int        `json:"id"`
		ImageID    int        `json:"image_id"`
		CategoryID int        `json:"category_id"`
		BBox       [4]float64 `json:"bbox"`
		Area       float64    `json:"area"`
		IsCrowd    *int       `json:"iscrowd"`
	} `json:"annotations"`
	Categories []struct {
		ID            int    `json:"id"`
		Name          string `json:"name"`
		Supercategory string `json:"supercategory"`
	} `json:"categories"`
}

// readCOCO parses a COCO file and checks that its ids hold together.
func readCOCO(t *testing.T, b []byte) cocoFile {
	t.Helper()
	var c cocoFile
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("coco does not parse: %v\n%s", err, b)
	}
	images := map[int]int{} // id → index
	for i, im := range c.Images {
		if im.ID != i+1 || im.Width <= 0 || im.Height <= 0 || im.FileName == "" {
			t.Errorf("image %d: %+v", i, im)
		}
		images[im.ID] = i
	}
	for i, a := range c.Annotations {
		im, ok := images[a.ImageID]
		if a.ID != i+1 || !ok || a.CategoryID < 1 || a.CategoryID > len(c.Categories) || a.IsCrowd == nil || *a.IsCrowd != 0 {
			t.Errorf("annotation %d: %+v", i, a)
			continue
		}
		w, h := float64(c.Images[im].Width), float64(c.Images[im].Height)
		x, y, bw, bh := a.BBox[0], a.BBox[1], a.BBox[2], a.BBox[3]
		if x < 0 || y < 0 || bw <= 0 || bh <= 0 || x+bw > w+0.01 || y+bh > h+0.01 {
			t.Errorf("annotation %d: bbox %v outside the %vx%v image", a.ID, a.BBox, w, h)
		}
		if math.Abs(a.Area-bw*bh) > 0.01 {
			t.Errorf("annotation %d: area %v for bbox %v", a.ID, a.Area, a.BBox)
		}
	}
	return c
}

func TestCOCOGolden(t *testing.T) {
	meta, recs := everyKind(t)
	got := exportStream(t, meta, recs, export.Spec{Format: "coco", Aggregate: export.AggregateMajority})
	matchGolden(t, "coco.golden", got)
	c := readCOCO(t, got)
	if c.Info.Description != "Every kind" || c.Info.Version != "3" || c.Info.DateCreated != "2026-03-09T12:00:00Z" {
		t.Errorf("info %+v", c.Info)
	}
	if len(c.Categories) != 2 || c.Categories[0].Name != "car" || c.Categories[1].Name != "person" || c.Categories[0].Supercategory != "objects" {
		t.Errorf("categories %+v", c.Categories)
	}
	if len(c.Images) != 4 || c.Images[1].FileName != "https://img.example/a b/cat.png" || c.Images[1].Width != 800 || c.Images[1].Height != 600 {
		t.Errorf("images %+v", c.Images)
	}
	if len(c.Annotations) != 5 {
		t.Fatalf("%d annotations, want 5", len(c.Annotations))
	}
	// item-2: x 0.125, y 0.25, 0.5 × 0.5 of 800 × 600, a car.
	a := c.Annotations[2]
	if a.ImageID != 2 || a.CategoryID != 1 || a.BBox != [4]float64{100, 150, 400, 300} || a.Area != 120000 {
		t.Errorf("item-2's box %+v", a)
	}
	// item-1's person: x 0.1, y 0.2, 0.25 × 0.5 of 640 × 480.
	if a := c.Annotations[0]; a.CategoryID != 2 || a.BBox != [4]float64{64, 96, 160, 240} {
		t.Errorf("item-1's first box %+v", a)
	}
}

func TestCOCOSizes(t *testing.T) {
	in := parseInterface(t, "title: x\nblocks:\n  - {type: boxes, name: b, field: photo, labels: [cat]}\n")
	meta := fixtureMeta(in, "x", "X")
	box := []any{map[string]any{"x": 0.5, "y": 0.5, "width": 0.5, "height": 0.25, "label": "cat"}}
	item := func(id string, data map[string]any) *export.Record {
		it := newItem(t, in, id, "", 1, data)
		it.annotate(id+"-a", "alice", 1, map[string]any{"b": box})
		return it.rec
	}
	// FIELD_width wins over width; strings holding numbers are read.
	c := readCOCO(t, exportStream(t, meta, export.Records{
		item("s-1", map[string]any{"photo": "a.jpg", "photo_width": 200, "photo_height": "100", "width": 1, "height": 1}),
		item("s-2", map[string]any{"photo": "b.jpg", "width": "40", "height": 20}),
	}, export.Spec{Format: "coco"}))
	if c.Images[0].Width != 200 || c.Images[0].Height != 100 || c.Annotations[0].BBox != [4]float64{100, 50, 100, 25} {
		t.Errorf("photo_width: %+v %+v", c.Images[0], c.Annotations[0])
	}
	if c.Images[1].Width != 40 || c.Annotations[1].BBox != [4]float64{20, 10, 20, 5} {
		t.Errorf("width: %+v %+v", c.Images[1], c.Annotations[1])
	}
	// No size, or a size that is not pixels: the export fails saying so.
	for _, data := range []map[string]any{
		{"photo": "c.jpg"},
		{"photo": "c.jpg", "width": 0, "height": 10},
		{"photo": "c.jpg", "width": 10.5, "height": 10},
	} {
		var sink strings.Builder
		_, err := export.Run(t.Context(), export.Records{item("s-3", data)}, export.Spec{Format: "coco"}, meta, export.NewStreamSink(&sink), export.Options{})
		if loupe.ErrorCode(err) != loupe.EINVALID || !strings.Contains(loupe.ErrorMessage(err), "pixels") {
			t.Errorf("data %v: %v", data, err)
		}
	}
	// A row without boxes is an image without annotations; a tie is left
	// out.
	none := newItem(t, in, "n-1", "", 1, map[string]any{"photo": "n.jpg", "width": 10, "height": 10})
	none.annotate("n-a", "alice", 1, map[string]any{})
	tie := newItem(t, in, "t-1", "", 2, map[string]any{"photo": "t.jpg", "width": 10, "height": 10})
	tie.annotate("t-a", "alice", 1, map[string]any{"b": box})
	tie.annotate("t-b", "bob", 1, map[string]any{"b": []any{map[string]any{"x": 0, "y": 0, "width": 1, "height": 1, "label": "cat"}}})
	c = readCOCO(t, exportStream(t, meta, export.Records{none.rec, tie.rec}, export.Spec{Format: "coco"}))
	if len(c.Images) != 1 || c.Images[0].FileName != "n.jpg" || len(c.Annotations) != 0 {
		t.Errorf("no boxes and a tie: %+v", c)
	}
}

// Annotations past the in-memory limit go through a temporary file and
// come back whole, in order.
func TestCOCOSpill(t *testing.T) {
	in := parseInterface(t, "title: x\nblocks:\n  - {type: boxes, name: b, field: photo, labels: [cat, dog]}\n")
	var recs export.Records
	var boxes []any
	for i := range 1000 {
		boxes = append(boxes, map[string]any{"x": float64(i%40) / 40, "y": float64(i/40) / 25, "width": 0.025, "height": 0.04, "label": []string{"cat", "dog"}[i%2]})
	}
	for i := range 15 {
		it := newItem(t, in, fmt.Sprintf("p-%02d", i), "", int64(i+1), map[string]any{"photo": fmt.Sprintf("p%02d.jpg", i), "width": 4000, "height": 2500})
		it.annotate(fmt.Sprintf("pa-%02d", i), "alice", 1, map[string]any{"b": boxes})
		recs = append(recs, it.rec)
	}
	got := exportStream(t, fixtureMeta(in, "x", "X"), recs, export.Spec{Format: "coco"})
	if len(got) < 1<<20 {
		t.Fatalf("only %d bytes: the test does not pass the spill limit", len(got))
	}
	c := readCOCO(t, got)
	if len(c.Images) != 15 || len(c.Annotations) != 15000 || c.Annotations[14999].ImageID != 15 {
		t.Errorf("%d images, %d annotations", len(c.Images), len(c.Annotations))
	}
}

func TestCOCOSplitsAndCheck(t *testing.T) {
	meta, recs := everyKind(t)
	files, _ := exportFiles(t, meta, recs, splitSpec("coco", export.AggregateLatest))
	matchGolden(t, "coco_split.golden", goldenFiles(files))
	want := map[string]int{"train.json": 2, "validation.json": 1, "test.json": 1}
	if len(files) != len(want) {
		t.Errorf("files %v", mapKeys(files))
	}
	for name, n := range want {
		if c := readCOCO(t, files[name]); len(c.Images) != n {
			t.Errorf("%s: %d images, want %d", name, len(c.Images), n)
		}
	}
	checkRefused(t, "coco", spansOnlyConfig, "coco", "needs a boxes block", "entities")
	var sink strings.Builder
	_, err := export.Run(t.Context(), recs, export.Spec{Format: "coco", Aggregate: export.AggregateEvery}, meta, export.NewStreamSink(&sink), export.Options{})
	if loupe.ErrorField(err) != "aggregate" {
		t.Errorf("coco with every: %v", err)
	}
}
