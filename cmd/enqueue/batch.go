package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mediaflow/mediaflow/api"
	"github.com/mediaflow/mediaflow/tasks"
)

func (e *env) batchCommand() *cobra.Command {
	var maxLine int64
	cmd := &cobra.Command{
		Use:   "batch FILE.jsonl",
		Short: "Enqueue one publish request (JSON) per line; - reads stdin",
		Long: `batch enqueues one publish request per line: the JSON body of
POST /v1/pipelines (webhook included). Each good line's pipeline id is printed
on stdout, in input order; each bad line is reported on stderr with its number
and skipped, and the exit code is 1 when there was any. FILE may be a pipe
(- for stdin, /dev/stdin, <(…)). Ctrl-C stops reading at once (exit 130);
what was enqueued goes on.`,
		Example: `  enqueue batch requests.jsonl
  jq -c '.[]' campaign.json | enqueue batch -`,
		Args: args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if !cmd.Flags().Changed("max-line") {
				if v := e.getenv("API_MAX_BODY"); v != "" {
					n, err := strconv.ParseInt(v, 10, 64)
					if err != nil || n <= 0 {
						fmt.Fprintf(e.stderr, "enqueue batch: API_MAX_BODY %q: want a positive number of bytes\n", v)
						return exit(exitUsage)
					}
					maxLine = n
				}
			}
			if maxLine <= 0 {
				fmt.Fprintf(e.stderr, "enqueue batch: --max-line %d: want a positive number of bytes\n", maxLine)
				return exit(exitUsage)
			}
			return exit(e.batch(a[0], int(maxLine)))
		},
	}
	cmd.Flags().Int64Var(&maxLine, "max-line", api.DefaultMaxBody, "longest line in bytes; a longer one is a bad line (env API_MAX_BODY, as the HTTP API)")
	return cmd
}

// batch enqueues one request per line of name.
func (e *env) batch(name string, maxLine int) int {
	in := e.stdin
	size := int64(-1)
	if name != "-" {
		// Opened, never seeked: pipes and process substitutions work.
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(e.stderr, "enqueue batch: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		in = f
	}
	cl, closeFn, err := e.connect("batch")
	if err != nil {
		return code(err)
	}
	defer closeFn()

	bar := e.progress(size)
	lines := newLineReader(in, maxLine)
	n, good, bad := 0, 0, 0
	report := func(msg string) {
		bad++
		_ = bar.Clear()
		fmt.Fprintf(e.stderr, "line %d: %s\n", n, msg)
	}
	for {
		raw, read, tooLong, err := lines.next(e.ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			_ = bar.Finish()
			if e.ctx.Err() != nil {
				fmt.Fprintf(e.stderr, "enqueue batch: interrupted after line %d: %d enqueued, %d bad line(s) skipped\n", n, good, bad)
				return exitInterrupted
			}
			fmt.Fprintf(e.stderr, "enqueue batch: read line %d: %v\n", n+1, err)
			return exitRuntime
		}
		n++
		_ = bar.Add64(read)
		if tooLong {
			report(fmt.Sprintf("longer than %d bytes (--max-line, API_MAX_BODY); skipped", maxLine))
			continue
		}
		raw = bytes.TrimSpace(raw)
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
		if e.ctx.Err() != nil {
			_ = bar.Finish()
			fmt.Fprintf(e.stderr, "enqueue batch: interrupted at line %d (not enqueued): %d enqueued, %d bad line(s) skipped\n", n, good, bad)
			return exitInterrupted
		}
		report(err.Error())
	}
	_ = bar.Finish()
	fmt.Fprintf(e.stderr, "enqueue batch: %d enqueued, %d bad line(s) skipped\n", good, bad)
	if bad > 0 {
		return exitFailed
	}
	return exitOK
}

// lineReader splits input into lines of at most max bytes without ever
// holding more than that, and gives up waiting when its context ends: a
// read that blocks (a pipe, a terminal) runs in its own goroutine, so
// Ctrl-C is answered at once even by endless input without newlines.
type lineReader struct {
	chunks <-chan chunk
	buf    []byte
	max    int
	err    error
}

type chunk struct {
	b   []byte
	err error
}

const readSize = 64 << 10

func newLineReader(r io.Reader, max int) *lineReader {
	ch := make(chan chunk, 1)
	go func() {
		for {
			b := make([]byte, readSize)
			n, err := r.Read(b)
			ch <- chunk{b[:n], err}
			if err != nil {
				close(ch)
				return
			}
		}
	}()
	return &lineReader{chunks: ch, max: max}
}

// next returns the next line without its newline, the bytes it took in
// the input, and whether it was longer than max (its content is dropped
// then). It returns io.EOF after the last line, and ctx's error once ctx
// ends.
func (l *lineReader) next(ctx context.Context) (line []byte, read int64, tooLong bool, err error) {
	for {
		if i := bytes.IndexByte(l.buf, '\n'); i >= 0 {
			line, l.buf = l.buf[:i:i], l.buf[i+1:]
			read += int64(i + 1)
			if tooLong = tooLong || i > l.max; tooLong {
				line = nil
			}
			return line, read, tooLong, nil
		}
		if len(l.buf) > l.max {
			// Too long already: drop what is held, keep looking for its end.
			read += int64(len(l.buf))
			tooLong, l.buf = true, nil
		}
		if l.err != nil {
			if len(l.buf) == 0 && !tooLong {
				return nil, read, false, l.err
			}
			line, l.buf = l.buf, nil
			read += int64(len(line))
			if tooLong {
				line = nil
			}
			return line, read, tooLong, nil
		}
		select {
		case <-ctx.Done():
			return nil, read, false, ctx.Err()
		case c, ok := <-l.chunks:
			if !ok {
				l.err = io.EOF
				continue
			}
			l.buf = append(l.buf, c.b...)
			if c.err != nil {
				l.err = c.err
			}
		}
	}
}

// progress shows a bar of bytes read on a terminal, for a regular file
// (whose size is known), and stays silent otherwise (logs and pipes get
// the summary line only).
func (e *env) progress(size int64) *progressbar.ProgressBar {
	f, ok := e.stderr.(*os.File)
	visible := ok && size >= 0 && term.IsTerminal(int(f.Fd()))
	return progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(e.stderr),
		progressbar.OptionSetDescription("enqueueing"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetVisibility(visible),
		progressbar.OptionClearOnFinish(),
	)
}
