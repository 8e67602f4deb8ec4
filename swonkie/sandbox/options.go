package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
)

// Defaults for Options fields left zero.
const (
	DefaultUploadWindow   = 15 * time.Minute
	DefaultUnconfirmedTTL = 24 * time.Hour
)

// Options configure a Server. Only APIID and APIKey are required.
type Options struct {
	// APIID and APIKey are the workspace credentials every /v2 call must
	// carry in X-API-ID and X-API-KEY.
	APIID, APIKey string
	// Seed drives every random choice: profile ids, fault decisions,
	// which confirmed uploads end in ERROR, label colours. The ids of
	// what calls make (media, posts, labels) also carry a part drawn for
	// each server, so that no two servers hand out the same one.
	Seed int64
	// Faults injects failures per endpoint; see FaultPlan.
	Faults FaultPlan
	// Latency is added to every /v2 call (not to uploads, which go to
	// storage), to give benchmarks a realistic API round trip.
	Latency time.Duration
	// ProcessingDelay is how long a confirmed media stays PROCESSING.
	ProcessingDelay time.Duration
	// PublishDelay is how long a publishNow takes to reach PUBLISHED.
	PublishDelay time.Duration
	// UploadWindow is how long an upload URL is valid. Default
	// DefaultUploadWindow, the documented "typically 15 minutes".
	UploadWindow time.Duration
	// UnconfirmedTTL is how long a media that was never confirmed lives
	// before Swonkie deletes it. Default DefaultUnconfirmedTTL.
	UnconfirmedTTL time.Duration
	// ErrorRate is the share of confirmed uploads that end in ERROR even
	// though the file is fine; which ones is fixed by the seed.
	ErrorRate float64
	// Clock defaults to a fresh *OffsetClock (real time until advanced).
	Clock Clock
	// Profiles are the workspace's connected profiles; default
	// DefaultProfiles. Profiles without an id get one from the seed.
	Profiles []swonkie.Profile
	// MediaIDField, ListEntries and Briefing choose among the answer
	// shapes the docs leave open; the zero value of each is the least
	// friendly one the docs allow (see the constants' doc comments).
	MediaIDField MediaIDField
	ListEntries  ListEntryShape
	Briefing     BriefingEcho
	// StageRefusal is the status of a stage action the post's stage does
	// not allow: 409 (the default) or 400.
	StageRefusal StageRefusal
	// SearchBriefing makes GET /posts?search= look in briefings too. The
	// docs do not say what search looks in; by default it is caption texts
	// and first comments only.
	SearchBriefing bool
	// Lenient makes every answer as friendly as the sandbox can: ids in
	// every field, full list entries with briefings, search in briefings,
	// createdAt/updatedAt on posts, names on a post's profiles, label
	// colours, the media on confirm, 200 {"success":true} on deletes and
	// the new stage on stage changes. An explicit MediaIDField,
	// ListEntries or Briefing still wins. For demos; tests of recovery code
	// must not use it.
	Lenient bool
	// PostChecks says which checks create and update run. The docs name
	// a "pre-save validation" on POST and PUT /posts and a validate that
	// "runs the same checks as real publishing"; by default create and
	// update check the post's shape only, and whether its profiles can
	// publish it, within each network's limits, is found by validate and
	// the stage actions. PostChecksAtCreate runs every check on create
	// and update too.
	PostChecks PostChecks
	// CallToActions are the callToAction values a Facebook carousel card
	// may carry. The docs call it an enum and show one value; by default
	// only that one, swonkie.CallToActionNoButton, is accepted. Name more
	// to stand in for a service whose enum is wider.
	CallToActions []string
	// LabelList says how GET /labels pages its answer, which the docs do
	// not show; by default it pages as GET /posts does.
	LabelList LabelListShape
	// DeclaredMismatch says what happens when the width, height, duration
	// or fileSize declared on POST /media disagree with the uploaded
	// file, which the docs ask callers to avoid without saying how it
	// fails. The default refuses the confirm (400 naming each field);
	// MismatchFailsProcessing confirms and ends processing in ERROR.
	// Values that were not declared are never checked.
	DeclaredMismatch MismatchVerdict
	// Logger, when set, gets one line per request: method, endpoint
	// template, status, duration and any injected fault. Never ids,
	// credentials or signatures.
	Logger *slog.Logger
}

// DefaultProfiles are the profiles of a sandbox whose Options name none:
// three healthy ones on the networks a typical workspace connects, and one
// whose connection expired, which validation must refuse.
func DefaultProfiles() []swonkie.Profile {
	return []swonkie.Profile{
		{Name: "Mediaflow Demo", Username: "mediaflow.demo", Net: swonkie.Network{Name: "Facebook", Code: "facebook"}, StatusLevel: swonkie.StatusOK},
		{Name: "Mediaflow Demo", Username: "mediaflow_demo", Net: swonkie.Network{Name: "Instagram", Code: "instagram"}, StatusLevel: swonkie.StatusOK},
		{Name: "Mediaflow", Username: "mediaflow", Net: swonkie.Network{Name: "LinkedIn", Code: "linkedin"}, StatusLevel: swonkie.StatusOK},
		{Name: "Mediaflow Old Page", Username: "mediaflow.old", Net: swonkie.Network{Name: "Facebook", Code: "facebook"}, StatusLevel: "EXPIRED"},
	}
}

// PostChecks chooses when the publish checks run.
type PostChecks string

const (
	// PostChecksAtPublish leaves them to validate and the stage actions,
	// the default.
	PostChecksAtPublish PostChecks = "publish"
	// PostChecksAtCreate runs them on create and update as well.
	PostChecksAtCreate PostChecks = "create"
)

// MismatchVerdict is how declared media specs that disagree with the
// file are refused.
type MismatchVerdict string

const (
	// MismatchRefusedAtConfirm answers the confirm 400, the default.
	MismatchRefusedAtConfirm MismatchVerdict = "confirm"
	// MismatchFailsProcessing confirms, then processing ends in ERROR.
	MismatchFailsProcessing MismatchVerdict = "processing"
)

// normalized checks o and fills in its defaults.
func (o Options) normalized() (Options, error) {
	var errs []error
	if o.APIID == "" || o.APIKey == "" {
		errs = append(errs, errors.New("API id and key are required"))
	}
	for name, d := range map[string]time.Duration{"Latency": o.Latency, "ProcessingDelay": o.ProcessingDelay,
		"PublishDelay": o.PublishDelay, "UploadWindow": o.UploadWindow, "UnconfirmedTTL": o.UnconfirmedTTL} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %s is negative", name, d))
		}
	}
	if math.IsNaN(o.ErrorRate) || o.ErrorRate < 0 || o.ErrorRate > 1 {
		errs = append(errs, fmt.Errorf("ErrorRate %v is not within [0, 1]", o.ErrorRate))
	}
	if err := o.Faults.Validate(); err != nil {
		errs = append(errs, err)
	}
	if _, err := o.shapes(); err != nil {
		errs = append(errs, err)
	}
	switch o.PostChecks {
	case "":
		o.PostChecks = PostChecksAtPublish
	case PostChecksAtPublish, PostChecksAtCreate:
	default:
		errs = append(errs, fmt.Errorf("PostChecks %q is neither %q nor %q", o.PostChecks, PostChecksAtPublish, PostChecksAtCreate))
	}
	switch o.DeclaredMismatch {
	case "":
		o.DeclaredMismatch = MismatchRefusedAtConfirm
	case MismatchRefusedAtConfirm, MismatchFailsProcessing:
	default:
		errs = append(errs, fmt.Errorf("DeclaredMismatch %q is neither %q nor %q", o.DeclaredMismatch, MismatchRefusedAtConfirm, MismatchFailsProcessing))
	}
	if len(o.CallToActions) == 0 {
		o.CallToActions = []string{swonkie.CallToActionNoButton}
	} else {
		o.CallToActions = append([]string(nil), o.CallToActions...)
	}
	if o.Profiles == nil {
		o.Profiles = DefaultProfiles()
	} else {
		o.Profiles = append([]swonkie.Profile(nil), o.Profiles...)
	}
	seen := map[string]bool{}
	for i, p := range o.Profiles {
		if p.Net.Code == "" {
			errs = append(errs, fmt.Errorf("profile %d (%s) has no net.code", i, p.Name))
		}
		if p.Net.Code != strings.ToLower(p.Net.Code) {
			errs = append(errs, fmt.Errorf("profile %d (%s): net.code %q is not lower case", i, p.Name, p.Net.Code))
		}
		if p.ID != "" && seen[p.ID] {
			errs = append(errs, fmt.Errorf("profile %d (%s): id used twice", i, p.Name))
		}
		seen[p.ID] = true
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("sandbox options: %w", err)
	}
	if o.UploadWindow == 0 {
		o.UploadWindow = DefaultUploadWindow
	}
	if o.UnconfirmedTTL == 0 {
		o.UnconfirmedTTL = DefaultUnconfirmedTTL
	}
	if o.Clock == nil {
		o.Clock = &OffsetClock{}
	}
	return o, nil
}
