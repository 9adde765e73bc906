// Package metrics keeps counters, gauges and histograms and writes them in
// Prometheus's text exposition format (version 0.0.4). It is a small,
// dependency-free stand-in for a client library: a Registry is created by
// its owner and passed around (no global registry), series are keyed by
// their label values, histograms have fixed buckets, and gauges can be
// read at scrape time through a callback.
package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ContentType is the Content-Type of WriteText's output.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Bucket sets for histograms, in seconds or counts.
var (
	// LatencyBuckets suit request and write latencies: 1 ms to 10 s.
	LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	// SlowBuckets suit calls to remote models: 10 ms to 60 s.
	SlowBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	// BatchBuckets suit batch sizes: 1 to 256 and beyond.
	BatchBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}
)

// Registry holds metric families in the order they were registered.
type Registry struct {
	mu       sync.Mutex
	families []family
	names    map[string]bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{names: map[string]bool{}} }

type family interface {
	write(ctx context.Context, b *bytes.Buffer) error
}

func (r *Registry) add(name string, f family) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[name] {
		// Registration happens at startup with fixed names: a duplicate
		// is a programming error.
		panic("metrics: " + name + " registered twice")
	}
	r.names[name] = true
	r.families = append(r.families, f)
}

// WriteText writes every family in the text exposition format. A gauge
// whose callback fails is left out; its error is returned, joined with the
// others, after everything else was written.
func (r *Registry) WriteText(ctx context.Context, w io.Writer) error {
	r.mu.Lock()
	fams := slices.Clone(r.families)
	r.mu.Unlock()
	var b bytes.Buffer
	var errs []error
	for _, f := range fams {
		var fb bytes.Buffer
		if err := f.write(ctx, &fb); err != nil {
			errs = append(errs, err)
			continue
		}
		b.Write(fb.Bytes())
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// meta holds what every family has: name, help text, label names.
type meta struct {
	name   string
	help   string
	labels []string
}

func (m *meta) header(b *bytes.Buffer, typ string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", m.name, escapeHelp(m.help), m.name, typ)
}

func (m *meta) check(values []string) {
	if len(values) != len(m.labels) {
		panic(fmt.Sprintf("metrics: %s takes %d label values, got %d", m.name, len(m.labels), len(values)))
	}
}

// key joins label values into a map key; 0xff never occurs in UTF-8.
func key(values []string) string { return strings.Join(values, "\xff") }

// labelText renders {a="x",b="y"} with extra (for le) appended; "" when
// there are no labels at all.
func labelText(names, values []string, extra ...string) string {
	if len(names) == 0 && len(extra) == 0 {
		return ""
	}
	var sb strings.Builder
	sb.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(n)
		sb.WriteString(`="`)
		sb.WriteString(EscapeLabel(values[i]))
		sb.WriteByte('"')
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if sb.Len() > 1 {
			sb.WriteByte(',')
		}
		sb.WriteString(extra[i])
		sb.WriteString(`="`)
		sb.WriteString(EscapeLabel(extra[i+1]))
		sb.WriteByte('"')
	}
	sb.WriteByte('}')
	return sb.String()
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

// EscapeLabel escapes a label value as the format requires: backslash,
// double quote and line feed.
func EscapeLabel(v string) string { return labelEscaper.Replace(v) }

func escapeHelp(v string) string { return helpEscaper.Replace(v) }

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, +1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Counter is a family of counters, one per combination of label values.
type Counter struct {
	meta
	mu     sync.Mutex
	series map[string]*counterSeries
}

type counterSeries struct {
	values []string
	n      float64
}

// Counter registers a counter family with the given label names.
func (r *Registry) Counter(name, help string, labels ...string) *Counter {
	c := &Counter{meta: meta{name, help, labels}, series: map[string]*counterSeries{}}
	r.add(name, c)
	return c
}

// Inc adds one to the series of the label values.
func (c *Counter) Inc(values ...string) { c.Add(1, values...) }

// Add adds v (≥ 0) to the series of the label values.
func (c *Counter) Add(v float64, values ...string) {
	c.check(values)
	k := key(values)
	c.mu.Lock()
	s, ok := c.series[k]
	if !ok {
		s = &counterSeries{values: slices.Clone(values)}
		c.series[k] = s
	}
	s.n += v
	c.mu.Unlock()
}

func (c *Counter) write(_ context.Context, b *bytes.Buffer) error {
	c.header(b, "counter")
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range sortedKeys(c.series) {
		s := c.series[k]
		fmt.Fprintf(b, "%s%s %s\n", c.name, labelText(c.labels, s.values), formatFloat(s.n))
	}
	return nil
}

// Histogram is a family of histograms with fixed buckets, one per
// combination of label values.
type Histogram struct {
	meta
	buckets []float64
	mu      sync.Mutex
	series  map[string]*histSeries
}

type histSeries struct {
	values []string
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      uint64
}

// Histogram registers a histogram family with the given upper bounds
// (sorted, without +Inf) and label names.
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) *Histogram {
	h := &Histogram{meta: meta{name, help, labels}, buckets: slices.Clone(buckets), series: map[string]*histSeries{}}
	slices.Sort(h.buckets)
	r.add(name, h)
	return h
}

// Observe records v in the series of the label values.
func (h *Histogram) Observe(v float64, values ...string) {
	h.check(values)
	i, _ := slices.BinarySearch(h.buckets, v) // the first bound ≥ v
	k := key(values)
	h.mu.Lock()
	s, ok := h.series[k]
	if !ok {
		s = &histSeries{values: slices.Clone(values), counts: make([]uint64, len(h.buckets)+1)}
		h.series[k] = s
	}
	s.counts[i]++
	s.sum += v
	s.n++
	h.mu.Unlock()
}

func (h *Histogram) write(_ context.Context, b *bytes.Buffer) error {
	h.header(b, "histogram")
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range sortedKeys(h.series) {
		s := h.series[k]
		var cum uint64
		for i, le := range h.buckets {
			cum += s.counts[i]
			fmt.Fprintf(b, "%s_bucket%s %d\n", h.name, labelText(h.labels, s.values, "le", formatFloat(le)), cum)
		}
		fmt.Fprintf(b, "%s_bucket%s %d\n", h.name, labelText(h.labels, s.values, "le", "+Inf"), s.n)
		fmt.Fprintf(b, "%s_sum%s %s\n", h.name, labelText(h.labels, s.values), formatFloat(s.sum))
		fmt.Fprintf(b, "%s_count%s %d\n", h.name, labelText(h.labels, s.values), s.n)
	}
	return nil
}

// Emit reports one gauge value with its label values, from a GaugeFunc's
// callback.
type Emit func(v float64, values ...string)

// gaugeFunc is a gauge family read at scrape time.
type gaugeFunc struct {
	meta
	read func(ctx context.Context, emit Emit) error
}

// GaugeFunc registers a gauge family whose values read calls emit for,
// each time the registry is written.
func (r *Registry) GaugeFunc(name, help string, labels []string, read func(ctx context.Context, emit Emit) error) {
	r.add(name, &gaugeFunc{meta: meta{name, help, labels}, read: read})
}

func (g *gaugeFunc) write(ctx context.Context, b *bytes.Buffer) error {
	type sample struct {
		values []string
		v      float64
	}
	var samples []sample
	err := g.read(ctx, func(v float64, values ...string) {
		g.check(values)
		samples = append(samples, sample{slices.Clone(values), v})
	})
	if err != nil {
		return fmt.Errorf("%s: %w", g.name, err)
	}
	slices.SortFunc(samples, func(a, b sample) int { return strings.Compare(key(a.values), key(b.values)) })
	g.header(b, "gauge")
	for _, s := range samples {
		fmt.Fprintf(b, "%s%s %s\n", g.name, labelText(g.labels, s.values), formatFloat(s.v))
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
