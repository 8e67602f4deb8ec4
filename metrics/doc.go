// Package metrics owns every Prometheus collector mediaflow exports and the
// HTTP handler that serves them.
//
// It knows nothing of the task or Swonkie packages: callers hand it the
// facts (a task's type and error, a request's endpoint template, a
// pipeline's final state) through small functions and interfaces, so the
// names and label sets that dashboards and alerts depend on are defined in
// this one place.
//
// Every label value is drawn from a small, bounded set: task types,
// endpoint templates, queue names, fixed outcome and state words. Ids, URLs
// and free text never become label values.
//
// Duration histograms (tasks, Swonkie calls, pipelines, API requests) carry
// the trace id of the sampled span they were observed in as an exemplar,
// served in the OpenMetrics format Prometheus asks for; with tracing off
// they are plain observations.
//
// Scrapes are cheap: nothing here talks to Redis while serving /metrics.
// Gauges that need Redis (queue sizes, pipelines by state) are refreshed by a
// [Poller] in the background and served from a cached snapshot.
package metrics
