// Package swonkie is a typed client for the Swonkie public API v2: media
// (create, upload, confirm, get, delete), posts, profiles and labels.
//
// Where the Swonkie documentation is silent or contradicts itself the client
// is tolerant: it reads a created media's id from "mediaId", then "id", then
// "mediaLibId"; it treats unknown media statuses as "not ready"; it takes any
// 2xx as success. Every failure is an *Error that says which endpoint
// template failed and whether retrying can help (IsTransient, IsPermanent,
// IsRateLimited, RetryAfter), except a 2xx the client cannot read
// (*UnusableAnswerError: the effect may have happened) and an upload URL
// it refuses (*UploadURLError). Errors never carry the API id or key, full
// URLs, ids in the endpoint, or upload signatures.
//
// The credentials never leave the base URL: redirects are refused, not
// followed, and a file goes only to an https upload URL (or one of the
// base URL's scheme) whose host is public, the base URL's own or allowed.
//
// The package knows nothing of queues, Redis or metrics; instrumentation
// wraps the *http.Client it is given, and Endpoint tells a RoundTripper which
// endpoint template a request belongs to. Every call and upload is an
// OpenTelemetry client span named by method and endpoint template (the
// API only: a program installs the SDK), with the budget's waits and 429s
// as events; no span carries a credential, an upload URL's query or an id
// in its name.
package swonkie
