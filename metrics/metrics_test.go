package metrics

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

func TestWriteText(t *testing.T) {
	reg := NewRegistry()
	c := reg.Counter("c_total", "A counter\\with a\nnewline.", "l")
	c.Inc("a\"b\\c\nd")
	c.Add(2, "plain")
	h := reg.Histogram("h_seconds", "A histogram.", []float64{0.5, 0.1})
	h.Observe(0.1)
	h.Observe(0.3)
	h.Observe(7)
	reg.GaugeFunc("g", "A gauge.", []string{"x"}, func(_ context.Context, emit Emit) error {
		emit(2, "z")
		emit(1, "y")
		return nil
	})
	reg.GaugeFunc("broken", "Fails.", nil, func(context.Context, Emit) error { return errors.New("no database") })
	var b bytes.Buffer
	err := reg.WriteText(context.Background(), &b)
	if err == nil {
		t.Errorf("WriteText hid the failing gauge's error")
	}
	want := `# HELP c_total A counter\\with a\nnewline.
# TYPE c_total counter
c_total{l="a\"b\\c\nd"} 1
c_total{l="plain"} 2
# HELP h_seconds A histogram.
# TYPE h_seconds histogram
h_seconds_bucket{le="0.1"} 1
h_seconds_bucket{le="0.5"} 2
h_seconds_bucket{le="+Inf"} 3
h_seconds_sum 7.4
h_seconds_count 3
# HELP g A gauge.
# TYPE g gauge
g{x="y"} 1
g{x="z"} 2
`
	if got := b.String(); got != want {
		t.Errorf("WriteText =\n%s\nwant\n%s", got, want)
	}
}
