package tasks

import (
	"strings"
	"testing"
)

func TestDecodeRequestRefusesDuplicateKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want string // "" means accepted
	}{
		{"one action", `{"media":[{"source":"a.jpg"}],"postId":"p1","action":"draft"}`, ""},
		{"action twice", `{"media":[{"source":"a.jpg"}],"postId":"p1","action":"publishNow","action":"draft"}`, `duplicate key "action"`},
		{"same field in another case", `{"media":[{"source":"a.jpg"}],"postId":"p1","action":"draft","Action":"publishNow"}`, `duplicate key "Action"`},
		{"nested in media", `{"media":[{"source":"a.jpg","source":"b.jpg"}],"postId":"p1"}`, `duplicate key "source" in media[0]`},
		{"nested in post", `{"media":[{"source":"a.jpg"}],"post":{"caption":"a","caption":"b","profileIds":["x"]}}`, `duplicate key "caption" in post`},
		{"same key in sibling objects", `{"media":[{"source":"a.jpg"},{"source":"b.jpg"}],"postId":"p1"}`, ""},
		{"malformed is still described by the decoder", `{"action":"draft",`, "malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := DecodeRequestBytes([]byte(tt.doc))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if len(req.Media) == 0 {
					t.Fatalf("decoded %+v: media lost", req)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted as %+v, want an error naming %s", req, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}
