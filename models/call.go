package models

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// backoff is the wait between attempts: exponential from base, capped at
// max, with jitter; a Retry-After from the model is honoured up to
// maxRetryAfter.
type backoff struct {
	base, max, maxRetryAfter time.Duration
}

var defaultBackoff = backoff{base: 250 * time.Millisecond, max: 4 * time.Second, maxRetryAfter: 30 * time.Second}

// delay is the wait before retry number n (0 for the first retry).
func (b backoff) delay(n int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, b.maxRetryAfter)
	}
	d := b.base << min(n, 16)
	if d <= 0 || d > b.max {
		d = b.max
	}
	// Full jitter in [d/2, d]: callers that failed together do not come
	// back together.
	return d/2 + rand.N(d/2+1)
}

// caller makes HTTP calls to one model: each attempt under the model's
// timeout and inside its concurrency limit, failures retried with backoff.
type caller struct {
	client   *http.Client
	timeout  time.Duration // of one attempt
	attempts int           // the first and its retries
	sem      chan struct{} // one token per call in flight
	backoff  backoff
}

// request is one HTTP call to make.
type request struct {
	method string
	url    string
	body   []byte // JSON; nil for none
	header http.Header
}

// do makes the call, retrying network errors, timeouts, 429 and 5xx (but
// no other 4xx, and never a refusal of the guard), and returns the body of
// the first 2xx answer. The error never holds the body of an answer.
func (c *caller) do(ctx context.Context, rq request) ([]byte, error) {
	var last error
	n := 0
	for {
		body, retryAfter, err := c.once(ctx, rq)
		n++
		if err == nil {
			return body, nil
		}
		last = err
		if !retryable(err) || ctx.Err() != nil || n >= c.attempts {
			break
		}
		wait := c.backoff.delay(n-1, retryAfter)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			break // no time is left to wait and try again
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, attemptsErr(last, n)
		case <-t.C:
		}
	}
	return nil, attemptsErr(last, n)
}

// once makes one attempt.
func (c *caller) once(ctx context.Context, rq request) ([]byte, time.Duration, error) {
	select {
	case c.sem <- struct{}{}:
		defer func() { <-c.sem }()
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	// The attempt's timeout, or what is left of the caller's, if less.
	limit := c.timeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < limit {
		limit = time.Until(dl).Round(time.Millisecond)
	}
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader // a nil *bytes.Reader would not be a nil io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(actx, rq.method, rq.url, body)
	if err != nil {
		return nil, 0, &permanentError{fmt.Errorf("build the request: %w", err)}
	}
	for k, vs := range rq.header {
		req.Header[k] = vs
	}
	if rq.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "loupe")
	resp, err := c.client.Do(req)
	if err != nil {
		if actx.Err() == context.DeadlineExceeded {
			return nil, 0, &timeoutError{limit}
		}
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := ReadBody(resp.Body, MaxBodyBytes)
	if err != nil {
		if actx.Err() == context.DeadlineExceeded {
			return nil, 0, &timeoutError{limit}
		}
		return nil, 0, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, retryAfter(resp.Header.Get("Retry-After")), &StatusError{Code: resp.StatusCode}
	}
	return b, 0, nil
}

// retryable reports whether another attempt may succeed.
func retryable(err error) bool {
	var se *StatusError
	var pe *permanentError
	switch {
	case errors.Is(err, ErrBlocked), errors.As(err, &pe):
		return false
	case errors.Is(err, context.Canceled):
		return false
	case errors.As(err, &se):
		return se.Code == http.StatusTooManyRequests || se.Code >= 500
	}
	return true // network errors and timeouts
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// timeoutError is an attempt that ran out of time.
type timeoutError struct{ d time.Duration }

func (e *timeoutError) Error() string { return fmt.Sprintf("no answer within %s", e.d) }

// permanentError is a failure another attempt cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// attemptError tells how many attempts a failure took.
type attemptError struct {
	err error
	n   int
}

func (e *attemptError) Error() string {
	if e.n > 1 {
		return fmt.Sprintf("%s (after %d attempts)", e.err, e.n)
	}
	return e.err.Error()
}
func (e *attemptError) Unwrap() error { return e.err }

func attemptsErr(err error, n int) error {
	if n <= 1 {
		return err
	}
	return &attemptError{err: err, n: n}
}
