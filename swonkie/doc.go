// Package swonkie is a typed client for the Swonkie public API v2: media
// (create, upload, confirm, get, delete), posts, profiles and labels.
//
// Where the Swonkie documentation is silent or contradicts itself the client
// is tolerant: it reads a created media's id from "mediaId", then "id", then
// "mediaLibId"; it treats unknown media statuses as "not ready"; it takes any
// 2xx as success. Every failure is an *Error that says which endpoint
// template failed and whether retrying can help (IsTransient, IsPermanent,
// IsRateLimited, RetryAfter). Errors never carry the API id or key, full
// URLs, ids in the endpoint, or upload signatures.
//
// The package knows nothing of queues, Redis or metrics; instrumentation
// wraps the *http.Client it is given, and Endpoint tells a RoundTripper which
// endpoint template a request belongs to.
package swonkie
