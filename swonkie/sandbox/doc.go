// Package sandbox is a strict, stateful, fault-injecting stand-in for the
// Swonkie public API v2 and its upload storage, for tests, benchmarks and
// demos. Where the Swonkie docs are silent it decides, and where the real
// service would plausibly refuse something it refuses it, so that a client
// that passes here is not relying on luck.
//
// Start serves one on httptest for a test; New gives the http.Handler for
// a real listener (cmd/swonkie-sandbox). Go methods (Stats, Media, Post,
// AllMedia, AllPosts, Profiles, Labels) and GET /_sandbox/stats show what
// happened; Advance and POST /_sandbox/clock/advance?by=16m move the
// clock. Every random choice follows Options.Seed.
//
// # Routes
//
// Under /v2, with X-API-ID and X-API-KEY: POST /media, GET|PATCH|DELETE
// /media/{id}, GET|POST /posts, GET|PUT|DELETE /posts/{id}, GET
// /posts/{id}/validate, PATCH /posts/{id}/stage/{action}, GET /profiles,
// GET|POST /labels. Uploads: PUT /blob/{id}?sv&sr&sp=w&se&sig (no
// credentials). Signed reads of a media's path and preview: GET
// /blob/{id}[/preview]?…&sp=r&…. Ids are path segments: an id's '/' must be
// escaped.
//
// # Decisions where the docs are silent
//
// Answers carry only what the docs show, and where the docs leave a
// shape open the default is the least friendly one they allow; Options
// MediaIDField, ListEntries, Briefing, SearchBriefing, LabelList and
// CallToActions pick the others,
// Lenient the friendliest of each (see shapes.go). By default: POST
// /media answers mediaId (not id or mediaLibId); posts carry no briefing,
// createdAt or updatedAt, and their profiles only id, net.code and, once
// publishing started, publishStatus; GET /posts entries carry id, type,
// stage and publishAt only; search looks in captions and first comments,
// not briefings; confirm answers {}; deletes answer 204 with no body;
// stage actions answer {"success":true}; labels carry no colour.
//
// Requests:
//   - Errors are {"statusCode":N,"message":"…","errors":[{"field","message"}]},
//     storage included (real Azure answers XML).
//   - Missing or wrong credentials: 401 (constant-time check). Unknown
//     routes: 404 whatever the credentials; known path, other method: 405.
//   - Bodies must be Content-Type application/json (415), one JSON value
//     (400), at most 1 MiB (413), with no unknown field at any depth (400,
//     NestJS forbidNonWhitelisted). Endpoints without a body take none or
//     {}. A null field is an absent field. GET /posts refuses unknown
//     query parameters the same way.
//
// Media:
//   - POST /media: name 1–255 characters, not blank; destinationType
//     required, POST_MEDIA only; width, height, fileSize positive
//     integers and duration a positive number when given; no MIME field.
//     201 with the id (see MediaIDField) and uploadUrl; the expiry is only
//     in the URL's se.
//   - Upload checks, in order: Swonkie credentials sent to storage 400
//     (and a Violation), signature 403, expiry (at the start of the
//     request) 403, x-ms-blob-type: BlockBlob 403, Content-Length 411 (no
//     chunked uploads), over 5000 MiB 413, media gone 404, media confirmed
//     409. A re-upload before confirm overwrites. 201 with an ETag. Bytes
//     are counted, SHA-256 hashed and sniffed, never kept.
//   - Uploads are read as processing would read them (mediainfo, forward
//     only, while hashing): format, displayed size, orientation, and a
//     video's duration and codec, with moov before or after mdat. The
//     content type is the probed format's, else the sniffed one.
//   - Status: UPLOADING until confirmed (uploaded or not), PROCESSING for
//     ProcessingDelay, then SUCCESS or ERROR, fixed at confirm: ERROR when
//     the sniffed type is neither image/* nor video/*, when the file
//     cannot be read as its format (an MP4 without moov, say), or when
//     the ErrorRate draw says so. ARCHIVED never happens.
//   - Declared specs (§3.2: they must agree with the file): a declared
//     fileSize must equal the bytes uploaded, width and height the
//     displayed size (after the file's rotation), duration the video's
//     within 0.1 s, and an image takes no duration. Only declared values
//     are checked. By default a confirm that would disagree is refused
//     with 400, one problem per field, and the media stays UPLOADING;
//     DeclaredMismatch MismatchFailsProcessing confirms it and ends
//     processing in ERROR instead.
//   - Confirm: 409 before any upload and when already confirmed; allowed
//     after the upload window if the bytes arrived in it. Its answer is {}
//     (Lenient: the media as PROCESSING, even with no processing delay).
//   - GET /media/{id}: type and specs once processing ended; path and
//     preview (signed read URLs, valid an hour) only on SUCCESS;
//     width/height the file's displayed size, else as declared; duration
//     the video's, for videos only; fileSizeBytes as counted.
//   - Media never confirmed are gone (404, counted as expired) after
//     UnconfirmedTTL; confirmed media never expire. Deleting a media that
//     posts use is allowed: they fail validation from then on, and fail
//     publication if it comes first.
//
// Posts:
//   - Create and update run the pre-save checks and answer 400 with
//     every problem: type known; profileIds non-empty, known, listed once;
//     MEDIA, STORY and REEL need a media; every mediaLibId (medias, links,
//     carousel cards) exists and is SUCCESS; REEL media are videos;
//     STATUS and LINK posts take no medias, only LINK posts take links,
//     and LINK needs one (an absolute http(s) URL up to 2000 characters);
//     STATUS needs a non-blank caption; net is null or one of facebook,
//     instagram, linkedin, tiktok, threads, youtube, gmb (swonkie.Networks);
//     at most one caption, media group and link per net (null counts as
//     one: which of two would a network publish?); Facebook carousels
//     only on MEDIA posts, at least 2 cards, each with a link, a title up
//     to 200 and a description up to 1000 characters, and a callToAction,
//     when given, from Options.CallToActions (default only NO_BUTTON, the
//     one value the docs show of that enum); labelIds exist; a briefing
//     up to 20000 characters. Option objects take only their documented
//     fields (an unknown one is refused like any unknown field);
//     instagram.shareToFeed is kept on any type (it only matters on
//     STORY, the docs say, not that it is refused elsewhere).
//   - Validate and the stage actions that publish or review add what
//     publishing checks (§4.9): every profile's statusLevel OK; captions
//     and first comments fit every targeted network's limit (facebook
//     63206, instagram 2200, linkedin 3000, tiktok 2200, threads 500,
//     youtube 5000, gmb 1500), except Instagram's on a STORY, whose
//     captions it ignores; only documented network rules are enforced
//     (instagram: MEDIA, STORY, REEL; tiktok: MEDIA and REEL, videos
//     only). An item (caption, media group, link) for one network
//     replaces the item for every network there; an item for a network
//     the post does not target is kept and checked against nothing. The docs name both a pre-save validation and a
//     validate; PostChecks PostChecksAtCreate runs these on create and
//     update too.
//   - publishAt may be in the past on a draft (schedule is what requires
//     the future) and cannot be cleared. IDEA without it, DRAFT with it.
//   - A post's answer always carries every array ([] when empty), null
//     publishAt when unset, network option objects only for networks it
//     targets, and profiles with publishStatus only once publishing
//     started.
//   - PUT: PUBLISHED posts and posts publishNow is pushing out refuse
//     (409); a SCHEDULED post moves with its publishAt, which must then
//     stay in the future.
//   - Stage actions: an unknown action is 400 (before looking up the
//     post), a stage that does not allow the action 409 (or 400, in the
//     StageRefusalBadRequest shape), a post that
//     fails validation or lacks a future publishAt 400. teamReview starts
//     from IDEA, DRAFT, TEAM_APPROVED, TEAM_REVISION, CLIENT_APPROVED,
//     CLIENT_REVISION. schedule is refused on SCHEDULED, PUBLISHED and
//     ARCHIVE posts; publishNow is refused while it already runs and on
//     PUBLISHED or ARCHIVE posts (it overrides a schedule). No action
//     reaches CLIENT_REVIEW or ARCHIVE: SetPostStage does, as the web app.
//   - Publishing: the post is SCHEDULED until it goes out. publishNow marks
//     every profile PENDING at once; a scheduled post gets publishStatus
//     when it goes out. Then: a referenced media gone or not SUCCESS makes
//     every profile ERROR and the post stays SCHEDULED (unschedule to edit,
//     or publishNow to try again); otherwise each profile still OK is
//     PUBLISHED, the others ERROR, and the post PUBLISHED if any profile
//     was. What a publication sees is the state at its due time, however
//     late someone looks.
//   - DELETE /posts/{id}: 204, 404 on repeat, 409 while
//     publishNow runs; scheduled and published posts may be deleted.
//   - Validate: 200 {"valid":true,"errors":[]} or 400 {"valid":false,
//     "errors":[{"field","message"}…]} with every problem of both kinds.
//   - GET /posts: search (case-insensitive, captions, first comments),
//     labelIds, profileIds (any of), stages (ARCHIVE only when
//     named), types, from and to (inclusive range on publishAt; posts
//     without one are out), page (from 1) and limit (default 20, 1 to 100);
//     lists comma-separated or repeated; unknown stage or type values
//     400; newest first; {"data":[…],"meta":{page,limit,total,hasMore}}.
//   - GET /profiles answers {"data":[…]}. GET /labels pages as GET /posts
//     does (page, limit, {"data":[…],"meta":{…}}), oldest first, and
//     refuses other query parameters; LabelList LabelListWhole answers
//     {"data":[…]} whole and refuses paging. Labels: name 1–50
//     characters, not blank, duplicates allowed; the colour is drawn from
//     eight.
//
// Ids are standard base64 of a readable prefix ("MediaId", "PostId",
// "ProfileId", "LabelId") and random bytes: every id ends in '=' and holds
// a '/', every other one a '+' too. Profile ids are ten seeded bytes, the
// same on every start. Media, post and label ids are six bytes drawn for
// each server (its Instance) and seven seeded ones: a server never hands
// out an id another server made, so a client that kept ids across a
// restart of its sandbox cannot mistake an old media or post for a new
// one (InstanceOf tells which server made an id).
//
// Faults (see FaultPlan): each kind is drawn on its own from (seed,
// endpoint, n, kind); a reset wins over a 5xx, which wins over a 429,
// which wins over a redirect, a lost reply and a bad body in that order,
// and latency adds to any of them; a partialPublish rides along with
// whatever the stage action does; a 5xx is
// one of 500, 502, 503, 504; faults strike before authentication and
// never touch /_sandbox or signed reads. Options.Latency applies to /v2
// only, not to uploads.
//
// Stats also give the busiest one-second window of /v2 calls on the
// sandbox clock, live posts per media set and per marker, live media, and
// the creates whose answer was lost or unusable.
//
// Stats count as orphaned every media the client did not delete (expired
// ones included) that no PUBLISHED post references, and as duplicates the
// live posts sharing type, captions, links, media set, profile set and
// publishAt.
package sandbox
