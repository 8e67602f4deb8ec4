package tasks

import "time"

// Timing holds every delay, cap and retry budget of the pipeline. The zero
// value of a field means its default (see DefaultTiming).
type Timing struct {
	// MaxRetry is each step's retry budget (429 waits do not count).
	MaxRetry int
	// RetryBase and RetryMax bound the exponential retry delay.
	RetryBase, RetryMax time.Duration
	// UploadWindow is the life of an upload URL; an upload that would start
	// later than UploadWindow-UploadMargin after its media was created uses
	// a fresh media entry instead.
	UploadWindow, UploadMargin time.Duration
	// MaxGenerations caps how many media entries one item may go through
	// (expired windows, processing that ended in ERROR).
	MaxGenerations int
	// AwaitFirst and AwaitMax bound the backoff of the processing poll;
	// AwaitCap is how long a media may stay in processing.
	AwaitFirst, AwaitMax, AwaitCap time.Duration
	// WatchFirst and WatchMax bound the backoff of the publication poll;
	// PublishGrace is waited after publishAt before the first look, and
	// PublishWaitCap is how long after its due time a post may take to be
	// published.
	WatchFirst, WatchMax, PublishGrace, PublishWaitCap time.Duration
	// PublishingCap replaces PublishWaitCap once Swonkie is publishing the
	// post (a profile reports a status that is not a result): failing then
	// would report failed a post that may yet go out, and its cleanup could
	// not withdraw it, only pull its media from under the publication. It
	// is never shorter than PublishWaitCap.
	PublishingCap time.Duration
	// StuckAfter: a pipeline that has not moved for this long past its due
	// time is failed by the sweep.
	StuckAfter time.Duration
	// PendingKick: a pipeline still pending this long after it was
	// accepted gets its first steps enqueued again by the sweep.
	PendingKick time.Duration
	// CleanupRetryAfter: a cleanup owed for this long is enqueued again by
	// the sweep.
	CleanupRetryAfter time.Duration
	// Retention: terminal records older than this are deleted.
	Retention time.Duration
	// UploadTimeout bounds one upload task; StepTimeout every other one.
	UploadTimeout, StepTimeout time.Duration
	// MinScheduleLead: publishAt must be at least this far ahead to
	// schedule (the pipeline needs time to upload first).
	MinScheduleLead time.Duration
	// LateTolerance: when retries or a crash delay a schedule past its
	// publishAt, a post late by at most this much is published at once;
	// later than that the pipeline fails rather than publish at a time
	// nobody asked for.
	LateTolerance time.Duration
	// WebhookRetryFor is how long a webhook event is retried before it is
	// given up (WorkerConfig.WebhookRetryFor sets it).
	WebhookRetryFor time.Duration
	// ClaimMargin is how long a post (or label) claim outlives one API
	// call: a claim renewed less than this long ago still covers a whole
	// call, and a call the worker stopped waiting for is given one more
	// call and this long to land.
	ClaimMargin time.Duration
}

// DefaultTiming is the production timing.
var DefaultTiming = Timing{
	MaxRetry:          12,
	RetryBase:         time.Second,
	RetryMax:          5 * time.Minute,
	UploadWindow:      15 * time.Minute,
	UploadMargin:      time.Minute,
	MaxGenerations:    3,
	AwaitFirst:        time.Second,
	AwaitMax:          30 * time.Second,
	AwaitCap:          30 * time.Minute,
	WatchFirst:        2 * time.Second,
	WatchMax:          2 * time.Minute,
	PublishGrace:      5 * time.Second,
	PublishWaitCap:    time.Hour,
	PublishingCap:     24 * time.Hour,
	StuckAfter:        2 * time.Hour,
	PendingKick:       5 * time.Minute,
	CleanupRetryAfter: 10 * time.Minute,
	Retention:         7 * 24 * time.Hour,
	UploadTimeout:     time.Hour,
	StepTimeout:       2 * time.Minute,
	MinScheduleLead:   time.Minute,
	LateTolerance:     15 * time.Minute,
	WebhookRetryFor:   24 * time.Hour,
	ClaimMargin:       10 * time.Second,
}

// withDefaults fills every zero field from DefaultTiming.
func (t Timing) withDefaults() Timing {
	d := DefaultTiming
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	if t.MaxRetry <= 0 {
		t.MaxRetry = d.MaxRetry
	}
	if t.MaxGenerations <= 0 {
		t.MaxGenerations = d.MaxGenerations
	}
	set(&t.RetryBase, d.RetryBase)
	set(&t.RetryMax, d.RetryMax)
	set(&t.UploadWindow, d.UploadWindow)
	set(&t.UploadMargin, d.UploadMargin)
	set(&t.AwaitFirst, d.AwaitFirst)
	set(&t.AwaitMax, d.AwaitMax)
	set(&t.AwaitCap, d.AwaitCap)
	set(&t.WatchFirst, d.WatchFirst)
	set(&t.WatchMax, d.WatchMax)
	set(&t.PublishGrace, d.PublishGrace)
	set(&t.PublishWaitCap, d.PublishWaitCap)
	set(&t.PublishingCap, d.PublishingCap)
	t.PublishingCap = max(t.PublishingCap, t.PublishWaitCap)
	set(&t.StuckAfter, d.StuckAfter)
	set(&t.PendingKick, d.PendingKick)
	set(&t.CleanupRetryAfter, d.CleanupRetryAfter)
	set(&t.Retention, d.Retention)
	set(&t.UploadTimeout, d.UploadTimeout)
	set(&t.StepTimeout, d.StepTimeout)
	set(&t.MinScheduleLead, d.MinScheduleLead)
	set(&t.LateTolerance, d.LateTolerance)
	set(&t.WebhookRetryFor, d.WebhookRetryFor)
	set(&t.ClaimMargin, d.ClaimMargin)
	return t
}

// backoff is first·2^n, capped at max.
func backoff(first, max time.Duration, n int) time.Duration {
	d := first
	for range n {
		d *= 2
		if d >= max {
			return max
		}
	}
	return min(d, max)
}
