package source

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"unicode"
)

// redact returns src fit for logs, errors and metrics: a URL loses its
// userinfo, query and fragment, where presigned URLs keep their signatures
// and tokens. It works on the raw string rather than on url.Parse's result so
// that malformed URLs, which url.Parse rejects, are redacted too.
func redact(src string) string {
	src = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return unicode.ReplacementChar
		}
		return r
	}, src)
	var prefix, rest string
	if i := strings.Index(src, "://"); i >= 0 {
		prefix, rest = src[:i+3], src[i+3:]
	} else if strings.HasPrefix(src, "//") {
		prefix, rest = "//", src[2:]
	} else {
		// A plain path names a file under MEDIA_ROOT; it carries no secret.
		return src
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		authority = authority[at+1:]
	}
	if k := strings.IndexAny(tail, "?#"); k >= 0 {
		tail = tail[:k]
	}
	return prefix + authority + tail
}

// scrub removes what looks like URL secrets from free text: userinfo after
// "://" and anything from a '?' or '#' to the end of the word. net/http quotes
// URLs in some of its errors (a bad Location header, for one); those errors
// must not carry a presigned URL into our logs.
func scrub(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case s[i] == '?' || s[i] == '#':
			i++
			for i < len(s) && !wordEnd(s, i) {
				i++
			}
		case strings.HasPrefix(s[i:], "://"):
			b.WriteString("://")
			i += 3
			j := i
			for j < len(s) && !wordEnd(s, j) && strings.IndexByte("/?#", s[j]) < 0 {
				j++
			}
			authority := s[i:j]
			if at := strings.LastIndexByte(authority, '@'); at >= 0 {
				authority = authority[at+1:]
			}
			b.WriteString(authority)
			i = j
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}

// wordEnd reports whether s[i] ends a URL inside an error message: white
// space, or a quote that %q did not escape.
func wordEnd(s string, i int) bool {
	switch s[i] {
	case ' ', '\t', '\n', '\r':
		return true
	case '"', '\'', '`':
		return i == 0 || s[i-1] != '\\'
	}
	return false
}

// scrubError returns err unchanged when its text is clean. Otherwise the
// text-only error that carried the secret is replaced, keeping the few
// sentinels callers test for with errors.Is.
func scrubError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := scrub(msg)
	if clean == msg {
		return err
	}
	s := &scrubbed{msg: clean}
	for _, target := range []error{context.Canceled, context.DeadlineExceeded, os.ErrDeadlineExceeded, io.ErrUnexpectedEOF, ErrSpoolFull, ErrTooSlow} {
		if errors.Is(err, target) {
			s.is = append(s.is, target)
		}
	}
	return s
}

type scrubbed struct {
	msg string
	is  []error
}

func (s *scrubbed) Error() string { return s.msg }

func (s *scrubbed) Is(target error) bool {
	for _, t := range s.is {
		if t == target {
			return true
		}
	}
	return false
}
