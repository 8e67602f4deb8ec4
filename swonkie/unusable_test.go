package swonkie_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mediaflow/mediaflow/swonkie"
)

func TestUnusableAnswers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		status int
		body   string
		call   func(*swonkie.Client) (string, error)
		// wantID is the id a usable answer gives; "" means unusable.
		wantID string
		op     string
	}{
		{"media id as id", 201, `{"id":"m1","uploadUrl":"https://x/u"}`, createMedia, "m1", "POST /media"},
		{"media id as mediaId", 200, `{"mediaId":"m2","uploadUrl":"https://x/u"}`, createMedia, "m2", "POST /media"},
		{"media id as mediaLibId", 201, `{"mediaLibId":"m3","uploadUrl":"https://x/u"}`, createMedia, "m3", "POST /media"},
		{"media without id", 201, `{"uploadUrl":"https://x/u"}`, createMedia, "", "POST /media"},
		{"media without url", 201, `{"mediaId":"m4"}`, createMedia, "", "POST /media"},
		{"media not JSON", 200, `<html>ok</html>`, createMedia, "", "POST /media"},
		{"media empty body", 201, ``, createMedia, "", "POST /media"},
		{"media JSON of another shape", 201, `[1,2]`, createMedia, "", "POST /media"},
		{"post without id", 200, `{"stage":"DRAFT"}`, createPost, "", "POST /posts"},
		{"post not JSON", 201, `created`, createPost, "", "POST /posts"},
		{"post with id", 201, `{"id":"p1"}`, createPost, "p1", "POST /posts"},
		{"label without id", 201, `{"name":"x"}`, createLabel, "", "POST /labels"},
		{"media status missing", 200, `{"id":"m"}`, getMedia, "", "GET /media/{id}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			t.Cleanup(ts.Close)
			id, err := tc.call(newClient(t, ts.URL))
			if tc.wantID != "" {
				if err != nil || id != tc.wantID {
					t.Fatalf("got %q, %v; want id %q", id, err, tc.wantID)
				}
				return
			}
			var ue *swonkie.UnusableAnswerError
			if !errors.As(err, &ue) || !swonkie.IsUnusableAnswer(err) {
				t.Fatalf("got %v, want an UnusableAnswerError", err)
			}
			if ue.Op != tc.op || ue.Status != tc.status || swonkie.StatusCode(err) != tc.status {
				t.Fatalf("got op %q status %d, want %q %d", ue.Op, ue.Status, tc.op, tc.status)
			}
			// Neither: a blind retry may repeat an effect, and waiting
			// does not make the answer readable.
			if swonkie.IsTransient(err) || swonkie.IsPermanent(err) {
				t.Fatalf("%v: transient=%v permanent=%v", err, swonkie.IsTransient(err), swonkie.IsPermanent(err))
			}
			assertClean(t, tc.name, err)
		})
	}
	if swonkie.IsUnusableAnswer(&swonkie.Error{StatusCode: 500}) || swonkie.IsUnusableAnswer(nil) {
		t.Fatal("IsUnusableAnswer says yes to other errors")
	}
}

func createMedia(c *swonkie.Client) (string, error) {
	m, err := c.CreateMedia(context.Background(), swonkie.CreateMediaRequest{Name: "a.png"})
	if err != nil {
		return "", err
	}
	return m.MediaID, nil
}

func createPost(c *swonkie.Client) (string, error) {
	p, err := c.CreatePost(context.Background(), swonkie.PostInput{})
	if err != nil {
		return "", err
	}
	return p.ID, nil
}

func createLabel(c *swonkie.Client) (string, error) {
	l, err := c.CreateLabel(context.Background(), "x")
	if err != nil {
		return "", err
	}
	return l.ID, nil
}

func getMedia(c *swonkie.Client) (string, error) {
	m, err := c.GetMedia(context.Background(), "m")
	if err != nil {
		return "", err
	}
	return m.ID, nil
}
