package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/mediaflow/mediaflow/metrics"
)

// The worker's wiring: one Metrics, its middleware on the asynq mux, its
// transport under the Swonkie client, two pollers, and the handler on
// METRICS_ADDR.
func Example() {
	m := metrics.New(metrics.Options{Version: "v1.0.0"})

	// Tasks: the code that decides retries names each failed run's outcome.
	errRateLimited := errors.New("rate limited")
	outcome := func(err error) string {
		if errors.Is(err, errRateLimited) {
			return metrics.OutcomeRateLimited
		}
		return metrics.OutcomeRetry
	}
	mux := asynq.NewServeMux()
	mux.Use(m.TaskMiddleware(outcome))
	m.InitTaskTypes("media:create", "media:upload", "post:attach")

	// Swonkie: endpoint templates, never ids or URLs.
	httpClient := &http.Client{Transport: m.InstrumentTransport(http.DefaultTransport,
		func(r *http.Request) string {
			if strings.HasPrefix(r.URL.Path, "/v2/media/") {
				return "/media/{id}"
			}
			return "{uploadUrl}"
		},
		func(h http.Header) (time.Duration, bool) { return 0, false },
	)}
	_ = httpClient

	// Gauges from Redis, refreshed in the background.
	pipelines := m.WatchPipelines(func(ctx context.Context) (metrics.PipelineStats, error) {
		return metrics.PipelineStats{ByState: map[string]int64{"running": 3}}, nil
	}, 15*time.Second)
	pipelines.Start()
	defer pipelines.Shutdown()
	// With an *asynq.Inspector in production:
	//   queues := m.WatchQueues(inspector, 15*time.Second); queues.Start(); defer queues.Shutdown()

	// Pipeline events, from the pipeline code.
	m.PipelineAccepted()
	m.ObserveAttachedContext(context.Background(), 40*time.Second)
	m.PipelineFinished(metrics.DefaultWorkspace, metrics.StateFailed, "media:upload")
	m.MediaDeleted(metrics.ReasonCompensation)

	httpMux := http.NewServeMux()
	httpMux.Handle("/metrics", m.Handler())
	fmt.Println("ok")
	// Output: ok
}
