package web

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/metrics"
)

// Metrics are the process's counters and histograms, served at /metrics
// in Prometheus's text format. cmd makes one and hands its Observe methods
// to the storage writer and the model runner, and the whole to web.New;
// the gauges that are read at scrape time (queues, leases, export jobs)
// belong to the Server.
type Metrics struct {
	reg          *metrics.Registry
	requests     *metrics.Counter
	duration     *metrics.Histogram
	dbWrite      *metrics.Histogram
	dbBatch      *metrics.Histogram
	modelCalls   *metrics.Counter
	modelSeconds *metrics.Histogram
}

// NewMetrics returns a set of Loupe's metrics, all zero.
func NewMetrics() *Metrics {
	reg := metrics.NewRegistry()
	return &Metrics{
		reg: reg,
		requests: reg.Counter("loupe_http_requests_total",
			"HTTP requests answered, by route pattern, method and status code.", "route", "method", "code"),
		duration: reg.Histogram("loupe_http_request_duration_seconds",
			"Time to answer HTTP requests, by route pattern.", metrics.LatencyBuckets, "route"),
		dbWrite: reg.Histogram("loupe_db_write_seconds",
			"Time to commit one batch of writes (begin to durable commit).", metrics.LatencyBuckets),
		dbBatch: reg.Histogram("loupe_db_write_batch_size",
			"Writes committed together in one transaction (group commit).", metrics.BatchBuckets),
		modelCalls: reg.Counter("loupe_model_calls_total",
			"Calls to live models, by model name and success.", "model", "ok"),
		modelSeconds: reg.Histogram("loupe_model_call_seconds",
			"Time of calls to live models, retries included.", metrics.SlowBuckets, "model"),
	}
}

// ObserveWrite records a batch the storage writer committed; it is
// storage.Options.Observe.
func (m *Metrics) ObserveWrite(batch int, d time.Duration) {
	m.dbWrite.Observe(d.Seconds())
	m.dbBatch.Observe(float64(batch))
}

// ObserveModelCall records a call to a live model; it is
// models.Options.Observe.
func (m *Metrics) ObserveModelCall(model string, ok bool, d time.Duration) {
	m.modelCalls.Inc(model, strconv.FormatBool(ok))
	m.modelSeconds.Observe(d.Seconds(), model)
}

// observeRequest records an answered request. route is chi's pattern
// (never the raw path, which would make a series per item), and methods
// outside the standard set are counted together, so that clients cannot
// grow the series without bound.
func (m *Metrics) observeRequest(r *http.Request, status int, d time.Duration) {
	route := routePattern(r)
	method := r.Method
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		method = "OTHER"
	}
	if status == 0 {
		status = http.StatusOK
	}
	m.requests.Inc(route, method, strconv.Itoa(status))
	m.duration.Observe(d.Seconds(), route)
}

// routePattern returns the chi route pattern the request matched, such
// as /api/v1/projects/{slug}/next, or "unmatched". It is known once the
// router has routed the request.
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		return rc.RoutePattern()
	}
	return "unmatched"
}

// queueMetricsStore is what the queue gauges read; *storage.DB has it.
type queueMetricsStore interface {
	OpenItemsByProject(ctx context.Context) (map[string]int64, error)
	LeasesByProject(ctx context.Context) (held, expired map[string]int64, err error)
}

// newGauges registers the gauges read at scrape time: the queues (when the
// store can tell them) and the export jobs.
func (s *Server) newGauges() *metrics.Registry {
	reg := metrics.NewRegistry()
	if qs, ok := s.store.(queueMetricsStore); ok {
		reg.GaugeFunc("loupe_queue_open_items", "Items that still want annotations, by project.", []string{"project"},
			func(ctx context.Context, emit metrics.Emit) error {
				open, err := qs.OpenItemsByProject(ctx)
				for slug, n := range open {
					emit(float64(n), slug)
				}
				return err
			})
		reg.GaugeFunc("loupe_queue_leases", "Labelers' leases on items, held or expired unanswered, by project.", []string{"project", "state"},
			func(ctx context.Context, emit metrics.Emit) error {
				held, expired, err := qs.LeasesByProject(ctx)
				for slug, n := range held {
					emit(float64(n), slug, "held")
				}
				for slug, n := range expired {
					emit(float64(n), slug, "expired")
				}
				return err
			})
	}
	reg.GaugeFunc("loupe_export_jobs", "Export jobs this process keeps, by state.", []string{"state"},
		func(ctx context.Context, emit metrics.Emit) error {
			for st, n := range s.jobs.counts() {
				emit(float64(n), st)
			}
			return nil
		})
	return reg
}

// serveMetrics writes every metric in Prometheus's text format (0.0.4).
// A gauge that cannot be read is left out and logged; the rest are served.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	if err := s.cfg.Metrics.reg.WriteText(r.Context(), &b); err != nil {
		s.logger(r).Warn("metrics", "err", err)
	}
	if err := s.gauges.WriteText(r.Context(), &b); err != nil {
		s.logger(r).Warn("metrics", "err", err)
	}
	w.Header().Set("Content-Type", metrics.ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b.Bytes())
}

// requireSignedIn answers 401 to requests without a user, never a
// redirect to the sign-in page: /metrics is read by scrapers.
func (s *Server) requireSignedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if currentUser(r) == nil {
			s.error(w, r, loupe.Errorf(loupe.EUNAUTHORIZED, "sign in as an admin, or send an admin's API token as \"Authorization: Bearer <token>\""))
			return
		}
		next.ServeHTTP(w, r)
	})
}
