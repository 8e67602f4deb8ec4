package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// setting is one entry of the configuration: a config field, the flag and
// environment variable that set it, its default, and how -help shows it.
type setting struct {
	group group
	// flag is the flag's name, without a dash.
	flag string
	// env is the environment variable; empty for the modes, which are
	// flags only.
	env string
	// def is the default, written as the environment would give it.
	def string
	// shownDef is what -help says when the default is worked out at start
	// (def is empty then).
	shownDef string
	// arg names the flag's value in -help ("URL"); empty picks one from
	// the field's type.
	arg string
	// min, when set, is the smallest value allowed, written as def is.
	min string
	// secret settings are better set in the environment: flags show in ps.
	secret bool
	usage  string
	// field points at the setting's field of c: *string, *bool, *int,
	// *int64, *float64 or *time.Duration.
	field func(c *config) any
}

// group is a section of -help.
type group int

const (
	groupModes group = iota
	groupConnections
	groupLimits
	groupMedia
	groupPipelines
	groupAPI
	groupWebhooks
	groupObservability
	groupCount
)

var groupTitles = [groupCount]string{
	groupModes:         "Modes (flags only; without one the worker runs against the real Swonkie API)",
	groupConnections:   "Connections",
	groupLimits:        "Limits",
	groupMedia:         "Media sources",
	groupPipelines:     "Pipelines",
	groupAPI:           "HTTP API and pipelines page",
	groupWebhooks:      "Webhooks",
	groupObservability: "Observability (tracing: the standard OTEL_* variables turn it on, see README)",
}

// name is how errors name the setting: its environment variable, or its
// flag for a mode.
func (s setting) name() string {
	if s.env != "" {
		return s.env
	}
	return "-" + s.flag
}

func (s setting) minText() string {
	if _, ok := s.field(&config{}).(*time.Duration); ok {
		return "a duration of at least " + s.min
	}
	return "at least " + s.min
}

// argName is the placeholder -help shows after the flag.
func (s setting) argName() string {
	if s.arg != "" {
		return s.arg
	}
	switch s.field(&config{}).(type) {
	case *bool:
		return ""
	case *time.Duration:
		return "DURATION"
	case *int, *int64, *float64:
		return "N"
	}
	return "VALUE"
}

// value makes a config field a flag.Value, parsed the way the environment
// is.
type value struct{ p any }

func (v value) Set(s string) error { return setValue(v.p, s) }

func (v value) String() string {
	switch p := v.p.(type) {
	case nil:
		return ""
	case *time.Duration:
		return durationText(*p)
	case *string:
		return *p
	case *bool:
		return strconv.FormatBool(*p)
	case *int:
		return strconv.Itoa(*p)
	case *int64:
		return strconv.FormatInt(*p, 10)
	case *float64:
		return strconv.FormatFloat(*p, 'g', -1, 64)
	}
	return fmt.Sprint(v.p)
}

// IsBoolFlag lets a mode be given without a value (-sandbox).
func (v value) IsBoolFlag() bool { _, ok := v.p.(*bool); return ok }

// setValue parses s into the field p points at. Its errors complete a
// sentence that starts with the setting and its value.
func setValue(p any, s string) error {
	switch p := p.(type) {
	case *string:
		*p = s
	case *bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return errors.New("is not true or false")
		}
		*p = b
	case *int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return errors.New("is not a whole number")
		}
		*p = n
	case *int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return errors.New("is not a whole number")
		}
		*p = n
	case *float64:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || n != n {
			return errors.New("is not a number")
		}
		*p = n
	case *time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return errors.New("is not a duration (like 30s)")
		}
		*p = d
	default:
		return fmt.Errorf("has a type (%T) settings cannot hold", p)
	}
	return nil
}

// below reports whether the field p points at is less than min.
func below(p any, min string) bool {
	switch p := p.(type) {
	case *int:
		m, _ := strconv.Atoi(min)
		return *p < m
	case *int64:
		m, _ := strconv.ParseInt(min, 10, 64)
		return *p < m
	case *float64:
		m, _ := strconv.ParseFloat(min, 64)
		return *p < m
	case *time.Duration:
		m, _ := time.ParseDuration(min)
		return *p < m
	}
	return false
}

// durationText writes d the way people do: 168h, 5m, 1h30m.
func durationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// flagError is the flag package's complaint in one line, with the flag
// that was probably meant.
func flagError(err error) error {
	msg := err.Error()
	const undefined = "flag provided but not defined: -"
	if name, ok := strings.CutPrefix(msg, undefined); ok {
		if guess := closestFlag(name); guess != "" {
			return fmt.Errorf("%s (did you mean -%s? worker --help lists every flag)", msg, guess)
		}
	}
	return fmt.Errorf("%s (worker --help lists every flag)", msg)
}

// closestFlag is the one flag name starts, if only one does.
func closestFlag(name string) string {
	guess := ""
	for _, s := range settings {
		if strings.HasPrefix(s.flag, name) {
			if guess != "" {
				return ""
			}
			guess = s.flag
		}
	}
	return guess
}

// checkSettings finds mistakes in the table that would otherwise show only
// when someone sets the setting: a default or bound that does not parse, a
// flag or variable named twice.
func checkSettings() error {
	var errs []error
	flags, envs := map[string]bool{}, map[string]bool{}
	for _, s := range settings {
		p := s.field(&config{})
		for what, v := range map[string]string{"default": s.def, "min": s.min} {
			if v != "" {
				if err := setValue(p, v); err != nil {
					errs = append(errs, fmt.Errorf("-%s: %s %q %v", s.flag, what, v, err))
				}
			}
		}
		if flags[s.flag] || (s.env != "" && envs[s.env]) {
			errs = append(errs, fmt.Errorf("-%s (%s) is in the table twice", s.flag, s.env))
		}
		flags[s.flag], envs[s.env] = true, true
		if s.usage == "" || s.group < 0 || s.group >= groupCount {
			errs = append(errs, fmt.Errorf("-%s has no usage or no group", s.flag))
		}
		if (s.group == groupModes) != (s.env == "") {
			errs = append(errs, fmt.Errorf("-%s: modes, and only they, are flags without a variable", s.flag))
		}
	}
	return errors.Join(errs...)
}
