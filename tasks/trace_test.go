package tasks

import (
	"bufio"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediaflow/mediaflow/internal/metricstest"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tracing"
)

// traced is a setup option that records every span of the test's client,
// worker and Swonkie client.
func traced(rec *tracetest.SpanRecorder) func(*setupConfig) {
	return func(c *setupConfig) {
		c.tracing = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	}
}

// spanTree is the ended spans of a test, by id.
type spanTree struct {
	spans []sdktrace.ReadOnlySpan
	byID  map[trace.SpanID]sdktrace.ReadOnlySpan
}

func treeOf(spans []sdktrace.ReadOnlySpan) *spanTree {
	t := &spanTree{spans: spans, byID: map[trace.SpanID]sdktrace.ReadOnlySpan{}}
	for _, s := range spans {
		t.byID[s.SpanContext().SpanID()] = s
	}
	return t
}

func (t *spanTree) named(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range t.spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// step is the nearest task run (a span named by a task type) s is part
// of, "" when it is part of none.
func (t *spanTree) step(s sdktrace.ReadOnlySpan) string {
	for p, ok := t.byID[s.Parent().SpanID()]; ok; p, ok = t.byID[p.Parent().SpanID()] {
		if slices.Contains(TaskTypes, p.Name()) {
			return p.Name()
		}
	}
	return ""
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) attribute.Value {
	for _, a := range s.Attributes() {
		if a.Key == key {
			return a.Value
		}
	}
	return attribute.Value{}
}

func hasSpanEvent(s sdktrace.ReadOnlySpan, name string) bool {
	return slices.ContainsFunc(s.Events(), func(e sdktrace.Event) bool { return e.Name == name })
}

// TestPipelineIsOneTrace runs a pipeline whose create-post reply is lost
// and whose first look at its media meets a 429, with a webhook, and
// reads its spans: one trace from Publish on, which the record names and
// the receiver's traceparent continues; a span for every run of every
// step (inline ones inside the run that made them needed), the adoption
// search inside the attach that found the post, every Swonkie call
// inside the step that makes it, the 429 with its wait and its verdict;
// no id in a span name, no secret anywhere; every log line of the runs
// with the trace and span ids; exemplars of the trace.
func TestPipelineIsOneTrace(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewSpanRecorder()
	recv := newReceiver(t)
	// Seed 19 makes the second GET /media/{id} a 429 and the 14 after it
	// not: the confirm's one look (slow processing makes sure it comes)
	// passes, the await's first is refused.
	b := setup(t, traced(spans), withFaults(sandbox.FaultPlan{
		"POST /posts":     {LostReply: 1},
		"GET /media/{id}": {RateLimit: 0.2, RetryAfter: time.Second},
	}), func(c *setupConfig) {
		c.sandbox.Seed, c.sandbox.ProcessingDelay = 19, time.Second
		c.webhookURL = recv.srv.URL + "/hook?token=webhook-token-77"
		c.allowHosts = []string{"127.0.0.1"}
	})
	rec := b.wait(b.publish(b.request(ActionPublishNow, "a.png")).ID)
	if rec.State != StateSucceeded || !hasEvent(rec, StepAttach, "ok", "adopted post") {
		t.Fatalf("ended %s", dump(rec))
	}
	d := b.waitDelivered(recv)
	b.worker.Shutdown() // every run's span has ended

	tree := treeOf(spans.Ended())
	roots := 0
	for _, s := range tree.spans {
		if s.SpanContext().TraceID().String() != rec.TraceID {
			t.Errorf("span %q is in trace %s, not the pipeline's %s", s.Name(), s.SpanContext().TraceID(), rec.TraceID)
		}
		if !s.Parent().IsValid() {
			roots++
			if s.Name() != spanPublish {
				t.Errorf("root span %q, want %q", s.Name(), spanPublish)
			}
		}
	}
	if rec.TraceID == "" || roots != 1 {
		t.Fatalf("record trace %q, %d root spans; want the trace and one root", rec.TraceID, roots)
	}
	if got := (tracing.Carrier{"traceparent": d.traceparent}).TraceID(); got != rec.TraceID {
		t.Errorf("the receiver got traceparent %q, want one of trace %s", d.traceparent, rec.TraceID)
	}

	// A span for every step, the inline ones inside the run before them.
	for _, typ := range []string{TypeMediaUpload, TypeMediaConfirm, TypeMediaAwait, TypePostAttach, TypePostWatch, TypeMediaCleanup, TypeNotifyWebhook} {
		if len(tree.named(typ)) == 0 {
			t.Errorf("no %s span", typ)
		}
	}
	for _, s := range tree.named(TypeMediaConfirm) {
		if attr(s, attrInline).AsBool() && tree.step(s) != TypeMediaUpload {
			t.Errorf("the inline confirm is part of %q, want the upload that made it needed", tree.step(s))
		}
	}
	search := tree.named(spanAdoption)
	if len(search) != 1 || tree.step(search[0]) != TypePostAttach || attr(search[0], attrFound).AsInt64() != 1 {
		t.Fatalf("adoption search spans %v; want one, inside post:attach, that found the post", search)
	}

	// Every Swonkie call inside the step that makes it.
	stepsOf := map[string][]string{
		"POST /media": {TypeMediaUpload}, "PUT {uploadUrl}": {TypeMediaUpload},
		"PATCH /media/{id}": {TypeMediaConfirm}, "GET /media/{id}": {TypeMediaConfirm, TypeMediaAwait},
		"POST /posts": {TypePostAttach}, "GET /posts": {TypePostAttach},
		"GET /posts/{id}": {TypePostAttach, TypePostWatch}, "PATCH /posts/{id}/stage/{stage}": {TypePostAttach},
		"GET /posts/{id}/validate": {TypePostAttach},
		"DELETE /media/{id}":       {TypeMediaCleanup}, spanWebhook: {TypeNotifyWebhook},
	}
	calls := 0
	for _, s := range tree.spans {
		if s.SpanKind() != trace.SpanKindClient {
			continue
		}
		calls++
		if want := stepsOf[s.Name()]; !slices.Contains(want, tree.step(s)) {
			t.Errorf("call %q is part of %q, want one of %v", s.Name(), tree.step(s), want)
		}
	}
	if calls < len(stepsOf) {
		t.Errorf("%d client spans; want at least one of each of %d calls", calls, len(stepsOf))
	}

	// The 429: the call says what it asked, its run the verdict and wait.
	var limited []sdktrace.ReadOnlySpan
	for _, s := range tree.named(TypeMediaAwait) {
		if attr(s, attrVerdict).AsString() == "rate_limited" {
			limited = append(limited, s)
		}
	}
	if len(limited) != 1 {
		t.Fatalf("%d await runs with the rate_limited verdict, want 1", len(limited))
	}
	l := limited[0]
	if l.Status().Code != codes.Error || attr(l, "error.type").AsString() != "429" || !attr(l, attrRetryable).AsBool() ||
		attr(l, attrRetryIn).AsFloat64() != 1 {
		t.Errorf("the rate-limited run: status %v attributes %v", l.Status(), l.Attributes())
	}
	var call429 int
	for _, s := range tree.named("GET /media/{id}") {
		if s.Parent().SpanID() == l.SpanContext().SpanID() && hasSpanEvent(s, swonkie.EventRateLimited) {
			call429++
		}
	}
	if call429 != 1 {
		t.Errorf("the rate-limited run holds %d calls with a %s event, want 1", call429, swonkie.EventRateLimited)
	}
	// Record writes are events of the runs that made them.
	for _, s := range tree.named(TypePostWatch) {
		if s.Status().Code == codes.Unset && attr(s, attrVerdict).AsString() == "" && !hasSpanEvent(s, eventWrite) {
			t.Errorf("the watch that found the post published has events %v, want %q", s.Events(), eventWrite)
		}
	}

	// No id in a name, no secret anywhere.
	ids := []string{rec.ID, rec.PostID, rec.Media[0].MediaID}
	secrets := []string{b.sbOpts.APIKey, b.sbOpts.APIID, "webhook-token-77"}
	for _, s := range tree.spans {
		for _, id := range ids {
			if strings.Contains(s.Name(), id) {
				t.Errorf("span name %q holds id %s", s.Name(), id)
			}
		}
		var texts []string
		for _, a := range s.Attributes() {
			texts = append(texts, a.Value.String())
			if strings.Contains(a.Value.String(), "?") && a.Key == "url.full" {
				t.Errorf("span %q: url.full %q keeps its query", s.Name(), a.Value.String())
			}
		}
		for _, e := range s.Events() {
			for _, a := range e.Attributes {
				texts = append(texts, a.Value.String())
			}
		}
		texts = append(texts, s.Status().Description)
		for _, txt := range texts {
			for _, secret := range secrets {
				if strings.Contains(txt, secret) {
					t.Errorf("span %q holds a secret: %q", s.Name(), txt)
				}
			}
		}
	}

	// Every line a run logged carries the trace and one of its spans.
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(b.logs.String()))
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil || line["pipeline_id"] != rec.ID || line["task_type"] == nil {
			continue
		}
		lines++
		sid, _ := line["span_id"].(string)
		if line["trace_id"] != rec.TraceID || !slices.ContainsFunc(tree.spans, func(s sdktrace.ReadOnlySpan) bool {
			return s.SpanContext().SpanID().String() == sid
		}) {
			t.Errorf("log line %s: want trace_id %s and the span_id of a run", sc.Text(), rec.TraceID)
		}
	}
	if lines == 0 {
		t.Error("no run logged a line; the log check proves nothing")
	}

	// Exemplars: the pipeline's and its runs' durations point at the trace.
	for _, fam := range []string{"mediaflow_pipeline_publish_duration_seconds", "mediaflow_pipeline_attach_duration_seconds", "mediaflow_task_duration_seconds"} {
		found := false
		for _, m := range metricstest.Family(t, b.metrics.Registry(), fam) {
			for _, bk := range m.GetHistogram().GetBucket() {
				for _, lp := range bk.GetExemplar().GetLabel() {
					found = found || lp.GetName() == "trace_id" && lp.GetValue() == rec.TraceID
				}
			}
		}
		if !found {
			t.Errorf("%s has no exemplar of trace %s", fam, rec.TraceID)
		}
	}
}

// waitDelivered waits for the receiver's first delivery.
func (b *bundle) waitDelivered(recv *receiver) delivery {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(recv.deliveries()) == 0 {
		if time.Now().After(deadline) {
			b.t.Fatal("no webhook delivery within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return recv.deliveries()[0]
}

// TestRunsDescendOrLink: a task's run descends from the span its payload
// names as parent, starts a new trace linked to the one it names as link,
// and otherwise descends from the run it is inline in; work handed on for
// later than the horizon carries a link, not a parent; payloads without
// trace context are still version 2.
func TestRunsDescendOrLink(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewSpanRecorder()
	w := setup(t, traced(spans)).worker
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	ctx, caller := tp.Tracer("test").Start(context.Background(), "caller")
	c := tracing.Inject(ctx)
	caller.End()
	gone := PipelineID("no such pipeline") // the handler finds no record and returns

	tests := []struct {
		name     string
		pl       Payload
		ctx      context.Context
		parent   trace.SpanContext
		linkedTo trace.SpanContext
	}{
		{"parent", Payload{PipelineID: gone, Trace: c}, context.Background(), caller.SpanContext(), trace.SpanContext{}},
		{"link", Payload{PipelineID: gone, Link: c}, context.Background(), trace.SpanContext{}, caller.SpanContext()},
		{"none", Payload{PipelineID: gone}, context.Background(), trace.SpanContext{}, trace.SpanContext{}},
		{"inline", Payload{PipelineID: gone}, context.WithValue(ctx, inlineKey{}, inlineRun{depth: 1}), caller.SpanContext(), trace.SpanContext{}},
	}
	for _, tt := range tests {
		before := len(spans.Ended())
		if err := w.Handler().ProcessTask(tt.ctx, newTask(TypePostWatch, tt.pl)); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got := spans.Ended()[before:]
		if len(got) != 1 || got[0].Name() != TypePostWatch {
			t.Fatalf("%s: spans %v, want the run's", tt.name, got)
		}
		s := got[0]
		if s.Parent().SpanID() != tt.parent.SpanID() || (tt.parent.IsValid() && s.SpanContext().TraceID() != tt.parent.TraceID()) {
			t.Errorf("%s: parent %v, want %v", tt.name, s.Parent(), tt.parent)
		}
		if tt.linkedTo.IsValid() != (len(s.Links()) == 1) || (tt.linkedTo.IsValid() && s.Links()[0].SpanContext.SpanID() != tt.linkedTo.SpanID()) {
			t.Errorf("%s: links %v, want %v", tt.name, s.Links(), tt.linkedTo)
		}
		if tt.linkedTo.IsValid() && s.SpanContext().TraceID() == tt.linkedTo.TraceID() {
			t.Errorf("%s: a linked run is in the linked trace", tt.name)
		}
	}

	now := time.Now()
	for _, tt := range []struct {
		name        string
		at          time.Time
		parent, lnk bool
	}{
		{"now", time.Time{}, true, false},
		{"within the horizon", now.Add(traceHorizon), true, false},
		{"past the horizon", now.Add(traceHorizon + time.Second), false, true},
	} {
		var pl Payload
		handOn(ctx, &pl, tt.at, now)
		if (pl.Trace.TraceID() == c.TraceID()) != tt.parent || (pl.Link.TraceID() == c.TraceID()) != tt.lnk {
			t.Errorf("handed on %s: trace %v link %v", tt.name, pl.Trace, pl.Link)
		}
		if v := versionOf(t, newTask(TypePostWatch, pl)); v != PayloadVersion {
			t.Errorf("handed on %s: payload version %d, want %d", tt.name, v, PayloadVersion)
		}
	}
	var untraced Payload
	handOn(context.Background(), &untraced, time.Time{}, now)
	if v := versionOf(t, newTask(TypePostWatch, untraced)); v != payloadUntraced || untraced.Trace != nil || untraced.Link != nil {
		t.Errorf("a payload enqueued with no span: version %d, trace %v link %v", v, untraced.Trace, untraced.Link)
	}
}

func versionOf(t *testing.T, task *asynq.Task) int {
	t.Helper()
	var v struct{ V int }
	if err := json.Unmarshal(task.Payload(), &v); err != nil {
		t.Fatal(err)
	}
	return v.V
}

// TestWorkForAPipelineJoinsItsTrace: a cancel, a redelivery and a sweep's
// kick act in the pipeline's trace, under the span it was accepted in and
// linked to whoever asked, and the tasks they enqueue descend from them;
// for a pipeline accepted longer ago than the horizon, they start a trace
// linked to both.
func TestWorkForAPipelineJoinsItsTrace(t *testing.T) {
	t.Parallel()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	spans := tracetest.NewSpanRecorder()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)).Tracer("test")
	ctx, accepted := tp.Tracer("test").Start(context.Background(), spanPublish)
	now := time.Now()
	rec := &Record{ID: PipelineID(""), CreatedAt: now, trace: tracing.Inject(ctx)}
	askCtx, asker := tracer.Start(context.Background(), "POST /v1/pipelines/{id}/cancel")

	for _, tt := range []struct {
		name  string
		age   time.Duration
		child bool
	}{
		{"young", time.Minute, true},
		{"old", traceHorizon + time.Minute, false},
	} {
		fctx, span := startFor(askCtx, tracer, rec, now.Add(tt.age), spanCancel)
		var pl Payload
		handOn(fctx, &pl, time.Time{}, now)
		span.End()
		s := spans.Ended()[len(spans.Ended())-1]
		if child := s.Parent().SpanID() == accepted.SpanContext().SpanID() && s.SpanContext().TraceID() == accepted.SpanContext().TraceID(); child != tt.child {
			t.Errorf("%s: parent %v, want the accepting span: %v", tt.name, s.Parent(), tt.child)
		}
		want := []trace.SpanID{asker.SpanContext().SpanID()}
		if !tt.child {
			want = append(want, accepted.SpanContext().SpanID())
		}
		var got []trace.SpanID
		for _, l := range s.Links() {
			got = append(got, l.SpanContext.SpanID())
		}
		if !sameIDs(got, want) {
			t.Errorf("%s: links %v, want %v", tt.name, got, want)
		}
		if pl.Trace.SpanContext().SpanID() != s.SpanContext().SpanID() {
			t.Errorf("%s: a task enqueued inside descends from %v, want the span", tt.name, pl.Trace)
		}
	}
	asker.End()
	a := spans.Ended()[len(spans.Ended())-1]
	if n := len(a.Events()); n != 2 || attr(spanEventAsSpan(a.Events()[0]), attrPipeline).AsString() != rec.ID {
		t.Errorf("the asking span has events %v, want one per act naming the pipeline", a.Events())
	}
}

func sameIDs(a, b []trace.SpanID) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(x trace.SpanID) bool { return !slices.Contains(b, x) })
}

// spanEventAsSpan lets attr read an event's attributes.
func spanEventAsSpan(e sdktrace.Event) sdktrace.ReadOnlySpan {
	return tracetest.SpanStub{Attributes: e.Attributes}.Snapshot()
}

// TestSweepKickJoinsThePipelineTrace: the tasks a sweep enqueues again
// for a running pipeline descend from a kick in the pipeline's trace.
func TestSweepKickJoinsThePipelineTrace(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewSpanRecorder()
	timing := testTiming
	timing.PendingKick = time.Minute
	clock := newFakeClock()
	b := setup(t, traced(spans), func(c *setupConfig) {
		c.timing, c.clock = timing, clock
		c.queues = map[string]int{QueueCleanup: 1} // nothing runs the upload
	})
	rec := b.publish(b.request(ActionPublishNow, "a.png"))
	insp := asynq.NewInspectorFromRedisClient(b.redis.Client)
	t.Cleanup(func() { _ = insp.Close() })
	n := next{typ: TypeMediaUpload, pl: Payload{PipelineID: rec.ID}}
	if err := insp.DeleteTask(QueuePipeline, n.id()); err != nil {
		t.Fatalf("delete the upload task (a lost task): %v", err)
	}
	clock.Advance(2 * time.Minute)
	if res := b.sweepOnce(b.worker); res.Kicked != 1 {
		t.Fatalf("sweep %+v, want one kick", res)
	}
	kicks := treeOf(spans.Ended()).named(spanKick)
	if len(kicks) != 1 || kicks[0].SpanContext().TraceID().String() != rec.TraceID {
		t.Fatalf("kick spans %v, want one in trace %s", kicks, rec.TraceID)
	}
	info, err := insp.GetTaskInfo(QueuePipeline, n.id())
	if err != nil {
		t.Fatal(err)
	}
	var pl Payload
	if err := json.Unmarshal(info.Payload, &pl); err != nil {
		t.Fatal(err)
	}
	if pl.V != PayloadVersion || pl.Trace.SpanContext().SpanID() != kicks[0].SpanContext().SpanID() {
		t.Errorf("the kicked task's payload %s, want v%d under the kick %s", info.Payload, PayloadVersion, kicks[0].SpanContext().SpanID())
	}
}
