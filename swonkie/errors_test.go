package swonkie_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"strconv"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/freeport"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

func asError(err error, e **swonkie.Error) bool { return errors.As(err, e) }

// statusServer answers GET /v2/media/{status} with that status and a
// NestJS-style error body; a 429 asks for 3 seconds.
func statusServer(t *testing.T) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(path.Base(r.URL.Path))
		if err != nil {
			code = http.StatusTeapot
		}
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "3")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"statusCode":%d,"message":"status %d on purpose","errors":[]}`, code, code)
	}))
	t.Cleanup(ts.Close)
	return ts.URL + "/v2"
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	c := newClient(t, statusServer(t))
	tests := []struct {
		status                                         int
		transient, permanent, notFound, limited, confl bool
		// mayLand: a gateway that stopped waiting leaves the server
		// behind it acting (MayStillLand).
		mayLand bool
	}{
		{400, false, true, false, false, false, false},
		{401, false, true, false, false, false, false},
		{403, false, true, false, false, false, false},
		{404, false, true, true, false, false, false},
		{408, true, false, false, false, false, false},
		{409, false, true, false, false, true, false},
		{410, false, true, true, false, false, false},
		{422, false, true, false, false, false, false},
		{425, true, false, false, false, false, false},
		{429, true, false, false, true, false, false},
		{500, true, false, false, false, false, false},
		{502, true, false, false, false, false, false},
		{503, true, false, false, false, false, false},
		{504, true, false, false, false, false, true},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			t.Parallel()
			_, err := c.GetMedia(context.Background(), strconv.Itoa(tt.status))
			if err == nil {
				t.Fatal("no error")
			}
			got := []bool{swonkie.IsTransient(err), swonkie.IsPermanent(err), swonkie.IsNotFound(err), swonkie.IsRateLimited(err), swonkie.IsConflict(err), swonkie.MayStillLand(err)}
			want := []bool{tt.transient, tt.permanent, tt.notFound, tt.limited, tt.confl, tt.mayLand}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("transient/permanent/notFound/rateLimited/conflict/mayStillLand = %v, want %v (%v)", got, want, err)
			}
			if tt.transient == tt.permanent {
				t.Fatal("an error must be exactly one of transient and permanent")
			}
			var e *swonkie.Error
			if !asError(err, &e) || e.StatusCode != tt.status || e.Method != "GET" || e.Endpoint != "/media/{id}" ||
				e.Message != fmt.Sprintf("status %d on purpose", tt.status) || swonkie.StatusCode(err) != tt.status {
				t.Fatalf("error fields: %#v", e)
			}
			d, ok := swonkie.RetryAfter(err)
			if tt.status == 429 && (!ok || d != 3*time.Second) {
				t.Fatalf("429 Retry-After: %s, %v", d, ok)
			}
			if tt.status != 429 && ok {
				t.Fatalf("%d has a Retry-After", tt.status)
			}
			// Wrapping keeps the classification.
			wrapped := fmt.Errorf("step media:await: %w", err)
			if swonkie.IsTransient(wrapped) != tt.transient || swonkie.IsPermanent(wrapped) != tt.permanent {
				t.Fatal("wrapping changed the classification")
			}
		})
	}
}

func TestTransportErrorsAreTransient(t *testing.T) {
	t.Parallel()
	closedURL := "http://" + freeport.Refusing(t) + "/v2"

	slow := newFixture(t, sandbox.Options{Latency: 2 * time.Second}, func(c *swonkie.Config) { c.Timeout = 50 * time.Millisecond })
	slowToo := newFixture(t, sandbox.Options{Latency: 2 * time.Second})
	// A caller's HTTP client with a timeout of its own.
	slowClient := newFixture(t, sandbox.Options{Latency: 2 * time.Second}, func(c *swonkie.Config) { c.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond} })
	reset := newFixture(t, sandbox.Options{Faults: sandbox.FaultPlan{"GET /profiles": {Reset: 1}}})
	lost := newFixture(t, sandbox.Options{Faults: sandbox.FaultPlan{"POST /labels": {LostReply: 1}}})

	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	yes, no := true, false
	tests := []struct {
		name string
		call func() error
		is   error // errors.Is must hold, when set
		// replyLost: IsReplyLost must say this, when set (a reset may come
		// before or after the request is written).
		replyLost *bool
		// mayLand: MayStillLand must say this: only a call this side
		// stopped waiting for may still be acted on.
		mayLand bool
	}{
		{"connection refused", func() error { _, err := newClient(t, closedURL).ListProfiles(ctx); return err }, nil, &no, false},
		{"timeout", func() error { _, err := slow.c.ListProfiles(ctx); return err }, context.DeadlineExceeded, &yes, true},
		{"reset", func() error { _, err := reset.c.ListProfiles(ctx); return err }, nil, nil, false},
		{"lost reply", func() error { _, err := lost.c.CreateLabel(ctx, "x"); return err }, nil, &yes, false},
		{"cancelled", func() error { _, err := reset.c.ListLabels(cancelled); return err }, context.Canceled, &no, false},
		// A step's context cancelled with its own cause (a pipeline
		// cancelled) while the call is out: net/http answers the cause,
		// not a context error, and the call may still land all the same.
		{"cancelled with a cause while out", func() error {
			ctx, cancel := context.WithCancelCause(ctx)
			defer time.AfterFunc(100*time.Millisecond, func() { cancel(errors.New("pipeline cancelled")) }).Stop()
			_, err := slowToo.c.ListProfiles(ctx)
			return err
		}, nil, &yes, true},
		{"the HTTP client's own timeout", func() error { _, err := slowClient.c.ListProfiles(ctx); return err }, nil, &yes, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var e *swonkie.Error
			if !asError(err, &e) || e.StatusCode != 0 || e.Err == nil {
				t.Fatalf("not a no-answer *Error: %#v", err)
			}
			if !swonkie.IsTransient(err) || swonkie.IsPermanent(err) || swonkie.IsNotFound(err) || swonkie.StatusCode(err) != 0 {
				t.Fatalf("classified wrong: %v", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("errors.Is(%v, %v) is false", err, tt.is)
			}
			if tt.replyLost != nil && swonkie.IsReplyLost(err) != *tt.replyLost {
				t.Fatalf("IsReplyLost = %v, want %v: %v", !*tt.replyLost, *tt.replyLost, err)
			}
			if swonkie.MayStillLand(err) != tt.mayLand {
				t.Fatalf("MayStillLand = %v, want %v: %v", !tt.mayLand, tt.mayLand, err)
			}
		})
	}
	if swonkie.IsReplyLost(&swonkie.Error{StatusCode: 500, Sent: true}) {
		t.Error("an answer is not a lost reply")
	}

	// Outside errors are classified by what they are.
	if swonkie.IsTransient(nil) || swonkie.IsPermanent(nil) || swonkie.IsNotFound(nil) {
		t.Error("nil is classified")
	}
	if swonkie.IsTransient(errors.New("x")) || swonkie.IsPermanent(errors.New("x")) {
		t.Error("a plain error is classified")
	}
	if !swonkie.IsTransient(fmt.Errorf("w: %w", context.DeadlineExceeded)) {
		t.Error("a bare deadline is not transient")
	}
	if !swonkie.IsPermanent(fmt.Errorf("w: %w", swonkie.ErrInvalid)) {
		t.Error("ErrInvalid is not permanent")
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	tests := []struct {
		name   string
		header string
		max    time.Duration
		want   time.Duration
		ok     bool
	}{
		{"absent", "", time.Minute, 0, false},
		{"seconds", "120", time.Hour, 2 * time.Minute, true},
		{"zero", "0", time.Hour, 0, true},
		{"spaces", "  30 ", time.Hour, 30 * time.Second, true},
		{"http date", date(90 * time.Second), time.Hour, 90 * time.Second, true},
		{"http date in the past", date(-time.Hour), time.Hour, 0, true},
		{"rfc850 date", now.Add(time.Minute).Format(time.RFC850), time.Hour, time.Minute, true},
		{"garbage", "soon", time.Hour, 0, false},
		{"fraction", "1.5", time.Hour, 0, false},
		{"negative", "-5", time.Hour, 0, false},
		{"capped seconds", "600", 5 * time.Minute, 5 * time.Minute, true},
		{"capped date", date(24 * time.Hour), 5 * time.Minute, 5 * time.Minute, true},
		{"huge without cap", "99999999999999", 0, 365 * 24 * time.Hour, true},
		// Not a number Go can hold: unreadable, so ignored.
		{"overflowing", "999999999999999999999999", time.Hour, 0, false},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.header != "" {
			h.Set("Retry-After", tt.header)
		}
		got, ok := swonkie.ParseRetryAfter(h, now, tt.max)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: ParseRetryAfter(%q) = %s, %v; want %s, %v", tt.name, tt.header, got, ok, tt.want, tt.ok)
		}
	}
	if d, ok := swonkie.RetryAfterHeader(http.Header{"Retry-After": {"7"}}); !ok || d != 7*time.Second {
		t.Errorf("RetryAfterHeader: %s, %v", d, ok)
	}
}

// TestRetryAfterFromServer: the client reads Retry-After off a real 429,
// caps it with MaxRetryAfter and reads dates with its own clock.
func TestRetryAfterFromServer(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/labels" {
			w.Header().Set("Retry-After", now.Add(40*time.Second).Format(http.TimeFormat))
		} else {
			w.Header().Set("Retry-After", "3600")
		}
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	t.Cleanup(ts.Close)
	c := newClient(t, ts.URL+"/v2", func(c *swonkie.Config) {
		c.MaxRetryAfter = 10 * time.Second
		c.Now = func() time.Time { return now }
	})
	_, err := c.ListProfiles(context.Background())
	if d, ok := swonkie.RetryAfter(err); !ok || d != 10*time.Second || !swonkie.IsRateLimited(err) {
		t.Fatalf("3600s with a 10s cap: %s, %v (%v)", d, ok, err)
	}
	c = newClient(t, ts.URL+"/v2", func(c *swonkie.Config) { c.Now = func() time.Time { return now } })
	_, err = c.ListLabels(context.Background())
	if d, ok := swonkie.RetryAfter(err); !ok || d != 40*time.Second {
		t.Fatalf("HTTP-date 40s ahead: %s, %v", d, ok)
	}

	sb := newFixture(t, sandbox.Options{Faults: sandbox.FaultPlan{"*": {RateLimit: 1, RetryAfter: 2 * time.Second}}})
	_, err = sb.c.GetPost(context.Background(), "x")
	if d, ok := swonkie.RetryAfter(err); !ok || d != 2*time.Second || !swonkie.IsTransient(err) {
		t.Fatalf("sandbox 429: %s, %v, %v", d, ok, err)
	}
	if _, ok := swonkie.RetryAfter(errors.New("plain")); ok {
		t.Fatal("a plain error has a Retry-After")
	}
}
