package swonkie

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"sync"
	"time"
)

// MediaStatus is the processing state of a media item.
type MediaStatus string

// Media statuses. The docs disagree on whether a media waiting for its
// upload is UPLOADING or PROCESSING; both mean "not ready".
const (
	MediaUploading  MediaStatus = "UPLOADING"
	MediaProcessing MediaStatus = "PROCESSING"
	MediaSuccess    MediaStatus = "SUCCESS"
	MediaError      MediaStatus = "ERROR"
	MediaArchived   MediaStatus = "ARCHIVED"
)

// Ready reports whether the media can be used in posts.
func (s MediaStatus) Ready() bool { return s == MediaSuccess }

// Failed reports whether the media will never become ready; any status not
// known here (one Swonkie adds later) counts as "still working".
func (s MediaStatus) Failed() bool { return s == MediaError || s == MediaArchived }

// DestinationPostMedia is the only destinationType seen in the wild: media
// meant to go into posts.
const DestinationPostMedia = "POST_MEDIA"

// CreateMediaRequest is the body of POST /media. Only Name and
// DestinationType are known to be needed; the rest are specs the docs ask
// to agree with the file when given (swonkie-api.md §3.2): Width and
// Height as displayed (after the file's rotation), Duration in seconds
// for videos, FileSize in bytes. Zero values are not sent.
type CreateMediaRequest struct {
	Name            string  `json:"name"`
	DestinationType string  `json:"destinationType"`
	Width           int     `json:"width,omitempty"`
	Height          int     `json:"height,omitempty"`
	Duration        float64 `json:"duration,omitempty"`
	FileSize        int64   `json:"fileSize,omitempty"`
}

// CreatedMedia is the answer to POST /media.
type CreatedMedia struct {
	// MediaID is the new media's id, also its mediaLibId in posts. The
	// client fills it from whichever of mediaId, id and mediaLibId the
	// server sent.
	MediaID    string `json:"mediaId"`
	ID         string `json:"id,omitempty"`
	MediaLibID string `json:"mediaLibId,omitempty"`
	// UploadURL is the presigned URL for the file. It is a credential for
	// about 15 minutes: keep it out of logs, errors and storage.
	UploadURL string `json:"uploadUrl"`
}

// Media is a media item of the workspace library (GET /media/{id}).
type Media struct {
	ID        string      `json:"id"`
	Name      string      `json:"name,omitempty"`
	Path      string      `json:"path,omitempty"`    // signed URL to the file
	Preview   string      `json:"preview,omitempty"` // signed URL to a thumbnail
	Type      string      `json:"type,omitempty"`    // MIME type
	Status    MediaStatus `json:"status"`
	Specs     MediaSpecs  `json:"specs"`
	CreatedAt *Time       `json:"createdAt,omitempty"`
}

// MediaSpecs are what processing found out about the file.
type MediaSpecs struct {
	Width         int      `json:"width,omitempty"`
	Height        int      `json:"height,omitempty"`
	Duration      *float64 `json:"duration"`
	FileSizeBytes int64    `json:"fileSizeBytes,omitempty"`
}

// CreateMedia creates a media entry and returns its id and upload URL.
// It is not idempotent: every call makes a new entry.
func (c *Client) CreateMedia(ctx context.Context, req CreateMediaRequest) (*CreatedMedia, error) {
	if req.DestinationType == "" {
		req.DestinationType = DestinationPostMedia
	}
	var out CreatedMedia
	status, err := c.do(ctx, call{method: http.MethodPost, endpoint: "/media", path: "/media", body: req}, &out)
	if err != nil {
		return nil, err
	}
	for _, id := range []string{out.MediaID, out.ID, out.MediaLibID} {
		if id != "" {
			out.MediaID = id
			break
		}
	}
	switch {
	case out.MediaID == "":
		return nil, &UnusableAnswerError{Op: "POST /media", Status: status, Reason: "no media id (mediaId, id or mediaLibId)"}
	case out.UploadURL == "":
		// The entry exists but cannot be filled; the caller knows its id
		// only from this error, so name it.
		return nil, &UnusableAnswerError{Op: "POST /media", Status: status, Reason: "no uploadUrl for media " + out.MediaID}
	}
	return &out, nil
}

// UploadEndpoint is the endpoint template of uploads in errors and metrics.
const UploadEndpoint = "{uploadUrl}"

// UploadMedia streams size bytes from body to a presigned upload URL. It
// sends Content-Length, Content-Type and x-ms-blob-type: BlockBlob (the URL
// points at Azure Blob Storage) and no Swonkie credentials. body is read
// once and never held in memory as a whole; the call is bounded by ctx,
// since large files take as long as they take, and by the client's
// UploadResponseTimeout once the last byte is sent. When ctx ends first
// and body is an io.Closer, body is closed: that is the only way to stop
// a Read that blocks, so pass a ReadCloser for sources that can stall.
//
// The URL is checked first (see UploadURLError); Upload does the same and
// names the media in the refusal.
func (c *Client) UploadMedia(ctx context.Context, uploadURL string, body io.Reader, size int64, contentType string) error {
	return c.upload(ctx, "", uploadURL, body, size, contentType)
}

// Upload is UploadMedia to the upload URL of m, naming m's id should the
// URL be refused.
func (c *Client) Upload(ctx context.Context, m *CreatedMedia, body io.Reader, size int64, contentType string) error {
	return c.upload(ctx, m.MediaID, m.UploadURL, body, size, contentType)
}

// errNoUploadAnswer is why an upload stopped when storage took the whole
// file and then said nothing.
var errNoUploadAnswer = errors.New("storage sent no answer after the upload")

func (c *Client) upload(parent context.Context, mediaID, uploadURL string, body io.Reader, size int64, contentType string) (err error) {
	const method = http.MethodPut
	u, err := c.checkUploadURL(parent, mediaID, uploadURL)
	if err != nil {
		return err
	}
	parent, span := c.startCall(parent, method, UploadEndpoint, u)
	status := 0
	defer func() { endCall(span, status, err) }()
	if size < 0 {
		return fmt.Errorf("swonkie %s %s: negative size: %w", method, UploadEndpoint, ErrInvalid)
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	ctx, cancel := context.WithCancelCause(context.WithValue(parent, endpointKey{}, UploadEndpoint))
	defer cancel(nil)
	if host := normalHost(u.Hostname()); !c.uploadHostAllowed(host) {
		ctx = context.WithValue(ctx, uploadHostKey{}, host)
	}
	// The answer deadline starts when the request is fully written, not
	// before: sending a large file may take as long as it takes.
	var (
		mu       sync.Mutex
		answered bool
		timer    *time.Timer
	)
	stopTimer := func() {
		mu.Lock()
		answered = true
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
	}
	defer stopTimer()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) {
			mu.Lock()
			defer mu.Unlock()
			if answered {
				return
			}
			if timer != nil {
				timer.Stop()
			}
			timer = time.AfterFunc(c.uploadResponseTimeout, func() { cancel(errNoUploadAnswer) })
		},
	})
	// net/http waits for the body writer to finish even after ctx ends, so
	// a body whose Read blocks (a stalled pipe or network source) would
	// hold the call forever. Closing it unblocks the Read.
	if c, ok := body.(io.Closer); ok {
		stop := context.AfterFunc(ctx, func() { _ = c.Close() })
		defer stop()
	}
	// http.NoBody for empty files: a nil-length non-nil body would make
	// net/http fall back to chunked encoding, which Azure refuses.
	var rc io.ReadCloser = http.NoBody
	if size > 0 {
		rc = io.NopCloser(io.LimitReader(body, size))
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rc)
	if err != nil {
		return fmt.Errorf("swonkie %s %s: build request: %w", method, UploadEndpoint, ErrInvalid)
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	req.Header.Set("User-Agent", c.userAgent)

	noAnswer := func(err error) error {
		var refused *UploadURLError
		if errors.As(err, &refused) {
			// The dialler refused an address: as permanent as a URL refused
			// before it.
			refused.MediaID = mediaID
			return refused
		}
		if cerr := parent.Err(); cerr != nil && !errors.Is(err, cerr) {
			// The body closed above may surface first ("read/write on
			// closed pipe"); the context is why the call stopped.
			err = fmt.Errorf("%w (%v)", cerr, unwrapURLError(err))
		} else if context.Cause(ctx) == errNoUploadAnswer {
			err = fmt.Errorf("%w within %s of its last byte", errNoUploadAnswer, c.uploadResponseTimeout)
		}
		return c.transportError(method, UploadEndpoint, err, uploadSecrets(uploadURL, u)...)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return noAnswer(err)
	}
	defer resp.Body.Close()
	status = resp.StatusCode
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	stopTimer()
	if err != nil && context.Cause(ctx) == errNoUploadAnswer {
		return noAnswer(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return c.statusError(method, UploadEndpoint, resp, raw, uploadSecrets(uploadURL, u)...)
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// uploadSecrets lists what of a presigned URL must not reach an error:
// the URL itself, its query and every query value long enough to be a
// signature or token (Azure's sig, S3's X-Amz-Signature, …), raw and
// escaped, longest first so the widest match is the one removed. Storage
// services and proxies do echo the URL they refused.
func uploadSecrets(raw string, u *url.URL) []string {
	out := []string{raw, u.String(), u.RawQuery}
	for _, vs := range u.Query() {
		for _, v := range vs {
			if len(v) >= 8 {
				out = append(out, v, url.QueryEscape(v))
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// ConfirmMedia declares the upload of a media finished (PATCH
// /media/{id}); processing starts. The answer's body is not documented;
// the media it describes is returned when there is one, else nil.
func (c *Client) ConfirmMedia(ctx context.Context, id string) (*Media, error) {
	const ep = "/media/{id}"
	if err := requireID(http.MethodPatch, ep, "media", id); err != nil {
		return nil, err
	}
	var out Media
	if _, err := c.do(ctx, call{method: http.MethodPatch, endpoint: ep, path: "/media/" + escape(id)}, &out); err != nil {
		return nil, err
	}
	if out.ID == "" && out.Status == "" {
		return nil, nil
	}
	return &out, nil
}

// GetMedia returns a media item with its processing status.
func (c *Client) GetMedia(ctx context.Context, id string) (*Media, error) {
	const ep = "/media/{id}"
	if err := requireID(http.MethodGet, ep, "media", id); err != nil {
		return nil, err
	}
	var out Media
	status, err := c.do(ctx, call{method: http.MethodGet, endpoint: ep, path: "/media/" + escape(id)}, &out)
	if err != nil {
		return nil, err
	}
	if out.Status == "" {
		return nil, &UnusableAnswerError{Op: "GET " + ep, Status: status, Reason: "no status"}
	}
	return &out, nil
}

// DeleteMedia deletes a media item permanently. A media that is already
// gone (404) counts as deleted: cleanup must be safe to repeat.
func (c *Client) DeleteMedia(ctx context.Context, id string) error {
	const ep = "/media/{id}"
	if err := requireID(http.MethodDelete, ep, "media", id); err != nil {
		return err
	}
	_, err := c.do(ctx, call{method: http.MethodDelete, endpoint: ep, path: "/media/" + escape(id)}, nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}
