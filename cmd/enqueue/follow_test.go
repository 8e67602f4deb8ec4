package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/tasks"
)

func TestOverWaitsForCompensation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		state   tasks.State
		cleanup tasks.CleanupState
		want    bool
	}{
		{tasks.StateRunning, "", false},
		{tasks.StateRunning, tasks.CleanupPending, false},
		{tasks.StateFailed, tasks.CleanupPending, false},
		{tasks.StateSucceeded, tasks.CleanupPending, false},
		{tasks.StateFailed, tasks.CleanupDone, true},
		{tasks.StateCancelled, "", true},
		{tasks.StateSucceeded, tasks.CleanupKept, true},
	}
	for _, tt := range tests {
		if got := over(&tasks.Record{State: tt.state, Cleanup: tt.cleanup}); got != tt.want {
			t.Errorf("over(%s, cleanup %q) = %v, want %v", tt.state, tt.cleanup, got, tt.want)
		}
	}
}

func TestErrorWordsAndLastErrorCell(t *testing.T) {
	t.Parallel()
	attach := &tasks.StepError{Step: tasks.StepAttach, Status: 422, Message: "attach: create post: 422 profile unknown"}
	bare := &tasks.StepError{Step: tasks.StepUpload, Message: "connection reset"}
	long := &tasks.StepError{Step: tasks.StepAwait, Message: "await: " + strings.Repeat("é", 80)}
	tests := []struct {
		name  string
		state tasks.State
		err   *tasks.StepError
		want  string
	}{
		{"failed, message names its step", tasks.StateFailed, attach, "attach: create post: 422 profile unknown"},
		{"failed, message without step", tasks.StateFailed, bare, "upload: connection reset"},
		{"running, retrying", tasks.StateRunning, bare, "upload: connection reset"},
		{"succeeded after a recovered error", tasks.StateSucceeded, attach, ""},
		{"cancelled", tasks.StateCancelled, attach, ""},
		{"long, cut on a rune", tasks.StateFailed, long, "await: " + strings.Repeat("é", 53) + "…"},
	}
	for _, tt := range tests {
		if got := lastErrorCell(&tasks.Record{State: tt.state, Error: tt.err}); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := errorWords(attach); strings.Count(got, "attach:") != 1 {
		t.Errorf("errorWords repeats the step: %q", got)
	}
}

func TestScheduleNote(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 3, 0, 0, time.Local)
	tests := []struct{ spec, want string }{
		{"@every 10m", "schedule: @every 10m, one worker per slot; next slot " + time.Date(2026, 5, 1, 12, 10, 0, 0, time.Local).Format(time.DateTime)},
		{"*/15 * * * *", "next slot " + time.Date(2026, 5, 1, 12, 15, 0, 0, time.Local).Format(time.DateTime)},
		{"off", "schedule: off"},
		{"sometimes", `"sometimes" is not a schedule`},
	}
	for _, tt := range tests {
		if got := scheduleNote(tt.spec, now); !strings.Contains(got, tt.want) {
			t.Errorf("scheduleNote(%q) = %q, want it to contain %q", tt.spec, got, tt.want)
		}
	}
}

func TestLineReader(t *testing.T) {
	t.Parallel()
	type line struct {
		text    string
		tooLong bool
	}
	tests := []struct {
		name  string
		input string
		max   int
		want  []line
	}{
		{"plain", "a\nbb\n", 5, []line{{"a", false}, {"bb", false}}},
		{"no final newline", "a\nbb", 5, []line{{"a", false}, {"bb", false}}},
		{"empty lines kept", "\n\na\n", 5, []line{{"", false}, {"", false}, {"a", false}}},
		{"at the limit", "12345\n", 5, []line{{"12345", false}}},
		{"over the limit", "123456\nok\n", 5, []line{{"", true}, {"ok", false}}},
		{"over, last line", "ok\n" + strings.Repeat("x", 200000), 5, []line{{"ok", false}, {"", true}}},
		{"over by many chunks", strings.Repeat("x", 3*readSize) + "\nok", 100, []line{{"", true}, {"ok", false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lr := newLineReader(strings.NewReader(tt.input), tt.max)
			var got []line
			var total int64
			for {
				b, n, tooLong, err := lr.next(context.Background())
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				total += n
				got = append(got, line{string(b), tooLong})
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d lines %v, want %v", len(got), got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("line %d: %+v, want %+v", i+1, got[i], tt.want[i])
				}
			}
			if total != int64(len(tt.input)) {
				t.Errorf("counted %d bytes read, the input has %d", total, len(tt.input))
			}
		})
	}

	// A read that never returns does not hold next once its context ends.
	r, w := io.Pipe()
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	lr := newLineReader(r, 10)
	done := make(chan error, 1)
	go func() {
		_, _, _, err := lr.next(ctx)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("next after cancel: %v, want context.Canceled", err)
	}
}
