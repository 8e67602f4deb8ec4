package swonkie_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/testmedia"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

func TestMediaMethods(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sandbox.Options{ProcessingDelay: time.Hour})
	ctx := context.Background()
	data := testmedia.PNG(6, 5, 0)

	created, err := f.c.CreateMedia(ctx, swonkie.CreateMediaRequest{Name: "photo.png", Width: 6, Height: 5, FileSize: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	if created.MediaID == "" || created.UploadURL == "" {
		t.Fatalf("CreateMedia: %+v", created)
	}
	m, err := f.c.GetMedia(ctx, created.MediaID)
	if err != nil || m.ID != created.MediaID || m.Status != swonkie.MediaUploading || m.Status.Ready() || m.Status.Failed() {
		t.Fatalf("GetMedia before upload: %+v, %v", m, err)
	}

	if err := f.c.UploadMedia(ctx, created.UploadURL, bytes.NewReader(data), int64(len(data)), "image/png"); err != nil {
		t.Fatal(err)
	}
	info, _ := f.r.Server.Media(created.MediaID)
	sum := sha256.Sum256(data)
	if info.Bytes != int64(len(data)) || info.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("sandbox got %d bytes, hash %s", info.Bytes, info.SHA256)
	}
	if st := f.r.Server.Stats(); len(st.Violations) != 0 {
		t.Fatalf("the client's upload broke a rule: %+v", st.Violations)
	}

	// The docs show no confirm answer body: the status is read after.
	if _, err := f.c.ConfirmMedia(ctx, created.MediaID); err != nil {
		t.Fatalf("ConfirmMedia: %v", err)
	}
	if m, err := f.c.GetMedia(ctx, created.MediaID); err != nil || m.Status != swonkie.MediaProcessing {
		t.Fatalf("GetMedia after confirm: %+v, %v", m, err)
	}
	_, err = f.c.ConfirmMedia(ctx, created.MediaID)
	if !swonkie.IsConflict(err) || !swonkie.IsPermanent(err) {
		t.Fatalf("second confirm: %v", err)
	}
	f.r.Advance(t, 2*time.Hour)
	m, err = f.c.GetMedia(ctx, created.MediaID)
	if err != nil || !m.Status.Ready() || m.Type != "image/png" || m.Specs.Width != 6 || m.Specs.FileSizeBytes != int64(len(data)) || m.Path == "" {
		t.Fatalf("GetMedia after processing: %+v, %v", m, err)
	}

	if err := f.c.DeleteMedia(ctx, created.MediaID); err != nil {
		t.Fatal(err)
	}
	// Cleanup is safe to repeat: a 404 on delete counts as done.
	if err := f.c.DeleteMedia(ctx, created.MediaID); err != nil {
		t.Fatalf("second DeleteMedia: %v", err)
	}
	if err := f.c.DeleteMedia(ctx, "TWVkaWFJZA/never+seen="); err != nil {
		t.Fatalf("DeleteMedia of an unknown id: %v", err)
	}
	_, err = f.c.GetMedia(ctx, created.MediaID)
	if !swonkie.IsNotFound(err) || !swonkie.IsPermanent(err) || swonkie.IsTransient(err) {
		t.Fatalf("GetMedia after delete: %v", err)
	}
	if st := f.r.Server.Stats(); st.Requests["DELETE /media/{id}"][404] != 2 || st.Media.Deleted != 1 {
		t.Fatalf("sandbox saw %v", st.Requests)
	}

	// A file that is not an image ends in ERROR.
	bad, err := f.c.CreateMedia(ctx, swonkie.CreateMediaRequest{Name: "notes.txt"})
	if err != nil {
		t.Fatal(err)
	}
	text := "plain words"
	if err := f.c.UploadMedia(ctx, bad.UploadURL, strings.NewReader(text), int64(len(text)), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.ConfirmMedia(ctx, bad.MediaID); err != nil {
		t.Fatal(err)
	}
	f.r.Advance(t, 2*time.Hour)
	if m, err := f.c.GetMedia(ctx, bad.MediaID); err != nil || !m.Status.Failed() {
		t.Fatalf("text file: %+v, %v", m, err)
	}
}

func TestCreateMediaIsValidatedByTheServer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sandbox.Options{})
	_, err := f.c.CreateMedia(context.Background(), swonkie.CreateMediaRequest{Name: ""})
	var e *swonkie.Error
	if !swonkie.IsPermanent(err) || swonkie.StatusCode(err) != 400 || !asError(err, &e) || len(e.Problems) == 0 || e.Problems[0].Field != "name" {
		t.Fatalf("empty name: %v", err)
	}
	if e.Endpoint != "/media" || e.Method != "POST" {
		t.Fatalf("error names %s %s", e.Method, e.Endpoint)
	}
}

func TestUploadRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sandbox.Options{})
	ctx := context.Background()
	data := testmedia.PNG(2, 2, 0)
	m, err := f.c.CreateMedia(ctx, swonkie.CreateMediaRequest{Name: "a.png"})
	if err != nil {
		t.Fatal(err)
	}
	f.r.Advance(t, 16*time.Minute)
	err = f.c.UploadMedia(ctx, m.UploadURL, bytes.NewReader(data), int64(len(data)), "image/png")
	if swonkie.StatusCode(err) != 403 || !swonkie.IsPermanent(err) || !strings.Contains(err.Error(), "{uploadUrl}") {
		t.Fatalf("upload after expiry: %v", err)
	}
	// Bad arguments never reach the network.
	for _, u := range []string{"", "ftp://x/y", "/relative"} {
		if err := f.c.UploadMedia(ctx, u, bytes.NewReader(data), 1, ""); !swonkie.IsPermanent(err) {
			t.Errorf("upload to %q: %v", u, err)
		}
	}
	if err := f.c.UploadMedia(ctx, m.UploadURL, bytes.NewReader(data), -1, ""); !swonkie.IsPermanent(err) {
		t.Errorf("negative size: %v", err)
	}
}

func TestEmptyIDsAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sandbox.Options{})
	ctx := context.Background()
	calls := map[string]func() error{
		"GetMedia":     func() error { _, err := f.c.GetMedia(ctx, ""); return err },
		"ConfirmMedia": func() error { _, err := f.c.ConfirmMedia(ctx, " "); return err },
		"DeleteMedia":  func() error { return f.c.DeleteMedia(ctx, "") },
		"GetPost":      func() error { _, err := f.c.GetPost(ctx, ""); return err },
		"UpdatePost":   func() error { _, err := f.c.UpdatePost(ctx, "", swonkie.PostInput{}); return err },
		"DeletePost":   func() error { return f.c.DeletePost(ctx, "") },
		"ValidatePost": func() error { _, err := f.c.ValidatePost(ctx, ""); return err },
		"ChangeStage":  func() error { _, err := f.c.ChangeStage(ctx, "", swonkie.ActionSchedule); return err },
		"no action":    func() error { _, err := f.c.ChangeStage(ctx, "x", ""); return err },
		"CreateLabel":  func() error { _, err := f.c.CreateLabel(ctx, strings.Repeat("x", 51)); return err },
	}
	for name, call := range calls {
		if err := call(); !swonkie.IsPermanent(err) || swonkie.IsTransient(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n := len(f.r.Server.Stats().Requests); n != 0 {
		t.Fatalf("refused calls reached the server: %v", f.r.Server.Stats().Requests)
	}
}

func TestPostMethods(t *testing.T) {
	t.Parallel()
	// The lenient sandbox answers every field the client can parse
	// (createdAt, briefing): this test is about parsing them.
	f := newFixture(t, sandbox.Options{PublishDelay: time.Minute, Lenient: true})
	ctx := context.Background()
	fb := f.okProfile("facebook")
	m1, m2 := f.readyMedia(t), f.readyMedia(t)

	label, err := f.c.CreateLabel(ctx, "mediaflow")
	if err != nil {
		t.Fatal(err)
	}
	in := mediaPost(fb.ID, "hello", m1)
	in.LabelIDs = []string{label.ID}
	in.Briefing = &swonkie.Briefing{Markdown: "job-123"}
	p, err := f.c.CreatePost(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID == "" || p.Stage != swonkie.StageIdea || p.Type != swonkie.PostMedia || len(p.Profiles) != 1 ||
		p.Profiles[0].Net.Code != "facebook" || p.MediaLibIDs()[0] != m1 || p.CreatedAt == nil {
		t.Fatalf("CreatePost: %+v", p)
	}

	got, err := f.c.GetPost(ctx, p.ID)
	if err != nil || got.ID != p.ID || got.Briefing.Markdown != "job-123" || got.LabelIDs[0] != label.ID {
		t.Fatalf("GetPost: %+v, %v", got, err)
	}

	at := f.r.Server.Now().Add(2 * time.Hour).Truncate(time.Millisecond)
	up, err := f.c.UpdatePost(ctx, p.ID, swonkie.PostInput{PublishAt: swonkie.NewTime(at),
		Medias: []swonkie.MediaGroup{{MediaFiles: []swonkie.MediaFile{{MediaLibID: m2}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if up.Stage != swonkie.StageDraft || !up.PublishAt.Equal(at) || up.MediaLibIDs()[0] != m2 || up.Captions[0].PlainText != "hello" {
		t.Fatalf("UpdatePost: %+v", up)
	}

	v, err := f.c.ValidatePost(ctx, p.ID)
	if err != nil || !v.Valid || len(v.Errors) != 0 {
		t.Fatalf("ValidatePost of a valid post: %+v, %v", v, err)
	}

	sc, err := f.c.ChangeStage(ctx, p.ID, swonkie.ActionSchedule)
	if err != nil || !sc.Success || sc.Stage != swonkie.StageScheduled {
		t.Fatalf("ChangeStage schedule: %+v, %v", sc, err)
	}
	if _, err := f.c.ChangeStage(ctx, p.ID, swonkie.ActionSchedule); !swonkie.IsConflict(err) {
		t.Fatalf("scheduling twice: %v", err)
	}
	if _, err := f.c.ChangeStage(ctx, p.ID, "dance"); swonkie.StatusCode(err) != 400 {
		t.Fatalf("unknown action: %v", err)
	}
	f.r.Advance(t, 3*time.Hour)
	got, err = f.c.GetPost(ctx, p.ID)
	if err != nil || !got.PublishedEverywhere() {
		t.Fatalf("scheduled post after publishAt: %+v, %v", got, err)
	}

	// publishNow on a second post.
	q, err := f.c.CreatePost(ctx, mediaPost(fb.ID, "now", m1))
	if err != nil {
		t.Fatal(err)
	}
	if sc, err := f.c.ChangeStage(ctx, q.ID, swonkie.ActionPublishNow); err != nil || !sc.Success {
		t.Fatalf("publishNow: %+v, %v", sc, err)
	}
	if err := f.c.DeletePost(ctx, q.ID); !swonkie.IsConflict(err) {
		t.Fatalf("deleting a post being published: %v", err)
	}
	f.r.Advance(t, 2*time.Minute)
	if got, _ := f.c.GetPost(ctx, q.ID); !got.PublishedEverywhere() {
		t.Fatalf("publishNow post after PublishDelay: %+v", got)
	}

	// ValidatePost's other verdict: a post whose media went away.
	r, err := f.c.CreatePost(ctx, mediaPost(fb.ID, "doomed", m1))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.DeleteMedia(ctx, m1); err != nil {
		t.Fatal(err)
	}
	v, err = f.c.ValidatePost(ctx, r.ID)
	if err != nil || v.Valid || len(v.Errors) != 1 || !strings.Contains(v.Errors[0].Field, "mediaLibId") {
		t.Fatalf("ValidatePost of an invalid post: %+v, %v", v, err)
	}
	// CreatePost refuses the same content with the problems listed.
	_, err = f.c.CreatePost(ctx, mediaPost(fb.ID, "doomed", m1))
	var e *swonkie.Error
	if !asError(err, &e) || e.StatusCode != 400 || len(e.Problems) != 1 || !swonkie.IsPermanent(err) {
		t.Fatalf("CreatePost with a deleted media: %v", err)
	}

	if err := f.c.DeletePost(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.c.DeletePost(ctx, r.ID); err != nil {
		t.Fatalf("second DeletePost: %v", err)
	}
	if _, err := f.c.GetPost(ctx, r.ID); !swonkie.IsNotFound(err) {
		t.Fatalf("GetPost after delete: %v", err)
	}
	if _, err := f.c.UpdatePost(ctx, r.ID, swonkie.PostInput{}); !swonkie.IsNotFound(err) {
		t.Fatalf("UpdatePost after delete: %v", err)
	}
}

func TestListPostsMethod(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sandbox.Options{Lenient: true}) // search in briefings: a lenient server's answer
	ctx := context.Background()
	fb := f.okProfile("facebook")
	m := f.readyMedia(t)
	label, err := f.c.CreateLabel(ctx, "worker")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 12 {
		in := mediaPost(fb.ID, fmt.Sprintf("caption %d", i), m)
		if i%4 == 0 {
			in.LabelIDs = []string{label.ID}
			in.Briefing = &swonkie.Briefing{Markdown: fmt.Sprintf("mediaflow:job-%d", i)}
		}
		p, err := f.c.CreatePost(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	if err := f.r.Server.SetPostStage(ids[1], swonkie.StageArchive); err != nil {
		t.Fatal(err)
	}

	page, err := f.c.ListPosts(ctx, swonkie.ListPostsParams{Limit: 5})
	if err != nil || len(page.Posts) != 5 || page.Total != 11 || !page.More || page.Page != 1 || page.Posts[0].ID != ids[11] {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	seen := 0
	for n := 1; ; n++ {
		page, err := f.c.ListPosts(ctx, swonkie.ListPostsParams{Limit: 5, Page: n})
		if err != nil {
			t.Fatal(err)
		}
		seen += len(page.Posts)
		if !page.More {
			break
		}
	}
	if seen != 11 {
		t.Fatalf("paging saw %d posts, want 11 (ARCHIVE hidden)", seen)
	}

	byLabel, err := f.c.ListPosts(ctx, swonkie.ListPostsParams{LabelIDs: []string{label.ID}})
	if err != nil || len(byLabel.Posts) != 3 {
		t.Fatalf("label filter: %d posts, %v", len(byLabel.Posts), err)
	}
	bySearch, err := f.c.ListPosts(ctx, swonkie.ListPostsParams{Search: "MEDIAFLOW:JOB-8"})
	if err != nil || len(bySearch.Posts) != 1 || bySearch.Posts[0].ID != ids[8] {
		t.Fatalf("search filter: %+v, %v", bySearch, err)
	}
	archived, err := f.c.ListPosts(ctx, swonkie.ListPostsParams{Stages: []swonkie.Stage{swonkie.StageArchive}})
	if err != nil || len(archived.Posts) != 1 || archived.Posts[0].ID != ids[1] {
		t.Fatalf("stage filter: %+v, %v", archived, err)
	}
	all, err := f.c.ListPosts(ctx, swonkie.ListPostsParams{Stages: swonkie.AllStages, Types: []swonkie.PostType{swonkie.PostMedia},
		ProfileIDs: []string{fb.ID}, Limit: 100})
	if err != nil || len(all.Posts) != 12 {
		t.Fatalf("every stage: %d posts, %v", len(all.Posts), err)
	}
	from, to := swonkie.NewTime(time.Now().Add(-time.Hour)), swonkie.NewTime(time.Now().Add(time.Hour))
	if dated, err := f.c.ListPosts(ctx, swonkie.ListPostsParams{From: from, To: to}); err != nil || len(dated.Posts) != 0 {
		t.Fatalf("publishAt range over posts without publishAt: %+v, %v", dated, err)
	}
	if _, err := f.c.ListPosts(ctx, swonkie.ListPostsParams{Limit: 101}); swonkie.StatusCode(err) != 400 {
		t.Fatalf("limit 101: %v", err)
	}
}

func TestProfilesAndLabelsMethods(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sandbox.Options{Lenient: true}) // label colours: a lenient server's answer
	ctx := context.Background()
	profiles, err := f.c.ListProfiles(ctx)
	if err != nil || len(profiles) != 4 {
		t.Fatalf("ListProfiles: %+v, %v", profiles, err)
	}
	ok := 0
	for _, p := range profiles {
		if p.StatusLevel == swonkie.StatusOK {
			ok++
		}
	}
	if ok != 3 {
		t.Fatalf("%d OK profiles, want 3", ok)
	}
	labels, err := f.c.ListLabels(ctx)
	if err != nil || len(labels) != 0 {
		t.Fatalf("ListLabels of a new workspace: %+v, %v", labels, err)
	}
	l, err := f.c.CreateLabel(ctx, "summer campaign")
	if err != nil || l.ID == "" || l.Name != "summer campaign" || l.Color == "" {
		t.Fatalf("CreateLabel: %+v, %v", l, err)
	}
	if _, err := f.c.CreateLabel(ctx, ""); !swonkie.IsPermanent(err) {
		t.Fatalf("CreateLabel with no name: %v", err)
	}
	labels, err = f.c.ListLabels(ctx)
	if err != nil || len(labels) != 1 || labels[0] != *l {
		t.Fatalf("ListLabels: %+v, %v", labels, err)
	}
}

// TestIDsRoundTrip: ids with '/', '+' and '=' survive every method that
// puts one in a path or a query.
func TestIDsRoundTrip(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sandbox.Options{})
	ctx := context.Background()
	var slash, plus, pad bool
	fb := f.okProfile("facebook")
	for range 4 {
		id := f.readyMedia(t)
		slash = slash || strings.Contains(id, "/")
		plus = plus || strings.Contains(id, "+")
		pad = pad || strings.HasSuffix(id, "=")
		if m, err := f.c.GetMedia(ctx, id); err != nil || m.ID != id {
			t.Fatalf("GetMedia(%q): %+v, %v", id, m, err)
		}
		p, err := f.c.CreatePost(ctx, mediaPost(fb.ID, "ids", id))
		if err != nil {
			t.Fatal(err)
		}
		slash = slash || strings.Contains(p.ID, "/")
		plus = plus || strings.Contains(p.ID, "+")
		if got, err := f.c.GetPost(ctx, p.ID); err != nil || got.ID != p.ID {
			t.Fatalf("GetPost(%q): %v", p.ID, err)
		}
		if _, err := f.c.ValidatePost(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.c.ChangeStage(ctx, p.ID, swonkie.ActionTeamReview); err != nil {
			t.Fatal(err)
		}
		if page, err := f.c.ListPosts(ctx, swonkie.ListPostsParams{ProfileIDs: []string{fb.ID}, Limit: 100}); err != nil || len(page.Posts) == 0 {
			t.Fatalf("ListPosts by a profile id with %q: %v", fb.ID, err)
		}
		if err := f.c.DeletePost(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.c.DeleteMedia(ctx, id); err != nil {
			t.Fatal(err)
		}
		if info, _ := f.r.Server.Media(id); info.State != sandbox.StateDeleted {
			t.Fatalf("media %q not deleted: %s", id, info.State)
		}
	}
	if !slash || !plus || !pad {
		t.Fatalf("ids seen: '/' %v, '+' %v, '=' %v; the test needs all three", slash, plus, pad)
	}
	if n := f.r.Server.Stats().Requests["other"]; len(n) != 0 {
		t.Fatalf("requests the sandbox could not route: %v", n)
	}
}

// TestWorkspaceNamesCredentialsAndServer: one workspace per base URL and
// API id, spelled without either.
func TestWorkspaceNamesCredentialsAndServer(t *testing.T) {
	t.Parallel()
	a := newClient(t, "https://api.swonkie.dev/v2").Workspace()
	if b := newClient(t, "https://api.swonkie.dev/v2/").Workspace(); a != b {
		t.Fatalf("a trailing slash makes another workspace: %s, %s", a, b)
	}
	if b := newClient(t, "http://127.0.0.1:8090/v2").Workspace(); a == b {
		t.Fatal("two servers share a workspace name")
	}
	other := newClient(t, "https://api.swonkie.dev/v2", func(c *swonkie.Config) { c.APIID = "app-other" }).Workspace()
	if other == a {
		t.Fatal("two API ids share a workspace name")
	}
	if strings.Contains(a, apiID) || len(a) != 32 {
		t.Fatalf("workspace name %q", a)
	}
}
