package sandbox

import (
	"cmp"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
)

var stageActions = []swonkie.StageAction{
	swonkie.ActionPublishNow, swonkie.ActionSchedule, swonkie.ActionUnschedule,
	swonkie.ActionTeamReview, swonkie.ActionApprove, swonkie.ActionReject,
}

// reviewable are the stages teamReview may start from: anything not
// already in review, queued, out, or archived.
var reviewable = []swonkie.Stage{
	swonkie.StageIdea, swonkie.StageDraft, swonkie.StageTeamRevision, swonkie.StageTeamApproved,
	swonkie.StageClientRevision, swonkie.StageClientApproved,
}

// validationReply is GET /posts/{id}/validate's answer.
type validationReply struct {
	Valid  bool              `json:"valid"`
	Errors []swonkie.Problem `json:"errors"`
}

// validatePost runs the publish checks without side effects: 200 with
// valid true, or 400 with valid false and the problems.
func (s *Server) validatePost(x *exchange) reply {
	now := s.lock()
	defer s.mu.Unlock()
	p := s.livePost(x.params[0])
	if p == nil {
		return postNotFound()
	}
	if problems := s.validate(&p.content, now, true); len(problems) > 0 {
		return jsonReply(http.StatusBadRequest, validationReply{Valid: false, Errors: problems})
	}
	return jsonReply(http.StatusOK, validationReply{Valid: true, Errors: []swonkie.Problem{}})
}

// changeStage applies a stage action (§4.4). A stage that does not allow
// the action is a 409 (or 400: Options.StageRefusal); content that does not pass validation, or a
// publishAt that does not allow scheduling, a 400.
func (s *Server) changeStage(x *exchange) reply {
	if rep := requireNoBody(x.r); rep != nil {
		return *rep
	}
	action := swonkie.StageAction(x.params[1])
	if !contains(stageActions, action) {
		names := make([]string, len(stageActions))
		for i, a := range stageActions {
			names[i] = string(a)
		}
		return errorReply(http.StatusBadRequest, fmt.Sprintf("unknown stage action %q; known: %s", action, strings.Join(names, ", ")),
			swonkie.Problem{Field: "stage", Message: "unknown stage action"})
	}
	now := s.lock()
	defer s.mu.Unlock()
	p := s.livePost(x.params[0])
	if p == nil {
		return postNotFound()
	}
	conflict := func(why string) reply {
		return errorReply(int(s.sh.stageRefusal), fmt.Sprintf("cannot %s a post that %s", action, why))
	}
	valid := func() []swonkie.Problem { return s.validate(&p.content, now, true) }

	switch action {
	case swonkie.ActionSchedule:
		switch {
		case p.stage == swonkie.StageScheduled, p.stage == swonkie.StagePublished, p.stage == swonkie.StageArchive:
			return conflict("is " + string(p.stage))
		case p.content.publishAt.IsZero():
			return invalidPost([]swonkie.Problem{{Field: "publishAt", Message: "publishAt must be set before scheduling"}})
		case !p.content.publishAt.After(now):
			return invalidPost([]swonkie.Problem{{Field: "publishAt", Message: "publishAt must be in the future to schedule"}})
		}
		if problems := valid(); len(problems) > 0 {
			return invalidPost(problems)
		}
		p.stage, p.publishStatus, p.failReason = swonkie.StageScheduled, nil, ""
		s.enqueue(p, p.content.publishAt, false)
		s.planPartial(p, x)

	case swonkie.ActionPublishNow:
		switch {
		case p.publishNow:
			return conflict("is already being published")
		case p.stage == swonkie.StagePublished, p.stage == swonkie.StageArchive:
			return conflict("is " + string(p.stage))
		}
		if problems := valid(); len(problems) > 0 {
			return invalidPost(problems)
		}
		p.stage, p.failReason = swonkie.StageScheduled, ""
		p.publishStatus = map[string]string{}
		for _, id := range p.content.profileIDs {
			p.publishStatus[id] = swonkie.PublishPending
		}
		s.enqueue(p, now.Add(s.opts.PublishDelay), true)
		s.planPartial(p, x)

	case swonkie.ActionUnschedule:
		switch {
		case p.stage != swonkie.StageScheduled:
			return conflict("is " + string(p.stage) + ", not SCHEDULED")
		case p.publishNow:
			return conflict("is already being published")
		}
		s.dequeue(p)
		p.stage, p.publishStatus, p.failReason = swonkie.StageDraft, nil, ""

	case swonkie.ActionTeamReview:
		if !contains(reviewable, p.stage) {
			return conflict("is " + string(p.stage))
		}
		if problems := valid(); len(problems) > 0 {
			return invalidPost(problems)
		}
		p.stage = swonkie.StageTeamReview

	case swonkie.ActionApprove, swonkie.ActionReject:
		next := map[swonkie.Stage]swonkie.Stage{
			swonkie.StageTeamReview: swonkie.StageTeamApproved, swonkie.StageClientReview: swonkie.StageClientApproved}
		if action == swonkie.ActionReject {
			next = map[swonkie.Stage]swonkie.Stage{
				swonkie.StageTeamReview: swonkie.StageTeamRevision, swonkie.StageClientReview: swonkie.StageClientRevision}
		}
		to, ok := next[p.stage]
		if !ok {
			return conflict("is " + string(p.stage) + ", not in review")
		}
		p.stage = to
	}
	p.updatedAt = now
	return s.sh.stageChanged(p.stage)
}

// planPartial records the fault plan's partialPublish verdict for the
// publication just queued. The caller holds s.mu.
func (s *Server) planPartial(p *post, x *exchange) {
	p.failFirstProfile = x.partialPublish
	if x.partialPublish {
		s.noteFaultLocked("PATCH /posts/{id}/stage/{stage}", FaultPartialPublish)
	}
}

// enqueue queues p's publication at at (replacing any queued one).
func (s *Server) enqueue(p *post, at time.Time, publishNow bool) {
	p.dueAt, p.publishNow = at, publishNow
	s.queued[p] = struct{}{}
	s.wakeAt(at)
}

func (s *Server) dequeue(p *post) {
	p.dueAt, p.publishNow = time.Time{}, false
	delete(s.queued, p)
}

// publish carries out p's queued publication as of at. Media that are gone
// or not SUCCESS then fail it on every profile (the post stays SCHEDULED,
// its profiles ERROR): that is how a cleanup that ran too early shows. A
// profile whose connection is no longer OK fails alone.
func (s *Server) publish(p *post, at time.Time) {
	s.dequeue(p)
	p.updatedAt = at
	p.publishStatus = map[string]string{}
	if problems := s.mediaProblemsAt(&p.content, at); len(problems) > 0 {
		for _, id := range p.content.profileIDs {
			p.publishStatus[id] = swonkie.PublishError
		}
		p.failReason = problems[0]
		s.counts.publishFailed++
		return
	}
	published := 0
	for i, id := range p.content.profileIDs {
		if i == 0 && p.failFirstProfile {
			p.publishStatus[id] = swonkie.PublishError
			p.failReason = "profile " + id + " failed to publish (partialPublish fault)"
			continue
		}
		if prof := s.profileByID[id]; prof != nil && prof.StatusLevel == swonkie.StatusOK {
			p.publishStatus[id] = swonkie.PublishPublished
			published++
			continue
		}
		p.publishStatus[id] = swonkie.PublishError
	}
	if published == 0 {
		p.failReason = cmp.Or(p.failReason, "no profile of the post could publish")
		s.counts.publishFailed++
		return
	}
	p.stage, p.publishedAt = swonkie.StagePublished, at
	s.counts.published++
	if published < len(p.content.profileIDs) {
		s.counts.publishedPartly++
	}
}

// mediaProblemsAt lists every media p references that is gone or not
// SUCCESS at t.
func (s *Server) mediaProblemsAt(c *postContent, t time.Time) []string {
	var out []string
	for _, id := range referencedMedia(c) {
		m := s.media[id]
		switch {
		case m == nil || m.goneAt(t, s.opts.UnconfirmedTTL):
			out = append(out, "media "+id+" no longer exists")
		case m.statusAt(t, s.opts.ProcessingDelay) != swonkie.MediaSuccess:
			out = append(out, "media "+id+" is "+string(m.statusAt(t, s.opts.ProcessingDelay)))
		}
	}
	return out
}

// referencedMedia lists every media id the content points at, once.
func referencedMedia(c *postContent) []string {
	return swonkie.MediaReferences(c.medias, c.links, c.facebook)
}
