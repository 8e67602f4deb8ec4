package swonkie

import (
	"bytes"
	"fmt"
	"time"
)

// TimeLayout is how Swonkie writes timestamps: ISO-8601 in UTC with
// milliseconds, e.g. 2026-01-31T11:30:00.000Z.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Time is a timestamp in Swonkie's wire format. It reads any RFC 3339 form
// (the docs only show the millisecond one) and always writes TimeLayout.
type Time struct{ time.Time }

// NewTime returns t as a Swonkie timestamp pointer, for optional fields.
func NewTime(t time.Time) *Time { return &Time{t} }

// MarshalJSON writes t in UTC with milliseconds; the zero time is null.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format(TimeLayout) + `"`), nil
}

// UnmarshalJSON reads null, "" or any RFC 3339 timestamp.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) || bytes.Equal(b, []byte(`""`)) {
		t.Time = time.Time{}
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("swonkie: timestamp %s is not a JSON string", b)
	}
	v, err := time.Parse(time.RFC3339Nano, string(b[1:len(b)-1]))
	if err != nil {
		return fmt.Errorf("swonkie: timestamp %s: %w", b, err)
	}
	t.Time = v
	return nil
}
