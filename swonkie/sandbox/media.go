package sandbox

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mediaflow/mediaflow/mediainfo"
	"github.com/mediaflow/mediaflow/swonkie"
)

// Media states that exist only in introspection: the API answers 404 for
// both.
const (
	StateDeleted = "DELETED"
	StateExpired = "EXPIRED"
)

// media is one library entry. Its status is not stored but computed from
// the clock (see statusAt), so processing needs no goroutine.
type media struct {
	id, name  string
	seq       uint64
	createdAt time.Time
	// What the caller declared at creation; nil when it did not.
	width, height, fileSize *int64
	duration                *float64
	uploadExpires           time.Time

	// What storage saw of the last complete upload.
	uploads    int
	uploaded   bool
	bytes      int64
	sum        [32]byte
	sniffed    string
	info       mediainfo.Info // what the upload turned out to be; zero if unreadable
	probeErr   string         // why it could not be read
	uploadedAt time.Time

	confirmedAt time.Time
	outcome     swonkie.MediaStatus
	errReason   string

	deletedAt           time.Time
	expired             bool
	createReplyLost     bool
	createReplyUnusable bool
}

// goneAt reports whether the media no longer exists at t: deleted, or
// never confirmed and past UnconfirmedTTL.
func (m *media) goneAt(t time.Time, ttl time.Duration) bool {
	if !m.deletedAt.IsZero() && !t.Before(m.deletedAt) {
		return true
	}
	return !m.confirmedBy(t) && !t.Before(m.createdAt.Add(ttl))
}

func (m *media) confirmedBy(t time.Time) bool {
	return !m.confirmedAt.IsZero() && !t.Before(m.confirmedAt)
}

// statusAt is the API status at t of a media that exists then.
func (m *media) statusAt(t time.Time, processing time.Duration) swonkie.MediaStatus {
	switch {
	case !m.confirmedBy(t):
		return swonkie.MediaUploading
	case t.Before(m.confirmedAt.Add(processing)):
		return swonkie.MediaProcessing
	default:
		return m.outcome
	}
}

// state is statusAt plus the two ways of being gone, for introspection.
func (s *Server) mediaState(m *media, t time.Time) string {
	switch {
	case !m.deletedAt.IsZero() && !t.Before(m.deletedAt):
		return StateDeleted
	case m.goneAt(t, s.opts.UnconfirmedTTL):
		return StateExpired
	}
	return string(m.statusAt(t, s.opts.ProcessingDelay))
}

// liveMedia returns the media id names if it exists at now. The caller
// holds s.mu.
func (s *Server) liveMedia(id string, now time.Time) *media {
	m := s.media[id]
	if m == nil || m.goneAt(now, s.opts.UnconfirmedTTL) {
		return nil
	}
	return m
}

type createMediaBody struct {
	Name            *string  `json:"name"`
	DestinationType *string  `json:"destinationType"`
	Width           *int64   `json:"width"`
	Height          *int64   `json:"height"`
	Duration        *float64 `json:"duration"`
	FileSize        *int64   `json:"fileSize"`
}

// destinationTypes are the destinationType values POST /media accepts;
// POST_MEDIA is the only one ever seen.
var destinationTypes = []string{swonkie.DestinationPostMedia}

func (s *Server) createMedia(x *exchange) reply {
	var b createMediaBody
	if rep := decodeBody(x.r, &b); rep != nil {
		return *rep
	}
	var problems []swonkie.Problem
	switch {
	case b.Name == nil:
		problems = append(problems, swonkie.Problem{Field: "name", Message: "name is required"})
	case strings.TrimSpace(*b.Name) == "" || utf8.RuneCountInString(*b.Name) > 255:
		problems = append(problems, swonkie.Problem{Field: "name", Message: "name must be 1 to 255 characters"})
	}
	switch {
	case b.DestinationType == nil:
		problems = append(problems, swonkie.Problem{Field: "destinationType", Message: "destinationType is required"})
	case !contains(destinationTypes, *b.DestinationType):
		problems = append(problems, swonkie.Problem{Field: "destinationType",
			Message: "destinationType must be one of: " + strings.Join(destinationTypes, ", ")})
	}
	for field, v := range map[string]*int64{"width": b.Width, "height": b.Height, "fileSize": b.FileSize} {
		if v != nil && *v <= 0 {
			problems = append(problems, swonkie.Problem{Field: field, Message: field + " must be a positive integer"})
		}
	}
	if b.Duration != nil && *b.Duration <= 0 {
		problems = append(problems, swonkie.Problem{Field: "duration", Message: "duration must be a positive number"})
	}
	if len(problems) > 0 {
		sortProblems(problems)
		return errorReply(http.StatusBadRequest, "media is not valid", problems...)
	}

	now := s.lock()
	defer s.mu.Unlock()
	s.counts.mediaCreated++
	m := &media{
		id: s.newID("media"), name: *b.Name, seq: uint64(s.counts.mediaCreated), createdAt: now,
		width: b.Width, height: b.Height, fileSize: b.FileSize, duration: b.Duration,
		uploadExpires: now.Add(s.opts.UploadWindow).Truncate(time.Second),
	}
	s.media[m.id] = m
	s.mediaOrder = append(s.mediaOrder, m)
	s.unconfirmed[m] = struct{}{}
	s.wakeAt(m.createdAt.Add(s.opts.UnconfirmedTTL))
	x.createdMedia = m.id
	return jsonReply(http.StatusCreated, s.sh.createdMedia(m.id, s.signedURL(x.origin, permWrite, m.id, "", m.uploadExpires)))
}

func (s *Server) getMedia(x *exchange) reply {
	now := s.lock()
	defer s.mu.Unlock()
	m := s.liveMedia(x.params[0], now)
	if m == nil {
		return mediaNotFound()
	}
	return jsonReply(http.StatusOK, s.mediaView(m, now, x.origin))
}

// confirmMedia starts processing. Confirming is refused while nothing is
// in storage (the 3rd-party write-up warns that a confirm after a silently
// failed upload only fails later; here it fails at once) and when already
// done (the docs do not promise idempotency). Declared width, height,
// duration and fileSize that disagree with the file are refused here too
// (400, the media stays unconfirmed), unless Options.DeclaredMismatch
// makes processing fail instead.
func (s *Server) confirmMedia(x *exchange) reply {
	if rep := requireNoBody(x.r); rep != nil {
		return *rep
	}
	now := s.lock()
	defer s.mu.Unlock()
	m := s.liveMedia(x.params[0], now)
	switch {
	case m == nil:
		return mediaNotFound()
	case !m.confirmedAt.IsZero():
		return errorReply(http.StatusConflict, "media is already confirmed")
	case !m.uploaded:
		return errorReply(http.StatusConflict, "nothing has been uploaded for this media yet")
	}
	if ps := declaredMismatches(m); len(ps) > 0 && s.opts.DeclaredMismatch == MismatchRefusedAtConfirm {
		return errorReply(http.StatusBadRequest, "declared media specs disagree with the uploaded file", ps...)
	}
	m.confirmedAt = now
	m.outcome, m.errReason = s.process(m)
	delete(s.unconfirmed, m)
	s.counts.mediaConfirmed++
	if !s.sh.lenient {
		// The docs promise a 200 with a JSON body and say nothing of its
		// contents: the status is what GET /media/{id} is for.
		return jsonReply(http.StatusOK, struct{}{})
	}
	v := s.mediaView(m, now, x.origin)
	// The answer describes the moment processing starts, even when
	// ProcessingDelay is zero and a GET would already see the outcome.
	v.Status, v.Type, v.Specs, v.Path, v.Preview = swonkie.MediaProcessing, "", swonkie.MediaSpecs{}, "", ""
	return jsonReply(http.StatusOK, v)
}

// durationTolerance is how far a declared duration may be from the
// file's: clients round, and containers and streams disagree by a frame.
const durationTolerance = 0.1

// declaredMismatches compares what POST /media declared with the file.
// Only declared values are checked. Width and height are the displayed
// size, after the file's rotation: what a viewer, and Swonkie's specs,
// see. A file that could not be read is left to processing.
func declaredMismatches(m *media) []swonkie.Problem {
	var ps []swonkie.Problem
	if m.fileSize != nil && *m.fileSize != m.bytes {
		ps = append(ps, swonkie.Problem{Field: "fileSize",
			Message: fmt.Sprintf("declared fileSize %d disagrees with the %d bytes uploaded", *m.fileSize, m.bytes)})
	}
	if m.info.Kind == "" {
		return ps
	}
	w, h := m.info.Display()
	if m.width != nil && *m.width != int64(w) {
		ps = append(ps, swonkie.Problem{Field: "width",
			Message: fmt.Sprintf("declared width %d disagrees with the file's displayed width %d", *m.width, w)})
	}
	if m.height != nil && *m.height != int64(h) {
		ps = append(ps, swonkie.Problem{Field: "height",
			Message: fmt.Sprintf("declared height %d disagrees with the file's displayed height %d", *m.height, h)})
	}
	if m.duration != nil {
		switch {
		case m.info.Kind != mediainfo.Video:
			ps = append(ps, swonkie.Problem{Field: "duration", Message: "duration is declared, but the file is an image"})
		case math.Abs(*m.duration-m.info.Seconds()) > durationTolerance:
			ps = append(ps, swonkie.Problem{Field: "duration", Message: fmt.Sprintf("declared duration %ss disagrees with the file's %ss",
				strconv.FormatFloat(*m.duration, 'f', -1, 64), strconv.FormatFloat(m.info.Seconds(), 'f', -1, 64))})
		}
	}
	return ps
}

// process decides at confirm time how processing will end.
func (s *Server) process(m *media) (swonkie.MediaStatus, string) {
	switch {
	case !isImage(m.sniffed) && !isVideo(m.sniffed):
		return swonkie.MediaError, "file is " + m.sniffed + ", not an image or a video"
	case m.info.Kind == "":
		return swonkie.MediaError, "file cannot be read: " + m.probeErr
	}
	if ps := declaredMismatches(m); len(ps) > 0 {
		return swonkie.MediaError, "declared specs disagree with the file: " + ps[0].Message
	}
	if chance(s.opts.ErrorRate, draw(s.opts.Seed, "media error", m.seq, 0)) {
		return swonkie.MediaError, "processing failed (ErrorRate)"
	}
	return swonkie.MediaSuccess, ""
}

func (s *Server) deleteMedia(x *exchange) reply {
	if rep := requireNoBody(x.r); rep != nil {
		return *rep
	}
	now := s.lock()
	defer s.mu.Unlock()
	m := s.liveMedia(x.params[0], now)
	if m == nil {
		return mediaNotFound()
	}
	m.deletedAt = now
	delete(s.unconfirmed, m)
	s.counts.mediaDeleted++
	return s.sh.deleted()
}

func mediaNotFound() reply {
	return errorReply(http.StatusNotFound, "media not found in this workspace")
}

// readURLLifetime is how long the signed path and preview URLs of a media
// stay valid.
const readURLLifetime = time.Hour

// mediaView is GET /media/{id}'s answer. Type, specs and the signed URLs
// are what processing finds out, so they appear once it is over.
func (s *Server) mediaView(m *media, now time.Time, origin string) swonkie.Media {
	status := m.statusAt(now, s.opts.ProcessingDelay)
	v := swonkie.Media{ID: m.id, Name: m.name, Status: status, CreatedAt: swonkie.NewTime(m.createdAt)}
	if status != swonkie.MediaSuccess && status != swonkie.MediaError {
		return v
	}
	v.Type = m.sniffed
	v.Specs.FileSizeBytes = m.bytes
	v.Specs.Width, v.Specs.Height = m.info.Display()
	if v.Specs.Width == 0 && m.width != nil {
		v.Specs.Width = int(*m.width)
	}
	if v.Specs.Height == 0 && m.height != nil {
		v.Specs.Height = int(*m.height)
	}
	switch {
	case m.info.Kind == mediainfo.Video:
		d := m.info.Seconds()
		v.Specs.Duration = &d
	case isVideo(m.sniffed) && m.duration != nil:
		d := *m.duration
		v.Specs.Duration = &d
	}
	if status == swonkie.MediaSuccess {
		exp := now.Add(readURLLifetime)
		v.Path = s.signedURL(origin, permRead, m.id, "", exp)
		v.Preview = s.signedURL(origin, permRead, m.id, "preview", exp)
	}
	return v
}

func isImage(mime string) bool { return strings.HasPrefix(mime, "image/") }
func isVideo(mime string) bool { return strings.HasPrefix(mime, "video/") }
