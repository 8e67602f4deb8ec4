package jaegertest

import (
	"fmt"
	"sort"
	"strings"
)

// Trace is one trace as Jaeger's query API returns it.
type Trace struct {
	Spans []Span
}

// Span is one span of a Trace, flattened for assertions.
type Span struct {
	TraceID, SpanID string
	// ParentID is the span's CHILD_OF parent, "" for a root.
	ParentID string
	// ParentTraceID is the parent's trace (the same trace for a child).
	ParentTraceID string
	Name          string
	Service       string
	// Kind is the span.kind tag: client, server, internal…
	Kind string
	// Tags are the span's attributes by key; Resource the process's.
	Tags, Resource map[string]any
	Events         []Event
	// Error is whether Jaeger marks the span as failed.
	Error bool
}

// Event is a span event ("log" in Jaeger's words).
type Event struct {
	Name   string
	Fields map[string]any
}

// Named returns the spans called name, in start order.
func (t *Trace) Named(name string) []Span {
	var out []Span
	for _, s := range t.Spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// Event returns the span's first event called name, or nil.
func (s Span) Event(name string) *Event {
	for i := range s.Events {
		if s.Events[i].Name == name {
			return &s.Events[i]
		}
	}
	return nil
}

// Strings lists every text of the trace a secret could hide in: span
// names, tag and resource values, event names and fields.
func (t *Trace) Strings() []string {
	var out []string
	add := func(m map[string]any) {
		for k, v := range m {
			out = append(out, k, fmt.Sprint(v))
		}
	}
	for _, s := range t.Spans {
		out = append(out, s.Name)
		add(s.Tags)
		add(s.Resource)
		for _, e := range s.Events {
			out = append(out, e.Name)
			add(e.Fields)
		}
	}
	return out
}

// rawTrace is the JSON of /api/traces/{id}.
type rawTrace struct {
	Spans []struct {
		TraceID       string `json:"traceID"`
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		References    []struct {
			RefType string `json:"refType"`
			TraceID string `json:"traceID"`
			SpanID  string `json:"spanID"`
		} `json:"references"`
		StartTime int64    `json:"startTime"`
		Tags      []rawTag `json:"tags"`
		Logs      []struct {
			Fields []rawTag `json:"fields"`
		} `json:"logs"`
		ProcessID string `json:"processID"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string   `json:"serviceName"`
		Tags        []rawTag `json:"tags"`
	} `json:"processes"`
}

type rawTag struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

func tags(ts []rawTag) map[string]any {
	m := make(map[string]any, len(ts))
	for _, t := range ts {
		m[t.Key] = t.Value
	}
	return m
}

func (r rawTrace) trace() *Trace {
	spans := r.Spans
	sort.SliceStable(spans, func(i, k int) bool { return spans[i].StartTime < spans[k].StartTime })
	t := &Trace{}
	for _, rs := range spans {
		s := Span{TraceID: rs.TraceID, SpanID: rs.SpanID, Name: rs.OperationName, Tags: tags(rs.Tags)}
		for _, ref := range rs.References {
			if ref.RefType == "CHILD_OF" {
				s.ParentID, s.ParentTraceID = ref.SpanID, ref.TraceID
			}
		}
		if p, ok := r.Processes[rs.ProcessID]; ok {
			s.Service, s.Resource = p.ServiceName, tags(p.Tags)
		}
		s.Kind, _ = s.Tags["span.kind"].(string)
		s.Error, _ = s.Tags["error"].(bool)
		for _, l := range rs.Logs {
			f := tags(l.Fields)
			name, _ := f["event"].(string)
			delete(f, "event")
			s.Events = append(s.Events, Event{Name: name, Fields: f})
		}
		t.Spans = append(t.Spans, s)
	}
	return t
}

// Contains reports whether any text of the trace holds secret.
func (t *Trace) Contains(secret string) bool {
	for _, s := range t.Strings() {
		if strings.Contains(s, secret) {
			return true
		}
	}
	return false
}
