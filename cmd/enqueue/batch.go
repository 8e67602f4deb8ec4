package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/mediaflow/mediaflow/tasks"
)

// maxLine bounds one JSONL line; a request is a few kilobytes at most.
const maxLine = 1 << 20

// runBatch enqueues one request per line. Bad lines are reported with
// their number and skipped; the good ones are enqueued and their ids
// printed, one per line, in input order. The exit code is non-zero when
// any line was bad.
func runBatch(e *env, args []string) int {
	var c common
	fs := e.flags("batch", &c)
	if code, ok := e.parse(fs, args, 1); !ok {
		return code
	}
	var in io.Reader = e.stdin
	total := int64(-1)
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(e.stderr, "enqueue batch: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		if n, err := countLines(f); err == nil {
			total = n
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			fmt.Fprintf(e.stderr, "enqueue batch: %v\n", err)
			return exitRuntime
		}
		in = f
	}
	cl, closeFn, err := e.client(&c)
	if err != nil {
		fmt.Fprintln(e.stderr, "enqueue batch:", err)
		return exitRuntime
	}
	defer closeFn()

	bar := e.progress(total)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	line, good, bad := 0, 0, 0
	for sc.Scan() {
		line++
		_ = bar.Add(1)
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		req, err := tasks.DecodeRequestBytes(raw)
		if err == nil {
			var rec *tasks.Record
			rec, _, err = cl.Publish(e.ctx, req)
			if err == nil {
				good++
				fmt.Fprintln(e.stdout, rec.ID)
				continue
			}
		}
		bad++
		_ = bar.Clear()
		fmt.Fprintf(e.stderr, "line %d: %s\n", line, describe(err))
		if e.ctx.Err() != nil {
			break
		}
	}
	_ = bar.Finish()
	if err := sc.Err(); err != nil {
		fmt.Fprintf(e.stderr, "enqueue batch: line %d: %v\n", line+1, err)
		return exitRuntime
	}
	fmt.Fprintf(e.stderr, "enqueue batch: %d enqueued, %d bad line(s) skipped\n", good, bad)
	if bad > 0 {
		return exitFailed
	}
	return exitOK
}

func describe(err error) string {
	if ve, ok := err.(*tasks.ValidationError); ok {
		return ve.Error()
	}
	return err.Error()
}

func countLines(r io.Reader) (int64, error) {
	var n int64
	buf := make([]byte, 64<<10)
	for {
		k, err := r.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// progress shows a bar on a terminal and stays silent otherwise (logs and
// pipes get the summary line only).
func (e *env) progress(total int64) *progressbar.ProgressBar {
	f, ok := e.stderr.(*os.File)
	visible := ok && term.IsTerminal(int(f.Fd()))
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(e.stderr),
		progressbar.OptionSetDescription("enqueueing"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetVisibility(visible),
		progressbar.OptionClearOnFinish(),
	)
}
