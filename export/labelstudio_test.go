package export_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/export"
)

// lsTask is a Label Studio task as the export writes it.
type lsTask struct {
	ID          int64           `json:"id"`
	Data        json.RawMessage `json:"data"`
	Meta        map[string]any  `json:"meta"`
	Annotations []struct {
		ID              int64             `json:"id"`
		CreatedUsername string            `json:"created_username"`
		Result          []json.RawMessage `json:"result"`
		WasCancelled    *bool             `json:"was_cancelled"`
		GroundTruth     *bool             `json:"ground_truth"`
		CreatedAt       string            `json:"created_at"`
		UpdatedAt       string            `json:"updated_at"`
		LeadTime        float64           `json:"lead_time"`
		Loupe           struct {
			ID     string                     `json:"id"`
			User   string                     `json:"user"`
			Values map[string]json.RawMessage `json:"values"`
		} `json:"loupe"`
	} `json:"annotations"`
	Predictions []struct {
		ModelVersion string            `json:"model_version"`
		Score        *float64          `json:"score"`
		Result       []json.RawMessage `json:"result"`
		Loupe        struct {
			ID    string `json:"id"`
			Block string `json:"block"`
		} `json:"loupe"`
	} `json:"predictions"`
}

// readLS parses an export back: a JSON array of tasks with no unknown
// top-level task keys.
func readLS(t *testing.T, b []byte) []lsTask {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("[")) || !bytes.HasSuffix(b, []byte("]\n")) {
		t.Errorf("not a streamed array: starts %q, ends %q", b[:min(len(b), 10)], b[max(0, len(b)-10):])
	}
	var tasks []lsTask
	if err := json.Unmarshal(b, &tasks); err != nil {
		t.Fatalf("labelstudio export does not parse: %v", err)
	}
	var raw []map[string]json.RawMessage
	json.Unmarshal(b, &raw)
	for _, task := range raw {
		for k := range task {
			switch k {
			case "id", "data", "meta", "annotations", "predictions":
			default:
				t.Errorf("task has key %q, which Label Studio does not know", k)
			}
		}
	}
	return tasks
}

// results parses result items, checking their fields.
func lsResults(t *testing.T, raw []json.RawMessage, origin string) []blocks.LSResult {
	t.Helper()
	out := make([]blocks.LSResult, len(raw))
	for i, r := range raw {
		var check struct {
			ID, FromName, ToName, Type, Origin string
			Value                              map[string]any
		}
		var m map[string]json.RawMessage
		json.Unmarshal(r, &m)
		for _, k := range []string{"id", "from_name", "to_name", "type", "value", "origin"} {
			if _, ok := m[k]; !ok {
				t.Errorf("result %s has no %s", r, k)
			}
		}
		json.Unmarshal(m["origin"], &check.Origin)
		if check.Origin != origin {
			t.Errorf("result %s: origin %q, want %q", r, check.Origin, origin)
		}
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatalf("result %s: %v", r, err)
		}
	}
	return out
}

// lsExpected is what a value becomes through Label Studio, per
// docs/formats-export-a.md: a flag keeps its reason, a verdict its
// verdict, a pairwise its side (a tie is not said at all); every other
// kind keeps its value.
func lsExpected(t *testing.T, in *blocks.Interface, values map[string]json.RawMessage) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for name, raw := range values {
		v, _ := in.Valuer(name)
		var m map[string]any
		switch v.(type) {
		case *blocks.Flag:
			json.Unmarshal(raw, &m)
			raw, _ = json.Marshal(map[string]any{"reason": m["reason"]})
		case *blocks.Verdict:
			json.Unmarshal(raw, &m)
			raw, _ = json.Marshal(map[string]any{"verdict": m["verdict"]})
		case *blocks.Pairwise:
			json.Unmarshal(raw, &m)
			if m["choice"] != "A" && m["choice"] != "B" {
				continue
			}
			raw, _ = json.Marshal(map[string]any{"choice": m["choice"]})
		}
		out[name] = raw
	}
	return out
}

func sameValues(a, b map[string]json.RawMessage) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var x, y any
	json.Unmarshal(ja, &x)
	json.Unmarshal(jb, &y)
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

func TestLabelStudioGolden(t *testing.T) {
	meta, recs := everyKind(t)
	got := exportStream(t, meta, recs, export.Spec{Format: "labelstudio"})
	matchGolden(t, "labelstudio.golden", got)
	tasks := readLS(t, got)
	if len(tasks) != len(recs) {
		t.Fatalf("%d tasks, want %d", len(tasks), len(recs))
	}
	in := meta.Interface
	annIDs := map[int64]bool{}
	for i, task := range tasks {
		rec := recs[i]
		if task.ID != rec.Seq {
			t.Errorf("task %d: id %d, want the item's sequence %d", i, task.ID, rec.Seq)
		}
		if !sameJSONText(task.Data, rec.Data) {
			t.Errorf("task %d: data %s, want %s", task.ID, task.Data, rec.Data)
		}
		if task.Meta["loupe_item_id"] != rec.ItemID {
			t.Errorf("task %d: meta %v", task.ID, task.Meta)
		}
		var data map[string]any
		json.Unmarshal(rec.Data, &data)
		if len(task.Annotations) != len(rec.Annotations) {
			t.Fatalf("task %d: %d annotations, want %d", task.ID, len(task.Annotations), len(rec.Annotations))
		}
		for j, a := range task.Annotations {
			want := rec.Annotations[j]
			if annIDs[a.ID] || a.ID <= 0 || a.ID >= 1<<53 {
				t.Errorf("annotation id %d: not a new positive 53-bit number", a.ID)
			}
			annIDs[a.ID] = true
			if a.CreatedUsername != want.User || a.Loupe.ID != want.ID || a.WasCancelled == nil || *a.WasCancelled || a.GroundTruth == nil || *a.GroundTruth {
				t.Errorf("annotation %s: %+v", want.ID, a)
			}
			if a.LeadTime != float64(want.LeadMS)/1000 {
				t.Errorf("annotation %s: lead_time %v for %d ms", want.ID, a.LeadTime, want.LeadMS)
			}
			var values map[string]json.RawMessage
			json.Unmarshal(want.Values, &values)
			if !sameValues(a.Loupe.Values, values) {
				t.Errorf("annotation %s: loupe.values %v, want %v", want.ID, a.Loupe.Values, values)
			}
			// Label Studio's results map back to the values, through the
			// blocks' own FromLabelStudio.
			back, err := in.FromLabelStudio(lsResults(t, a.Result, "manual"), data)
			if err != nil {
				t.Fatalf("annotation %s: FromLabelStudio: %v", want.ID, err)
			}
			if exp := lsExpected(t, in, values); !sameValues(back, exp) {
				t.Errorf("annotation %s: results read back as\n%v\nwant\n%v", want.ID, jsonText(back), jsonText(exp))
			}
		}
		if len(task.Predictions) != len(rec.Predictions) {
			t.Fatalf("task %d: %d predictions, want %d", task.ID, len(task.Predictions), len(rec.Predictions))
		}
		for j, p := range task.Predictions {
			want := rec.Predictions[j]
			if p.ModelVersion != want.Model+"@"+want.ModelVersion || p.Score == nil || *p.Score != *want.Score || p.Loupe.ID != want.ID {
				t.Errorf("prediction %s: %+v", want.ID, p)
			}
			back, err := in.FromLabelStudio(lsResults(t, p.Result, "prediction"), data)
			if err != nil {
				t.Fatalf("prediction %s: %v", want.ID, err)
			}
			if exp := lsExpected(t, in, map[string]json.RawMessage{want.Block: want.Value}); !sameValues(back, exp) {
				t.Errorf("prediction %s reads back as %v, want %v", want.ID, jsonText(back), jsonText(exp))
			}
		}
	}
	if tasks[3].Meta["final"] == nil || tasks[3].Meta["state"] != "approved" {
		t.Errorf("item-4's meta lacks its final answer or state: %v", tasks[3].Meta)
	}
}

func jsonText(v any) string { b, _ := json.Marshal(v); return string(b) }

func sameJSONText(a, b json.RawMessage) bool {
	var x, y any
	json.Unmarshal(a, &x)
	json.Unmarshal(b, &y)
	return jsonText(x) == jsonText(y)
}

func TestLabelStudioSplits(t *testing.T) {
	meta, recs := everyKind(t)
	files, _ := exportFiles(t, meta, recs, splitSpec("labelstudio", ""))
	matchGolden(t, "labelstudio_split.golden", goldenFiles(files))
	want := map[string]int{"train.json": 2, "validation.json": 1, "test.json": 1}
	if len(files) != len(want) {
		t.Errorf("files %v, want %v", mapKeys(files), want)
	}
	for name, n := range want {
		tasks := readLS(t, files[name])
		if len(tasks) != n {
			t.Errorf("%s: %d tasks, want %d", name, len(tasks), n)
		}
		for _, task := range tasks {
			if task.Meta["split"] != strings.TrimSuffix(name, ".json") {
				t.Errorf("%s: task %d has split %v", name, task.ID, task.Meta["split"])
			}
		}
	}
	// An empty export is an empty array.
	empty := exportStream(t, meta, nil, export.Spec{Format: "labelstudio"})
	if string(empty) != "[]\n" {
		t.Errorf("empty export %q, want []", empty)
	}
}

// An interface that shows no field makes Label Studio's config read
// $_item, which the tasks then hold.
func TestLabelStudioHiddenItem(t *testing.T) {
	in := parseInterface(t, "title: x\nblocks:\n  - {type: choice, name: ok, options: [yes, no]}\n")
	it := newItem(t, in, "h-1", "ext-1", 1, map[string]any{"q": "anything"})
	it.annotate("ha-1", "alice", 1, map[string]any{"ok": "yes"})
	tasks := readLS(t, exportStream(t, fixtureMeta(in, "x", "X"), export.Records{it.rec}, export.Spec{Format: "labelstudio"}))
	var data map[string]any
	json.Unmarshal(tasks[0].Data, &data)
	if data["_item"] != "ext-1" || data["q"] != "anything" {
		t.Errorf("data %v, want _item ext-1 beside q", data)
	}
	if cfg, _ := blocks.LabelStudioConfig(in); !strings.Contains(cfg, "$_item") {
		t.Errorf("config %s does not read $_item", cfg)
	}
}

func mapKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
