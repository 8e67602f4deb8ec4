package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/mediaflow/mediaflow/swonkie"
)

// The docs leave several answer shapes open (swonkie-api.md §11). Each
// choice below is an Options field whose zero value is the least friendly
// shape the docs allow, so that a client tested against the default relies
// on nothing the real service does not promise. The other values exist so
// tests can run every shape a client must cope with, and Options.Lenient
// turns on the friendliest of each at once.

// MediaIDField says which fields of the POST /media answer carry the new
// media's id.
type MediaIDField string

const (
	// MediaIDFieldMediaID answers {"mediaId","uploadUrl"}: the Quick
	// Start's form, the default.
	MediaIDFieldMediaID MediaIDField = "mediaId"
	// MediaIDFieldID answers {"id","uploadUrl"}: what the 3rd-party
	// integration reads.
	MediaIDFieldID MediaIDField = "id"
	// MediaIDFieldAll answers mediaId, id and mediaLibId, one value.
	MediaIDFieldAll MediaIDField = "all"
)

// MediaIDFields lists the MediaIDField values.
var MediaIDFields = []MediaIDField{MediaIDFieldMediaID, MediaIDFieldID, MediaIDFieldAll}

// ListEntryShape says which fields a GET /posts entry carries; the docs
// name none.
type ListEntryShape string

const (
	// ListEntryMinimal is id, type, stage and publishAt: the head of the
	// documented post example and nothing more, the default. Anything else
	// must be read with GET /posts/{id}.
	ListEntryMinimal ListEntryShape = "minimal"
	// ListEntryDocumented adds profiles and medias, the rest of what the
	// docs show for a post.
	ListEntryDocumented ListEntryShape = "documented"
	// ListEntryFull is the whole post as GET /posts/{id} answers it.
	ListEntryFull ListEntryShape = "full"
)

// ListEntryShapes lists the ListEntryShape values.
var ListEntryShapes = []ListEntryShape{ListEntryMinimal, ListEntryDocumented, ListEntryFull}

// BriefingEcho says where answers carry a post's briefing, which the docs
// never show in any answer.
type BriefingEcho string

const (
	// BriefingNever leaves it out of every answer, the default.
	BriefingNever BriefingEcho = "never"
	// BriefingInPost puts it in single-post answers (POST /posts, PUT and
	// GET /posts/{id}) only.
	BriefingInPost BriefingEcho = "post"
	// BriefingEverywhere puts it in list entries too.
	BriefingEverywhere BriefingEcho = "everywhere"
)

// BriefingEchoes lists the BriefingEcho values.
var BriefingEchoes = []BriefingEcho{BriefingNever, BriefingInPost, BriefingEverywhere}

// LabelListShape says how GET /labels answers; the docs name neither its
// envelope nor any paging.
type LabelListShape string

const (
	// LabelListPaged pages labels as GET /posts pages posts: page (from
	// 1) and limit (default 20, 1 to 100) in the query, {"data":[…],
	// "meta":{page,limit,total,hasMore}} in the answer. The default: a
	// client that reads only the first answer misses labels.
	LabelListPaged LabelListShape = "paged"
	// LabelListWhole answers every label at once, {"data":[…]}, and
	// refuses paging parameters as unknown.
	LabelListWhole LabelListShape = "whole"
)

// LabelListShapes lists the LabelListShape values.
var LabelListShapes = []LabelListShape{LabelListPaged, LabelListWhole}

// StageRefusal is the status a stage action gets on a post whose stage
// does not allow it (a second schedule, publishNow on a post already
// going out): the docs name none (swonkie-api.md §4.4, "inferred 400 for
// validation/transition failures").
type StageRefusal int

const (
	// StageRefusalConflict answers 409, the default.
	StageRefusalConflict StageRefusal = http.StatusConflict
	// StageRefusalBadRequest answers 400, the same status as a post that
	// fails validation: "post is already PUBLISHED" cannot be told from an
	// invalid post by its status.
	StageRefusalBadRequest StageRefusal = http.StatusBadRequest
)

// StageRefusals lists the StageRefusal values.
var StageRefusals = []StageRefusal{StageRefusalConflict, StageRefusalBadRequest}

// shapes is the resolved set of answer shapes.
type shapes struct {
	mediaID        MediaIDField
	listEntry      ListEntryShape
	briefing       BriefingEcho
	stageRefusal   StageRefusal
	searchBriefing bool
	labelList      LabelListShape
	// lenient adds the fields the docs do not name (createdAt/updatedAt
	// of posts, profile names, label colours), the media view on confirm,
	// 200 {"success":true} on deletes and the stage on stage changes.
	lenient bool
}

func (o Options) shapes() (shapes, error) {
	sh := shapes{mediaID: o.MediaIDField, listEntry: o.ListEntries, briefing: o.Briefing, stageRefusal: o.StageRefusal,
		searchBriefing: o.SearchBriefing || o.Lenient, labelList: o.LabelList, lenient: o.Lenient}
	var errs []error
	if sh.mediaID == "" {
		sh.mediaID = MediaIDFieldMediaID
		if o.Lenient {
			sh.mediaID = MediaIDFieldAll
		}
	}
	if sh.listEntry == "" {
		sh.listEntry = ListEntryMinimal
		if o.Lenient {
			sh.listEntry = ListEntryFull
		}
	}
	if sh.briefing == "" {
		sh.briefing = BriefingNever
		if o.Lenient {
			sh.briefing = BriefingEverywhere
		}
	}
	if sh.labelList == "" {
		sh.labelList = LabelListPaged
		if o.Lenient {
			sh.labelList = LabelListWhole
		}
	}
	if !slices.Contains(LabelListShapes, sh.labelList) {
		errs = append(errs, fmt.Errorf("label list shape %q is not one of %v", sh.labelList, LabelListShapes))
	}
	if sh.stageRefusal == 0 {
		sh.stageRefusal = StageRefusalConflict
	}
	if !slices.Contains(StageRefusals, sh.stageRefusal) {
		errs = append(errs, fmt.Errorf("stage refusal %d is not one of %v", sh.stageRefusal, StageRefusals))
	}
	if !slices.Contains(MediaIDFields, sh.mediaID) {
		errs = append(errs, fmt.Errorf("media id field %q is not one of %v", sh.mediaID, MediaIDFields))
	}
	if !slices.Contains(ListEntryShapes, sh.listEntry) {
		errs = append(errs, fmt.Errorf("list entry shape %q is not one of %v", sh.listEntry, ListEntryShapes))
	}
	if !slices.Contains(BriefingEchoes, sh.briefing) {
		errs = append(errs, fmt.Errorf("briefing echo %q is not one of %v", sh.briefing, BriefingEchoes))
	}
	return sh, errors.Join(errs...)
}

// createdMediaWire is POST /media's answer; absent fields are left out,
// not sent empty, so a client reading the wrong one finds nothing.
type createdMediaWire struct {
	MediaID    string `json:"mediaId,omitempty"`
	ID         string `json:"id,omitempty"`
	MediaLibID string `json:"mediaLibId,omitempty"`
	UploadURL  string `json:"uploadUrl"`
}

func (sh shapes) createdMedia(id, uploadURL string) createdMediaWire {
	w := createdMediaWire{UploadURL: uploadURL}
	switch sh.mediaID {
	case MediaIDFieldID:
		w.ID = id
	case MediaIDFieldAll:
		w.MediaID, w.ID, w.MediaLibID = id, id, id
	default:
		w.MediaID = id
	}
	return w
}

// nullable writes null for a nil value where omitempty would drop the
// field: a field that is in the shape but unset.
type nullable[T any] struct{ v *T }

func (n nullable[T]) MarshalJSON() ([]byte, error) { return json.Marshal(n.v) }

func some[T any](v *T) *nullable[T] { return &nullable[T]{v: v} }

// deleted is the answer to a successful DELETE, which the docs do not
// show: 204 with no body, so a client that insists on a JSON body fails
// here first.
func (sh shapes) deleted() reply {
	if sh.lenient {
		return jsonReply(http.StatusOK, success{Success: true})
	}
	return reply{status: http.StatusNoContent}
}

// stageChanged is the answer to a stage action: {"success":true} as the
// reference page shows; the Quick Start's "stage" only when lenient.
func (sh shapes) stageChanged(stage swonkie.Stage) reply {
	if sh.lenient {
		return jsonReply(http.StatusOK, success{Success: true, Stage: stage})
	}
	return jsonReply(http.StatusOK, success{Success: true})
}

// label is a label as answers show it: the docs name only its id (and the
// name it was given); the colour is the web app's business.
func (sh shapes) label(l swonkie.Label) swonkie.Label {
	if !sh.lenient {
		l.Color = ""
	}
	return l
}
