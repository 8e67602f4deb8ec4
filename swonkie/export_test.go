package swonkie

import (
	"context"
	"net/url"
)

// CheckUploadURL exposes the upload URL check, so its table test need not
// send files anywhere.
func (c *Client) CheckUploadURL(ctx context.Context, mediaID, raw string) (*url.URL, error) {
	return c.checkUploadURL(ctx, mediaID, raw)
}
