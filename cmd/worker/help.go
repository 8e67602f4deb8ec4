package main

import (
	"fmt"
	"io"
	"strings"
)

// helpIntro is what the worker is, how to give it settings, and what it
// answers with.
const helpIntro = `Usage: worker [flags]

The mediaflow worker publishes media to social networks through the Swonkie
public API v2 (create media, upload, confirm, attach to a post, stage,
delete the media) as retryable jobs on Redis, and serves /metrics, /healthz
and /readyz (and the enqueue API and the pipelines page when API_ADDR is set).

Every setting is an environment variable and a flag; a flag given on the
command line wins. Flags take one dash or two: -concurrency 4, --concurrency=4.
`

// helpExamples are commands a newcomer can paste, from nothing installed
// to production.
var helpExamples = []struct{ cmd, what string }{
	{"worker -demo", "publish the bundled samples end to end against the sandbox, print what happened, exit (needs nothing else)"},
	{"worker -sandbox -profiles", "the sandbox's profile ids, which publish requests name"},
	{"worker -sandbox --concurrency 4", "a worker on REDIS_URL against an in-process sandbox, 4 tasks at once"},
	{`export API_TOKENS=$(openssl rand -hex 32); echo "$API_TOKENS"` + "\n  API_ADDR=127.0.0.1:8080 worker -sandbox",
		"the same, with the enqueue API and the pipelines page on http://127.0.0.1:8080/ui/ (sign in with the printed token)"},
	{"SWONKIE_API_ID=… SWONKIE_API_KEY=… MEDIA_ROOT=/srv/media worker", "the real Swonkie API; local media files only from /srv/media"},
}

// writeHelp writes -help: the settings by group, each with its variable
// and default, then examples and exit codes.
func writeHelp(w io.Writer) {
	var b strings.Builder
	b.WriteString(helpIntro)
	for g := range groupCount {
		fmt.Fprintf(&b, "\n%s:\n", groupTitles[g])
		for _, s := range settings {
			if s.group != g {
				continue
			}
			head := "  -" + s.flag
			if a := s.argName(); a != "" {
				head += " " + a
			}
			var notes []string
			if s.env != "" {
				notes = append(notes, s.env)
			}
			switch {
			case s.shownDef != "":
				notes = append(notes, "default "+s.shownDef)
			case s.def != "":
				notes = append(notes, "default "+s.def)
			}
			if len(notes) > 0 {
				// A long default goes on a line of its own.
				n, sep := "("+strings.Join(notes, ", ")+")", "  "
				if len(head)+len(sep)+len(n) > helpWidth {
					sep = "\n      "
				}
				head += sep + n
			}
			b.WriteString(head)
			usage := s.usage
			if s.secret {
				usage += "; prefer the environment: flags show in ps"
			}
			b.WriteString("\n" + wrap(usage, "      ", helpWidth))
		}
	}
	b.WriteString("\nExamples:\n")
	for _, e := range helpExamples {
		fmt.Fprintf(&b, "  %s\n%s", e.cmd, wrap(e.what, "      ", helpWidth))
	}
	b.WriteString("\n" + wrap("Exit codes: 0 stopped cleanly (or -help, -version); 1 could not start or run; 2 bad flags or settings.", "", helpWidth))
	_, _ = io.WriteString(w, b.String())
}

// helpWidth is where -help wraps its text: a terminal of 80 columns.
const helpWidth = 80

// wrap breaks text into lines of at most width columns (longer words stay
// whole), each starting with indent and ending with a newline.
func wrap(text, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(text) {
		if line != indent && len([]rune(line))+1+len([]rune(word)) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\n")
	return b.String()
}
