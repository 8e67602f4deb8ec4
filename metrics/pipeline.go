package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Final pipeline states, the values of mediaflow_pipelines_finished_total's
// state label.
const (
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
)

// Reasons media is deleted (or given up on), the values of the reason label
// of mediaflow_media_deleted_total and mediaflow_media_left_behind_total.
const (
	ReasonAfterPublish = "after_publish"
	ReasonCompensation = "compensation"
	ReasonStale        = "stale"
	ReasonCancelled    = "cancelled"
)

var mediaReasons = []string{ReasonAfterPublish, ReasonCompensation, ReasonStale, ReasonCancelled}

// Reasons mediaflow gives up deleting media, the values of
// mediaflow_media_left_behind_total's reason label.
const (
	// ReasonDeleteRefused: Swonkie refused the delete for good (a permanent
	// error, or retries used up).
	ReasonDeleteRefused = "delete_refused"
	// ReasonUnrecorded: the media was created but its id could not be
	// used (a 2xx answer without a usable id) or written to the pipeline
	// record and deleting it failed.
	ReasonUnrecorded = "unrecorded"
	// ReasonReplyLost: a create was sent whole and its answer never came;
	// the entry may exist, and nothing names it. Counted whether or not
	// Swonkie made it (the client cannot tell), so the counter is at least
	// the media left behind this way.
	ReasonReplyLost = "reply_lost"
)

var leftBehindReasons = []string{ReasonDeleteRefused, ReasonUnrecorded, ReasonReplyLost}

// unknownLabel stands in for a value outside a label's fixed set, so a
// caller's mistake shows up on the dashboard without growing the label set.
const unknownLabel = "unknown"

// pipelineDurationBuckets go from seconds (a small image attached at once)
// to a week, since a pipeline's publish time is the post's publishAt, which
// may be days ahead.
var pipelineDurationBuckets = []float64{
	1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600,
	3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600,
}

type pipelineMetrics struct {
	accepted   prometheus.Counter
	finished   *prometheus.CounterVec
	attached   prometheus.Histogram
	published  prometheus.Histogram
	deleted    *prometheus.CounterVec
	leftBehind *prometheus.CounterVec
	duplicates prometheus.Counter
}

func newPipelineMetrics(reg prometheus.Registerer) *pipelineMetrics {
	p := &pipelineMetrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "pipelines_accepted_total",
			Help:      "Publish requests accepted as new pipelines.",
		}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "pipelines_finished_total",
			Help:      "Pipelines that reached a final state (succeeded, failed, cancelled), by workspace; failed_step names the step a failed pipeline stopped at and is empty otherwise.",
		}, []string{"workspace", "state", "failed_step"}),
		attached: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "pipeline_attach_duration_seconds",
			Help:      "Time from a pipeline's acceptance to its post having all its media attached.",
			Buckets:   pipelineDurationBuckets,
		}),
		published: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "pipeline_publish_duration_seconds",
			Help:      "Time from a pipeline's acceptance to its post being published (includes any wait for publishAt).",
			Buckets:   pipelineDurationBuckets,
		}),
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "media_deleted_total",
			Help:      "Swonkie media entries mediaflow created and then deleted, by reason (after_publish, compensation, stale, cancelled).",
		}, []string{"reason"}),
		leftBehind: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "media_left_behind_total",
			Help:      "Swonkie media entries mediaflow created and gave up deleting, by why it gave up (delete_refused, unrecorded, reply_lost: may exist); each needs an operator.",
		}, []string{"reason"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "duplicate_posts_deleted_total",
			Help:      "Swonkie posts mediaflow found it had created twice for one pipeline (a retry after a lost answer) and deleted, keeping one.",
		}),
	}
	// Zero series for everything a dashboard divides by or alerts on, so
	// those queries have data before the first event.
	p.initWorkspace(DefaultWorkspace)
	for _, r := range mediaReasons {
		p.deleted.WithLabelValues(r)
	}
	for _, r := range leftBehindReasons {
		p.leftBehind.WithLabelValues(r)
	}
	reg.MustRegister(p.accepted, p.finished, p.attached, p.published, p.deleted, p.leftBehind, p.duplicates)
	return p
}

// initWorkspace creates the zero series of a workspace.
func (p *pipelineMetrics) initWorkspace(ws string) {
	p.finished.WithLabelValues(ws, StateSucceeded, "")
	p.finished.WithLabelValues(ws, StateCancelled, "")
}

// PipelineAccepted counts a publish request accepted as a new pipeline (not
// one answered from an existing pipeline by its idempotency key).
func (m *Metrics) PipelineAccepted() { m.pipelines.accepted.Inc() }

// PipelineFinished counts a pipeline of workspace reaching its final
// state. failedStep is the step a failed pipeline stopped at and is
// ignored for other states. A state outside succeeded|failed|cancelled is
// counted as "unknown"; a workspace not named by InitWorkspaces, as
// "other".
func (m *Metrics) PipelineFinished(workspace, state, failedStep string) {
	switch state {
	case StateSucceeded, StateCancelled:
		failedStep = ""
	case StateFailed:
		if failedStep == "" {
			failedStep = unknownLabel
		}
	default:
		state, failedStep = unknownLabel, ""
	}
	m.pipelines.finished.WithLabelValues(m.ws.label(workspace), state, failedStep).Inc()
}

// ObserveAttachedContext records the time from acceptance to the post
// having its media attached, with the trace of ctx's span, when sampled,
// as the observation's exemplar (the span of the write that attached it).
func (m *Metrics) ObserveAttachedContext(ctx context.Context, d time.Duration) {
	observe(ctx, m.pipelines.attached, d.Seconds())
}

// ObservePublishedContext records the time from acceptance to the post
// being published, with the trace of ctx's span, when sampled, as the
// observation's exemplar.
func (m *Metrics) ObservePublishedContext(ctx context.Context, d time.Duration) {
	observe(ctx, m.pipelines.published, d.Seconds())
}

// MediaDeleted counts a media entry mediaflow deleted (a 404 on delete
// counts: the entry is gone). reason is one of after_publish, compensation,
// stale, cancelled; anything else is counted as "unknown".
func (m *Metrics) MediaDeleted(reason string) {
	m.pipelines.deleted.WithLabelValues(mediaReason(reason)).Inc()
}

// MediaLeftBehind counts a media entry mediaflow created and gave up
// deleting (or may have created). reason says why: delete_refused,
// unrecorded or reply_lost;
// anything else is counted as "unknown". Each one is an orphan in the
// Swonkie account until an operator removes it.
func (m *Metrics) MediaLeftBehind(reason string) {
	m.pipelines.leftBehind.WithLabelValues(oneOf(reason, leftBehindReasons)).Inc()
}

// DuplicatePostsDeleted counts n Swonkie posts deleted because the
// pipeline had created its post more than once. Each one means an answer to
// a create was lost and the retry made a second post; a steady rate points
// at a network or timeout problem on the way to Swonkie.
func (m *Metrics) DuplicatePostsDeleted(n int) {
	if n > 0 {
		m.pipelines.duplicates.Add(float64(n))
	}
}

func mediaReason(reason string) string { return oneOf(reason, mediaReasons) }

// oneOf keeps a label value inside its fixed set.
func oneOf(v string, set []string) string {
	for _, s := range set {
		if v == s {
			return s
		}
	}
	return unknownLabel
}
