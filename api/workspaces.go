package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/mediaflow/mediaflow/tasks"
)

// The workspaces routes: which workspaces the fleet serves and which are
// paused (and why), and pausing or resuming one by hand. A scoped token
// sees and steers its own workspaces only; another answers 404 like a
// name the fleet does not serve.

// WorkspaceList is GET /v1/workspaces's answer.
type WorkspaceList struct {
	Workspaces []tasks.WorkspaceStatus `json:"workspaces"`
}

// PauseRequest is the optional body of a pause: why, for whoever looks.
type PauseRequest struct {
	Why string `json:"why,omitempty"`
}

// listWorkspaces is GET /v1/workspaces.
func (h *Handler) listWorkspaces(w http.ResponseWriter, r *http.Request) {
	all, err := h.client.WorkspaceStatuses(r.Context())
	if err != nil {
		h.internal(w, r, "list workspaces", err)
		return
	}
	out := WorkspaceList{Workspaces: []tasks.WorkspaceStatus{}}
	s := scopeOf(r)
	for _, ws := range all {
		if s == nil || s.Allows(ws.Name) {
			out.Workspaces = append(out.Workspaces, ws)
		}
	}
	h.writeJSON(w, r, http.StatusOK, out)
}

// pauseWorkspace is POST /v1/workspaces/{name}/pause.
func (h *Handler) pauseWorkspace(w http.ResponseWriter, r *http.Request) {
	var body PauseRequest
	if r.ContentLength != 0 {
		raw, ok := h.readJSONBody(w, r)
		if !ok {
			return
		}
		if err := strictJSON(raw, &body); err != nil {
			writeProblem(w, r, Problem{Type: typeMalformed, Status: http.StatusBadRequest, Detail: err.Error()})
			return
		}
	}
	h.steerWorkspace(w, r, func(name string) (*tasks.WorkspaceStatus, error) {
		return h.client.PauseWorkspace(r.Context(), name, body.Why)
	})
}

// resumeWorkspace is POST /v1/workspaces/{name}/resume.
func (h *Handler) resumeWorkspace(w http.ResponseWriter, r *http.Request) {
	h.steerWorkspace(w, r, func(name string) (*tasks.WorkspaceStatus, error) {
		return h.client.ResumeWorkspace(r.Context(), name)
	})
}

func (h *Handler) steerWorkspace(w http.ResponseWriter, r *http.Request, do func(string) (*tasks.WorkspaceStatus, error)) {
	name := r.PathValue("name")
	var st *tasks.WorkspaceStatus
	err := fmt.Errorf("%w %q", tasks.ErrUnknownWorkspace, name)
	if s := scopeOf(r); s == nil || s.Allows(name) {
		st, err = do(name)
	}
	switch {
	case errors.Is(err, tasks.ErrUnknownWorkspace):
		writeProblem(w, r, Problem{Type: typeNotFound, Status: http.StatusNotFound,
			Detail: fmt.Sprintf("no workspace %q", name)})
	case err != nil:
		h.internal(w, r, "steer workspace", err)
	default:
		h.writeJSON(w, r, http.StatusOK, st)
	}
}

// strictJSON decodes a small body refusing unknown fields.
func strictJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("the body is not a pause request: %w", err)
	}
	if dec.More() {
		return errors.New("the body is not a pause request: data after the JSON object")
	}
	return nil
}
